"""What a hard case is, and its reference: the derivative in mpmath at the exact float64 point.

See ``tests/hard_cases.py`` for the suite. Most formulas are written once as ``F(m, x)`` and run
both as NumPy (``m = np``) and as mpmath (``m = MP``, :class:`MpNames`) for the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import mpmath
import numpy as np

__all__ = ["Case", "MP", "MpNames", "case", "reference", "twin"]

#: Working precision of the references, in decimal digits.
DPS = 60


class MpNames:
    """mpmath under NumPy's names, so that one formula serves both (``F(np, x)``, ``F(MP, x)``)."""

    def __init__(self) -> None:
        names = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arccosh": "acosh"}
        for name in ("sin", "cos", "tan", "exp", "log", "sqrt", "sinh", "cosh", "tanh", "log1p", "expm1"):
            names[name] = name
        for np_name, mp_name in names.items():
            setattr(self, np_name, getattr(mpmath, mp_name))

    def __getattr__(self, name: str) -> Any:
        if name == "pi":
            return +mpmath.pi
        raise AttributeError(f"MpNames has no {name!r}: add it to the table")


MP = MpNames()


@dataclass(frozen=True)
class Case:
    """One hard case.

    ``ref`` is the mpmath twin: a function of one mpf (``derivative``, ``directional``: of
    the point's coordinates) or of a list of mpf (``gradient``, ``hessian``: scalar;
    ``jacobian``: a list of outputs). ``truth`` is None where f has no derivative at x.
    ``analytic`` marks an f that accepts complex input and is analytic there (the
    complex step applies); ``v`` is the direction of a ``directional`` case.
    """

    name: str
    family: str
    front: str
    f: Callable[..., Any]
    x: Any
    ref: Callable[..., Any] | None
    options: dict[str, Any] = field(default_factory=dict)
    analytic: bool = True
    v: Any = None
    note: str = ""

    @property
    def exists(self) -> bool:
        return self.ref is not None

    @property
    def n(self) -> int:
        return int(self.options.get("n", 1))

    @cached_property
    def truth(self) -> np.ndarray | None:
        return reference(self)

    def call(self, module: Any, **mode: Any) -> Any:
        """``module.<front>(f, x, **options, **mode)`` (module: dfdx)."""
        front = getattr(module, self.front)
        args = (self.f, self.x, self.v) if self.front == "directional" else (self.f, self.x)
        return front(*args, **{**self.options, **mode})


def _mpf(x: Any) -> Any:
    return [mpmath.mpf(float(c)) for c in np.ravel(x)]


def reference(case: Case) -> np.ndarray | None:
    """The true derivative of `case` at its exact float64 point, correctly rounded to float64."""
    if case.ref is None:
        return None
    with mpmath.workdps(DPS):
        out = _REFERENCE[case.front](case)
    return np.asarray(out, dtype=np.float64)


def _h(xs: Sequence[Any]) -> Any:
    """mpmath.diff's step, relative to the point's largest coordinate (its default step is
    absolute, and vanishes against an x near 1e300)."""
    return mpmath.ldexp(1, -mpmath.mp.prec - 10) * max([mpmath.mpf(1)] + [abs(c) for c in xs])


def _scalar(case: Case) -> Any:
    vals = [mpmath.diff(case.ref, xi, case.n, h=_h([xi])) for xi in _mpf(case.x)]
    return np.reshape(np.array([float(v) for v in vals]), np.shape(case.x))


def _partial(g: Callable[..., Any], xs: Sequence[Any], orders: Sequence[int]) -> float:
    return float(mpmath.diff(lambda *a: g(list(a)), tuple(xs), tuple(orders), h=_h(xs)))


def _unit(n: int, *idx: int) -> list[int]:
    orders = [0] * n
    for i in idx:
        orders[i] += 1
    return orders


def _gradient(case: Case) -> Any:
    xs = _mpf(case.x)
    n = len(xs)
    g = np.array([_partial(case.ref, xs, _unit(n, i)) for i in range(n)])
    return g.reshape(np.shape(case.x))


def _jacobian(case: Case) -> Any:
    xs = _mpf(case.x)
    n, m = len(xs), len(case.ref(xs))
    rows = [[_partial(lambda a, k=k: case.ref(a)[k], xs, _unit(n, i)) for i in range(n)] for k in range(m)]
    return np.array(rows)


def _hessian(case: Case) -> Any:
    xs = _mpf(case.x)
    n = len(xs)
    h = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            h[i, j] = h[j, i] = _partial(case.ref, xs, _unit(n, i, j))
    return h


def _directional(case: Case) -> Any:
    xs, vs = _mpf(case.x), _mpf(case.v)
    g = lambda t: case.ref([a + t * b for a, b in zip(xs, vs, strict=True)])  # noqa: E731
    return float(mpmath.diff(g, 0, h=_h(xs) / max(abs(b) for b in vs)))


_REFERENCE: dict[str, Callable[[Case], Any]] = {
    "derivative": _scalar,
    "gradient": _gradient,
    "jacobian": _jacobian,
    "hessian": _hessian,
    "directional": _directional,
}


def twin(F: Callable[[Any, Any], Any]) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """A NumPy f and its mpmath twin from one formula ``F(module, x)``."""
    return (lambda x: F(np, x)), (lambda x: F(MP, x))


def case(name: str, family: str, front: str, F: Any, x: Any, **kw: Any) -> Case:
    """A case from one formula ``F(m, x)``; ``kw``: Case fields, the rest dfdx options."""
    f, ref = twin(F)
    fields = {k: kw.pop(k) for k in ("analytic", "v", "note") if k in kw}
    return Case(name, family, front, f, x, ref, options=kw, **fields)


def twin_values(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """f and its mpmath twin at the case's point (the twin at 30 digits), as float arrays."""
    x = np.asarray(case.x, dtype=float)
    with np.errstate(all="ignore"):
        got = np.asarray(case.f(x), dtype=float)
    with mpmath.workdps(30):
        if case.front == "derivative":
            ref = np.reshape([float(case.ref(mpmath.mpf(float(t)))) for t in x.ravel()], x.shape)
        else:
            ref = np.asarray(case.ref([mpmath.mpf(float(t)) for t in x]), dtype=float)
    return got, ref
