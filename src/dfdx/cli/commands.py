"""The subcommands of the command line, one function each: ``args -> exit code``.

They sit on the public API only; targets, points and output formats are in
:mod:`dfdx.cli.io`, the parser and the error handling in :mod:`dfdx.cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from .. import Store, _api, check_gradient
from .io import UsageError, format_table, load_target, parse_numbers, parse_point
from .output import Outcome, plain, result_fields

__all__ = [
    "seed_loss",
    "seed_loss_gradient",
    "positive_int",
    "differentiate",
    "check",
    "plot",
    "demo",
    "EXPRESSION",
]

EXPRESSION = "(2*w1 + 3*w2 - 5)**2 + (w1 - w2 - 1)**2"
_INSTALL_PLOT = "pip install 'dfdx[plot]'"


def seed_loss(w: np.ndarray) -> float:
    """The seed tutorial's loss ``L(w1, w2) = (2 w1 + 3 w2 - 5)^2 + (w1 - w2 - 1)^2``."""
    w1, w2 = w[0], w[1]
    return float((2 * w1 + 3 * w2 - 5) ** 2 + (w1 - w2 - 1) ** 2)


def seed_loss_gradient(w: np.ndarray) -> np.ndarray:
    """Its gradient by hand: ``(10 w1 + 10 w2 - 22, 10 w1 + 20 w2 - 28)``."""
    w1, w2 = w[0], w[1]
    return np.array([10 * w1 + 10 * w2 - 22, 10 * w1 + 20 * w2 - 28])


# -- options shared by the differentiating commands -------------------------------------


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The Python API's keyword arguments for the options the user gave (and only those)."""
    options: dict[str, Any] = {}
    for name in ("method", "accuracy", "rtol", "atol", "max_steps"):
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
    if getattr(args, "step", None) is not None:
        steps = parse_numbers(args.step, "--step")
        options["step"] = steps[0] if len(steps) == 1 else np.array(steps)
    for flag in ("adaptive", "progress"):
        if getattr(args, flag, False):
            options[flag] = True
    if getattr(args, "noise", None) is not None:
        options["noise"] = (
            "auto" if args.noise == "auto" else parse_numbers(args.noise, "--noise (a number or 'auto')")[0]
        )
    return options


@contextlib.contextmanager
def _workers(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """``--workers N``: a pool of N processes (f runs in parallel despite the GIL).

    Workers are started with 'spawn' on every platform: fresh interpreters that import
    the target, the same everywhere and safe in a process that already runs threads
    (where 'fork' can deadlock).
    """
    count = getattr(args, "workers", None)
    if count is None:
        yield {}
        return
    with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield {"workers": pool}


def positive_int(text: str) -> int:
    """argparse type of counts (``--workers``, ``--accuracy``, ``-n``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


# -- commands ----------------------------------------------------------------------------


def _keywords(args: argparse.Namespace, *targets: Any) -> dict[str, Any]:
    """``--kwargs JSON``: the keyword arguments of module:function targets."""
    if args.kwargs is None:
        return {}
    if any(t.expression is not None for t in targets):
        raise UsageError("--kwargs applies to module:function targets only; an expression takes none")
    try:
        kwargs = json.loads(args.kwargs)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--kwargs must be a JSON object such as '{{\"a\": 2}}': {exc}") from None
    if not isinstance(kwargs, dict):
        raise UsageError(f"--kwargs must be a JSON object such as '{{\"a\": 2}}', got {args.kwargs!r}")
    return {"kwargs": kwargs}


def _store(args: argparse.Namespace, target: Any) -> dict[str, Any]:
    """``--store FILE``: f's evaluations recorded there, an expression named by its text."""
    if args.store is None:
        return {}
    name = None if target.expression is None else f"dfdx expression {target.text}"
    return {"store": Store(args.store, name=name)}


def differentiate(args: argparse.Namespace) -> Outcome:
    kind = args.command
    point = parse_point(args.at)
    target = load_target(args.target, point, elementwise=kind == "derivative")
    options = _options(args) | _keywords(args, target) | _store(args, target)
    if kind == "derivative":
        options["n"] = args.n
    front_end = {
        "derivative": _api.derivative,
        "gradient": _api.gradient,
        "jacobian": _api.jacobian,
        "hessian": _api.hessian,
    }[kind]
    with _workers(args) as pool:
        if target.vectorizable and not pool and kind != "hessian":
            options["vectorized"] = True
        with np.errstate(all="ignore"):
            res = front_end(target.function, target.x, throw=False, **options, **pool)
    text = format_table(kind, target, point, res, n=args.n if kind == "derivative" else 1)
    data = result_fields(target.text, target.labels, target.x, res)
    return Outcome(1 if res.status.failed else 0, text, data)


def check(args: argparse.Namespace) -> Outcome:
    point = parse_point(args.at)
    f = load_target(args.function, point)
    grad = load_target(args.gradient, point, gradient_of=f)
    options = _options(args) | _keywords(args, f, grad) | _store(args, f)
    for name in ("mode", "directions", "seed"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    with _workers(args) as pool, np.errstate(all="ignore"):
        report = check_gradient(f.function, grad.function, f.x, **options, **pool)
    data = {
        "function": f.text,
        "gradient": grad.text,
        "variables": list(f.labels),
        "point": plain(f.x),
        "passed": bool(report.passed),
        "report": report.to_dict(),
    }
    return Outcome(0 if report.passed else 1, str(report), data)


def _figure() -> Any:
    """A matplotlib Figure without pyplot: no display, no global state."""
    from matplotlib.figure import Figure

    return Figure(figsize=(6.4, 5.2), layout="constrained")


def _plot_module() -> Any:
    """:mod:`dfdx.plot`, or a UsageError saying how to install matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(f"pictures need matplotlib: {_INSTALL_PLOT}") from None
    from .. import plot

    return plot


def _output_path(path: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".png", ".svg", ".pdf"):
        raise UsageError(f"`-o` must end in .png, .svg or .pdf (the format), got {path!r}")
    return path


def _contour(plot: Any, args: argparse.Namespace, point: Any, ax: Any, options: dict[str, Any]) -> Any:
    target = load_target(args.target, point)
    extent = parse_numbers(args.extent, "--extent") if args.extent else None
    if extent is not None and len(extent) != 4:
        raise UsageError("`--extent` takes four numbers: xmin,xmax,ymin,ymax")
    with np.errstate(all="ignore"):
        plot.contour(
            target.function,
            target.x,
            ax=ax,
            extent=extent,
            names=target.labels,
            field=args.field,
            descent=args.descent,
            levels=args.levels,
            **options,
        )
    return target


def _step_error(plot: Any, args: argparse.Namespace, point: Any, ax: Any, options: dict[str, Any]) -> Any:
    target = load_target(args.target, point, elementwise=len(point.values) == 1)
    if args.exact is not None:
        exact = parse_numbers(args.exact, "--exact")
        options["exact"] = exact[0] if len(exact) == 1 else np.array(exact)
    if args.methods is not None:
        options["methods"] = tuple(m.strip() for m in args.methods.split(","))
    with np.errstate(all="ignore"):
        plot.step_error(target.function, target.x, ax=ax, **options)
    return target


def plot(args: argparse.Namespace) -> Outcome:
    output = _output_path(args.output)
    plot = _plot_module()
    point = parse_point(args.at)
    fig = _figure()
    draw = _contour if args.picture == "contour" else _step_error
    target = draw(plot, args, point, fig.add_subplot(), _options(args))
    fig.savefig(output)
    text = f"{args.picture} of {target.text} at {point.describe()} written to {output}"
    return Outcome(0, text, {"picture": args.picture, "output": os.path.abspath(output)})


def _demo_picture(output: str) -> tuple[str, str | None]:
    """Draw the seed's contour with the gradient arrow: (sentence to print, path or None)."""
    try:
        plot = _plot_module()
    except UsageError as exc:
        return f"No picture: {exc}.", None
    fig = _figure()
    ax = fig.add_subplot()
    plot.contour(seed_loss, np.array([1.0, 1.0]), ax=ax, extent=(-1.0, 3.0, -1.0, 3.0), names=("w1", "w2"))
    fig.savefig(output)
    path = os.path.abspath(output)
    return f"The contour of L with the gradient arrow at (1, 1) is in {path}", path


def demo(args: argparse.Namespace) -> Outcome:
    output = _output_path(args.output)
    point = np.array([1.0, 1.0])
    res = _api.gradient(seed_loss, point)
    value, error = np.asarray(res.value), np.asarray(res.error)
    exact = seed_loss_gradient(point)
    difference = np.abs(value - exact)
    covered = bool(np.all(difference <= res.error))
    lines = [
        "The seed tutorial's loss L(w1, w2) = (2 w1 + 3 w2 - 5)^2 + (w1 - w2 - 1)^2 at (1, 1)",
        "",
        f"{'':12}{'dL/dw1':>24}{'dL/dw2':>24}",
        f"{'dfdx':12}{value[0]:>24.17g}{value[1]:>24.17g}",
        f"{'analytic':12}{exact[0]:>24.17g}{exact[1]:>24.17g}",
        f"{'difference':12}{difference[0]:>24.2e}{difference[1]:>24.2e}",
        f"{'error est.':12}{error[0]:>24.2e}{error[1]:>24.2e}",
        "",
        f"method {res.method}, accuracy {res.accuracy}, {res.nfev} evaluations of L, "
        f"status {res.status.name}; the error estimate {'covers' if covered else 'MISSES'} "
        "the true difference.",
        f"Euclidean norm of the difference: {np.linalg.norm(difference):.2e} "
        "(the tutorial's own central difference with h = 1e-5: 1.9e-11)",
    ]
    sentence, path = _demo_picture(output)
    data = {
        "result": {
            "value": value.tolist(),
            "analytic": exact.tolist(),
            "difference": difference.tolist(),
            "error": error.tolist(),
            "covered": covered,
        },
        "picture": path,
        "note": sentence,
    }
    return Outcome(0 if covered else 1, "\n".join([*lines, "", sentence]), data)
