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

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

import dfdx

from .hard_case_kit import MP, Case, MpNames, reference

__all__ = [
    "Case",
    "CASES",
    "FAMILIES",
    "TRUSTED",
    "TRUTH",
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

#: Statuses a user does not read past.
TRUSTED = frozenset({"SUCCESS", "ONE_SIDED"})
#: Statuses that raise by default (``throw=True``): the answer was refused.
FAILED = frozenset(status.name for status in dfdx.Status if status.failed)

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


def _dense(a: Any) -> Any:
    """A SciPy sparse result (a sparse Jacobian) as a dense array."""
    return a.toarray() if hasattr(a, "toarray") else a


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
    v = np.asarray(_dense(value), dtype=complex)
    e = np.asarray(_dense(error), dtype=float)
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
    """Whether `mode` can run `case`: the complex step needs an analytic f and gives first
    derivatives only (a Hessian by the complex step needs ``grad=``)."""
    if MODES[mode].get("method") != "complex":
        return True
    return case.analytic and case.n == 1 and case.front != "hessian"


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


#: Every hard case; its reference (``Case.truth``, None where f has no derivative) is computed here.
CASES: list[Case] = _build()
#: The references by case name (None where f has no derivative), computed once, here.
TRUTH: dict[str, np.ndarray | None] = {c.name: c.truth for c in CASES}
