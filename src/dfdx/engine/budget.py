"""Planning within ``max_evals``: the stencil that fits, the adaptive mode's steps and its refinement.

The fixed-step modes take the most accurate stencil of the method (the one asked for or
a lower order, down to a one-sided difference) whose points fit the budget. The adaptive
mode needs two steps of every column for an error estimate; it starts its sequence at a
step from which the levels the budget affords end near the best step of the
extrapolated order, and once the budget no longer pays for every running column,
refines those with the largest error estimates (:func:`affordable`, which the adaptive
driver consults before each level).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..evaluation.budget import Budget
from ..noise import POINTS as NOISE_POINTS
from ..numerics.stencils import Stencil, backward, central, complex_step, forward, make_stencil
from ..numerics.steps import relative_step

__all__ = ["cost", "fixed_stencil", "first_step", "affordable", "too_small"]


def _candidates(method: str, n: int, accuracy: int) -> list[Stencil]:
    """The stencils of `method` from `accuracy` down, most accurate first, then one-sided."""
    if method == "complex":
        return [complex_step(a) for a in range(accuracy, 1, -2)]
    if method == "central":
        found = [central(n, a) for a in range(accuracy, 1, -2)]
        return found + [forward(n, 1)]
    make = forward if method == "forward" else backward
    return [make(n, a) for a in range(accuracy, 0, -1)]


def cost(stencil: Stencil, columns: int, noise: float | str | None = None) -> int:
    """Evaluations beyond f(x) of `stencil` on `columns` columns (with ``noise=``: its probes too).

    The noise mode measures the derivative that drives the truncation error with one
    more central stencil per column, and ``noise='auto'`` first estimates the level
    (ECnoise, at most two tries).
    """
    per = stencil.nfev
    if noise is not None:
        per += central(stencil.n + stencil.accuracy, 2).nfev
    return columns * per + (2 * NOISE_POINTS if noise == "auto" else 0)


def fixed_stencil(
    method: str, n: int, accuracy: int, columns: int, available: int, noise: float | str | None = None
) -> Stencil | None:
    """The most accurate stencil whose :func:`cost` fits in `available`, or None."""
    for stencil in _candidates(method, n, accuracy):
        if cost(stencil, columns, noise) <= available:
            return stencil
    return None


def too_small(
    max_evals: int, method: str, n: int, columns: int, at_x: int, noise: float | str | None = None
) -> ValueError:
    """The error for a budget below the cheapest estimate, raised before anything is evaluated."""
    cheapest = min(
        _candidates(method, n, 1 if method in ("forward", "backward") else 2), key=lambda s: s.nfev
    )
    need = at_x + cost(cheapest, columns, noise)
    probes = " and the noise mode's probes" if noise is not None else ""
    return ValueError(
        f"max_evals={max_evals} is too small for any estimate: method={method!r} needs at least "
        f"{need} evaluations here ({'f(x) and ' if at_x else ''}{cheapest.nfev} per coordinate for "
        f"{columns} coordinate(s) or direction(s){probes}). Raise max_evals to {need} or more."
    )


def first_step(stencil: Stencil, columns: int, available: int, eps: float, default: float) -> float:
    """The adaptive mode's first step relative to ``max(1, |x|)``, for the levels the budget affords.

    L levels of every column extrapolate to order ``q = p + s (L - 1)`` (s = 2 for central
    quotients, 1 for one-sided): as a fixed stencil of order q at the last step. The
    sequence therefore starts ``2**(L - 1)`` times above the automatic step of that
    stencil (so that two levels give the default fixed-step estimate's accuracy), and
    never above `default`.
    """
    if stencil.is_complex:
        return default
    levels = max(2, available // (columns * stencil.nfev))  # every column gets them
    spacing = 2 if stencil.kind == "central" else 1
    order = stencil.accuracy + spacing * (levels - 1)
    if stencil.n + order > 24:
        return default
    last = relative_step(make_stencil(stencil.kind, stencil.n, order), eps)
    return min(default, 2.0 ** math.floor(math.log2(last) + levels - 1))


def affordable(
    budget: Budget,
    active: NDArray[Any],
    each: int,
    best: NDArray[Any],
    error: NDArray[Any],
    done: NDArray[Any],
) -> NDArray[Any]:
    """The columns of `active` the budget pays for next, those of largest relative error first.

    `each` is the most points one column's next level costs; `best`, `error` and `done`
    the adaptive run's estimates, their errors and the entries that stopped
    (``(ncols, *out)``). A column's error is its largest relative error among the
    entries still running (none yet: it goes first).
    """
    k = budget.afford(each, active.size)
    if k == active.size:
        return active
    budget.note("the adaptive refinement stopped early; the coordinates of largest error were refined")
    if k == 0:
        return active[:0]
    with np.errstate(all="ignore"):
        relative = np.where(done, 0.0, error / np.abs(best))
    score = np.nan_to_num(relative.reshape(len(relative), -1).max(axis=1), nan=np.inf)[active]
    order = np.argsort(-score, kind="stable")
    return np.sort(active[order[:k]])
