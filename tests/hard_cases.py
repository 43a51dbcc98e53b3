"""Hard cases for the trust contract: every front-end, with references in high precision.

Each :class:`Case` is a call a user could make (``front`` is the dfdx front-end, ``options``
what they would pass: ``bounds=``, ``step=``, ``vectorized=``, ``n=``) and the true answer
computed with mpmath at 60 digits at the exact float64 point. The references use an mpmath
twin of f: the same formula (written once for NumPy and mpmath, see :class:`MpNames`), or
for the noisy cases the smooth function the noise hides. A case whose f has no derivative
at x (a kink, a jump) has ``truth = None``: any trusted status there is a silent wrong.

The families are in ``tests/hard_case_families.py``; :data:`CASES` holds them all, built
once at import. :func:`classify` is the verdict on one result, shared by the benchmark
(``benchmarks/bench_hard.py``) and the tests (``tests/test_hard_cases.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import warnings

import mpmath
import numpy as np

__all__ = [
    "Case",
    "CASES",
    "FAMILIES",
    "TRUSTED",
    "FAILED",
    "MpNames",
    "MP",
    "MODES",
    "Outcome",
    "applies",
    "classify",
    "outcome",
    "reference",
]

#: Working precision of the references, in decimal digits.
DPS = 60
#: Statuses a user does not read past.
TRUSTED = frozenset({"SUCCESS", "ONE_SIDED"})
#: Statuses that raise by default (``throw=True``): the answer was refused.
FAILED = frozenset({"NOT_DIFFERENTIABLE", "NONFINITE"})

FAMILIES = (
    "large_tiny",
    "oscillation",
    "edges",
    "kinks",
    "cancellation",
    "noise",
    "user_steps",
    "higher",
    "scales",
)


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

    @property
    def truth(self) -> np.ndarray | None:
        return _TRUTH[self.name]

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


def classify(value: Any, error: Any, status: str | None, truth: Any, exists: bool = True) -> str:
    """The verdict on one result: ``covered``, ``silent``, ``weak_miss``, ``weak`` or ``refused``.

    - ``refused``: a status that raises by default (or ``status=None``: an exception);
    - on a case with no derivative: a trusted status is ``silent``, a weaker one ``weak_miss``;
    - ``covered``: ``|value - truth| <= error`` in every entry, with a finite error (an
      infinite bar covers nothing a user can use, so it is not counted as covered);
    - otherwise ``silent`` under a trusted status (SUCCESS, ONE_SIDED), ``weak_miss`` if some
      entry misses by more than 10 times its error, else ``weak`` (a miss within 10x).
    """
    if status is None or status in FAILED:
        return "refused"
    trusted = status in TRUSTED
    if not exists:
        return "silent" if trusted else "weak_miss"
    v = np.asarray(value, dtype=complex)
    e = np.asarray(error, dtype=float)
    t = np.asarray(truth, dtype=float)
    if v.shape != t.shape:
        return "silent" if trusted else "weak_miss"
    with np.errstate(all="ignore"):
        miss = np.abs(v - t)
        ok = np.isfinite(miss) & np.isfinite(e) & (miss <= e)
        if bool(np.all(ok)):
            return "covered"
        if trusted:
            return "silent"
        far = ~np.isfinite(miss) | (miss > 10 * e)
    return "weak_miss" if bool(np.any(far)) else "weak"


#: dfdx's modes as a user selects them.
MODES: dict[str, dict[str, Any]] = {
    "default": {},
    "central-2": {"accuracy": 2},
    "forward": {"method": "forward"},
    "backward": {"method": "backward"},
    "complex": {"method": "complex"},
    "adaptive": {"adaptive": True},
}


def applies(case: Case, mode: str) -> bool:
    """Whether `mode` can run `case`: the complex step needs an analytic f."""
    return case.analytic or MODES[mode].get("method") != "complex"


@dataclass(frozen=True)
class Outcome:
    verdict: str
    value: Any = None
    error: Any = None
    status: str | None = None
    step: Any = None
    message: str = ""


def outcome(case: Case, mode: str) -> Outcome:
    """Run `case` through dfdx in `mode` (``throw=False``) and classify the result."""
    import dfdx

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            r = case.call(dfdx, throw=False, **MODES[mode])
        except Exception as exc:  # a crash is a refusal, reported with its message
            return Outcome("refused", message=f"{type(exc).__name__}: {exc}")
    verdict = classify(r.value, r.error, r.status.name, case.truth, case.exists)
    return Outcome(verdict, r.value, r.error, r.status.name, r.step, r.message)


def _build() -> list[Case]:
    from .hard_case_families import all_cases

    cases = all_cases()
    names = [c.name for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"duplicate hard-case names: {sorted(dup)}")
    return cases


#: Every hard case, and its reference (None where f has no derivative), keyed by name.
CASES: list[Case] = _build()
_TRUTH: dict[str, np.ndarray | None] = {c.name: reference(c) for c in CASES}
