"""Input and output of the command line: targets, points, tables and JSON.

A *target* is either an arithmetic expression in named variables (compiled by
:mod:`dfdx.cli.expressions`, never ``eval``-ed) or ``module:function``, imported from the
current directory or ``sys.path``. A *point* is the text of ``--at``:
``w1=1,w2=pi/4`` (named) or ``1,2`` (positional).
"""

from __future__ import annotations

import importlib
import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .expressions import Expression, ExpressionError, compile_expression

__all__ = [
    "UsageError",
    "Point",
    "Target",
    "parse_point",
    "parse_numbers",
    "load_target",
    "format_table",
]

_MODULE_FUNCTION = re.compile(r"^\s*([A-Za-z_][\w.]*):([A-Za-z_][\w.]*)\s*$")


class UsageError(ValueError):
    """A mistake in the command line; the message is shown as one line, exit code 2."""


def parse_numbers(text: str, what: str) -> list[float]:
    """Comma-separated constants (``1, -2.5, pi/4``); `what` names the option in errors."""
    items = [item.strip() for item in text.strip().strip("[]()").split(",")]
    if not text.strip() or any(not item for item in items):
        raise UsageError(f"`{what}` needs comma-separated numbers, got {text!r}")
    return [_constant(item, what) for item in items]


def _constant(text: str, what: str) -> float:
    try:
        expr = compile_expression(text)
    except ExpressionError as exc:
        raise UsageError(f"in `{what}`: {exc}") from None
    if expr.variables or expr.size is not None:
        raise UsageError(f"in `{what}`: {text!r} is not a number")
    return float(expr())


@dataclass(frozen=True)
class Point:
    """The values of ``--at``; `names` is None when they were given positionally."""

    values: tuple[float, ...]
    names: tuple[str, ...] | None

    def describe(self) -> str:
        if self.names is None:
            return ", ".join(f"{v:g}" for v in self.values)
        return ", ".join(f"{n} = {v:g}" for n, v in zip(self.names, self.values, strict=True))


def parse_point(text: str) -> Point:
    """``w1=1,w2=2`` or ``1,2``; values may be constant expressions such as ``pi/4``."""
    items = [item.strip() for item in text.strip().strip("[]()").split(",")]
    if not text.strip() or any(not item for item in items):
        raise UsageError(f"`--at` needs values such as `w1=1,w2=2` or `1,2`, got {text!r}")
    named = ["=" in item for item in items]
    if not any(named):
        return Point(tuple(_constant(item, "--at") for item in items), None)
    if not all(named):
        hint = ""
        if named[0] and not any(named[1:]):  # x=1,2,3: several points of one variable
            alone = text.partition("=")[2]
            hint = f", or, for `derivative` at several points, give the values alone ({alone})"
        raise UsageError(
            f"`--at` mixes named and unnamed values in {text!r}; name them all (w1=1,w2=2){hint}"
        )
    names, values = [], []
    for item in items:
        name, _, value = (part.strip() for part in item.partition("="))
        if not name.isidentifier():
            raise UsageError(f"`--at`: {name!r} is not a variable name")
        if name in names:
            raise UsageError(f"`--at` gives {name} twice")
        names.append(name)
        values.append(_constant(value, f"--at {name}="))
    return Point(tuple(values), tuple(names))


@dataclass(frozen=True)
class Target:
    """A function to differentiate, with the point and the labels of its coordinates."""

    text: str
    function: Callable[[Any], Any]
    x: Any
    labels: tuple[str, ...]
    expression: Expression | None

    @property
    def vectorizable(self) -> bool:
        """Expressions evaluate a whole batch of points in one call."""
        return self.expression is not None


def load_target(
    text: str, point: Point, *, elementwise: bool = False, gradient_of: Target | None = None
) -> Target:
    """Resolve TARGET at `point`.

    `elementwise`: x is the array of values (derivative). `gradient_of`: TARGET is the
    gradient of that function (``dfdx check``): an expression may then be constant
    (``3``) or leave out some of the point's variables (``2*x, 1``), and returns an
    array of one entry per variable.
    """
    text = text.strip()
    match = _MODULE_FUNCTION.match(text)
    if match:
        function = _import(match.group(1), match.group(2))
        values = np.array(point.values)
        x = values[0] if len(values) == 1 and elementwise else values
        if point.names is not None and not elementwise:
            labels = point.names
        elif x.ndim == 0:
            labels = ("x",)
        else:
            labels = tuple(f"x[{i}]" for i in range(x.size))
        return Target(text, function, x, labels, None)
    try:
        expr = compile_expression(text)
    except ExpressionError as exc:
        raise UsageError(f"in the expression: {exc}") from None
    if gradient_of is not None:
        return _gradient(text, expr, point, gradient_of)
    if not expr.variables:
        raise UsageError(f"the expression {text!r} has no variables; nothing to differentiate")
    if elementwise:
        return _elementwise(text, expr, point)
    names = _names(expr, point)
    return Target(text, expr.function(names), np.array(point.values), names, expr)


@dataclass(frozen=True)
class _Vector:
    """A gradient expression as a function returning one entry per variable (it pickles)."""

    function: Callable[[Any], Any]

    def __call__(self, x: Any) -> Any:
        return np.reshape(np.asarray(self.function(x), dtype=np.float64), (-1,))


def _gradient(text: str, expr: Expression, point: Point, f: Target) -> Target:
    names = f.labels if point.names is None else point.names
    unknown = [v for v in expr.variables if v not in names]
    if unknown:
        raise UsageError(f"the gradient uses {', '.join(unknown)}, which `--at` does not give")
    size = 1 if expr.size is None else expr.size
    if size != len(names):
        raise UsageError(
            f"the gradient {text!r} has {size} component{'s' * (size != 1)}, but the function "
            f"has {len(names)} variable{'s' * (len(names) != 1)} ({', '.join(names)}); "
            "give one comma-separated expression per variable"
        )
    return Target(text, _Vector(expr.function(names)), np.array(point.values), names, expr)


def _elementwise(text: str, expr: Expression, point: Point) -> Target:
    if len(expr.variables) != 1 or expr.size is not None:
        raise UsageError(
            f"`derivative` needs a scalar expression in one variable; {text!r} has "
            f"{len(expr.variables)} ({', '.join(expr.variables)}). Use `dfdx gradient` or `dfdx jacobian`."
        )
    (name,) = expr.variables
    if point.names is not None and point.names != (name,):
        raise UsageError(f"`--at` names {', '.join(point.names)}, but the expression's variable is {name}")
    values = np.array(point.values)
    x = values[0] if len(values) == 1 else values
    return Target(text, expr.function(elementwise=True), x, (name,), expr)


def _names(expr: Expression, point: Point) -> tuple[str, ...]:
    variables = expr.variables
    if point.names is None:
        if len(variables) == 1 and len(point.values) == 1:
            return variables
        example = ",".join(f"{v}=1" for v in variables)
        raise UsageError(
            f"name the values of `--at` for the expression's variables {', '.join(variables)}, "
            f"e.g. --at {example}"
        )
    extra = [n for n in point.names if n not in variables]
    missing = [v for v in variables if v not in point.names]
    if missing:
        raise UsageError(f"`--at` gives no value for {', '.join(missing)}")
    if extra:
        raise UsageError(
            f"`--at` names {', '.join(extra)}, which the expression does not use "
            f"(its variables: {', '.join(variables)})"
        )
    return point.names


def _import(module_name: str, qualname: str) -> Callable[[Any], Any]:
    # The current directory comes first, as for `python -m`.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"cannot import `{module_name}` ({exc}); run dfdx from the directory that holds "
            f"{module_name.split('.')[0]}.py, or add that directory to PYTHONPATH"
        ) from None
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"`{module_name}` has no attribute `{qualname}`")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"`{module_name}:{qualname}` is not a function (it is a {type(obj).__name__})")
    return obj  # type: ignore[no-any-return]


def _pm(value: float, error: float) -> str:
    """``value ± error`` with the digits the error vouches for, and two more."""
    if not math.isfinite(value):
        return str(value)
    if not math.isfinite(error) or error <= 0:
        return f"{value:.17g} ± {error:.1g}"
    digits = int(np.clip(np.floor(np.log10(max(abs(value), 1e-300) / error)) + 2, 1, 17))
    # '#' keeps the trailing zeros the error vouches for: -2.000000000000, not -2.
    return f"{value: {'#' if digits > 1 else ''}.{digits}g} ± {error:.1e}"


def entry_labels(kind: str, target: Target, shape: tuple[int, ...], n: int = 1) -> list[str]:
    """One label per entry of the result, in C order."""
    labels = target.labels
    if kind == "derivative":
        order = "" if n == 1 else f"^{n}"
        name = labels[0]
        values = np.atleast_1d(target.x)
        return [f"d{order}f/d{name}{order} at {name} = {v:g}" for v in values]
    if kind == "gradient":
        return [f"df/d{name}" for name in labels]
    if kind == "hessian":
        return [f"d2f/d{a} d{b}" for a in labels for b in labels]
    m = int(np.prod(shape)) // max(1, len(labels))
    outputs = ["f"] if len(shape) == np.ndim(target.x) else [f"f{i}" for i in range(m)]
    return [f"d{o}/d{name}" for o in outputs for name in labels]


def format_table(kind: str, target: Target, point: Point, res: Any, n: int = 1) -> str:
    """The human-readable report of one result."""
    value = np.asarray(res.value, dtype=float)
    error = np.broadcast_to(np.asarray(res.error, dtype=float), value.shape)
    labels = entry_labels(kind, target, value.shape, n)
    width = max(len(label) for label in labels)
    lines = [f"{kind} of {target.text} at {point.describe()}", ""]
    if target.expression is not None and target.expression.size is not None:
        parts = [p.strip() for p in target.text.split(",")]
        if len(parts) == target.expression.size:
            lines[2:2] = [f"  f{i} = {p}" for i, p in enumerate(parts)] + [""]
    for label, v, e in zip(labels, value.ravel(), error.ravel(), strict=True):
        lines.append(f"  {label.ljust(width)}  {_pm(float(v), float(e))}")
    noise = "" if res.noise is None else f", noise level {res.noise:.2g}"
    lines += [
        "",
        f"method {res.method}, accuracy {res.accuracy}{noise}, {res.nfev} evaluations of f; "
        f"status {res.status.name}: {res.message}",
    ]
    return "\n".join(lines)
