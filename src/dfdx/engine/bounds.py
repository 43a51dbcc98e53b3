"""Bounds and domain holes: which stencil, at which step, for each column.

A box ``lower <= x <= upper`` leaves each column room ``minus`` behind and ``plus``
ahead of x (in units of the column's step parameter: the coordinate for axes and
elements, ``t`` for directions ``x + t d``). :func:`plan` splits the columns into
groups, each with one stencil of the requested accuracy -- the requested one where it
fits, otherwise the central, forward or backward stencil that fits with the largest
step -- and steps that keep every point in the box. The plan is pure; any estimator
like :func:`~dfdx.engine.fixed.fixed_step` then runs per group (:func:`run_planned`).

Domain holes are found after the fact: where f is NaN or inf at a stencil point but
the column has a one-sided stencil that fits, that column is redone one-sided (at
shrinking steps if need be) and its entries are marked one-sided.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..evaluation.evaluator import Evaluator
from ..numerics.stencils import Stencil, backward, forward
from ..numerics.steps import near_the_edge, power_of_two_below
from .fixed import UNDECIDED, Estimate, fixed_step
from .layouts import Layout

__all__ = ["Group", "rooms", "plan", "longest_step", "run_planned", "SHRINK_LIMIT"]

Array = NDArray[Any]
Estimator = Callable[[Evaluator, Layout, Stencil, Array, float], Estimate]

#: A bound may shrink a step by at most this factor before it is called too tight:
#: beyond it rounding error would swamp the derivative.
SHRINK_LIMIT = 2.0**-10

#: Steps tried, relative to the planned one, when f is not finite at stencil points.
HOLE_SCALES = (1.0, 2.0**-4, 2.0**-8, 2.0**-12, 2.0**-16, 2.0**-20)


@dataclass(frozen=True)
class Group:
    """Columns (``index``) sharing one `stencil`, each with its own step."""

    index: NDArray[np.intp]
    stencil: Stencil
    steps: NDArray[np.float64]
    one_sided: bool


def rooms(layout: Layout, lower: Array, upper: Array) -> tuple[Array, Array]:
    """Room behind (``minus``) and ahead (``plus``) of x for every unit, never negative.

    A few ulps are kept back so that rounding ``x + o h`` cannot step over a bound.
    """
    x = layout.x.ravel().astype(np.float64)
    lo, hi = np.asarray(lower, dtype=np.float64).ravel(), np.asarray(upper, dtype=np.float64).ravel()
    tiny = 4 * np.finfo(np.float64).eps
    with np.errstate(invalid="ignore"):
        below = np.maximum(0.0, (x - lo) - tiny * np.maximum(np.abs(x), np.abs(lo)))
        above = np.maximum(0.0, (hi - x) - tiny * np.maximum(np.abs(x), np.abs(hi)))
    below = np.where(np.isinf(lo), np.inf, below)
    above = np.where(np.isinf(hi), np.inf, above)
    return layout.rooms(below, above)


def _candidates(stencil: Stencil) -> list[Stencil]:
    """The requested stencil first, then the alternatives of the same order."""
    n, p = stencil.n, stencil.accuracy
    if stencil.kind == "central":
        return [stencil, forward(n, p), backward(n, p)]
    if stencil.kind == "forward":
        return [stencil, backward(n, p)]
    if stencil.kind == "backward":
        return [stencil, forward(n, p)]
    return [stencil]


def _fit(stencil: Stencil, h: Array, minus: Array, plus: Array) -> Array:
    """Largest step up to `h` at which `stencil` stays within the rooms."""
    ahead = max(0.0, float(stencil.offsets.max()))
    behind = max(0.0, float(-stencil.offsets.min()))
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.asarray(h, dtype=np.float64).copy()
        if ahead:
            step = np.minimum(step, plus / ahead)
        if behind:
            step = np.minimum(step, minus / behind)
    return np.asarray(step, dtype=np.float64)


def longest_step(stencil: Stencil, minus: Array, plus: Array) -> Array:
    """Longest step at which `stencil` or one of its alternatives fits the rooms."""
    unbounded = np.full(np.shape(minus), np.inf)
    return np.asarray(np.max([_fit(s, unbounded, minus, plus) for s in _candidates(stencil)], axis=0))


def plan(
    minus: Array, plus: Array, stencil: Stencil, h: Array, *, shrink_limit: float = SHRINK_LIMIT
) -> list[Group]:
    """Split units into groups whose stencils and steps stay within the rooms.

    Each unit keeps the requested stencil at its step `h` if it fits; otherwise it
    takes whichever candidate (the requested one at a smaller step, or a one-sided
    stencil of the same accuracy) fits with the largest step, the requested one on
    ties. Shrunk steps are rounded down to powers of two.

    Raises
    ------
    ValueError
        If the box is too tight: the best step is below ``shrink_limit * h``.

    Examples
    --------
    >>> import numpy as np
    >>> from dfdx.stencils import central
    >>> groups = plan(np.array([np.inf, 0.0]), np.array([np.inf, np.inf]), central(1, 2),
    ...               np.array([1e-5, 1e-5]))
    >>> [(g.stencil.kind, g.index.tolist()) for g in groups]
    [('central', [0]), ('forward', [1])]
    """
    h = np.asarray(h, dtype=np.float64).ravel()
    every = np.arange(h.size)
    if stencil.is_complex or (np.all(np.isinf(minus)) and np.all(np.isinf(plus))):
        return [Group(every, stencil, h, False)]
    candidates = _candidates(stencil)
    fits = np.stack([_fit(s, h, minus, plus) for s in candidates])
    choice = np.where(fits[0] >= h, 0, np.argmax(fits, axis=0))
    step = fits[choice, every]
    step = np.where(step >= h, h, power_of_two_below(step))
    tight = step < shrink_limit * h
    if tight.any():
        k = int(np.argmax(tight))
        raise ValueError(
            f"`bounds` are too tight: along column {k} the box leaves room for a step of at most "
            f"{float(fits[:, k].max()):.3g}, but the stencil needs a step near {float(h[k]):.3g} "
            f"(at least {shrink_limit * float(h[k]):.3g}). Widen the bounds or pass a smaller `step`."
        )
    step = near_the_edge(candidates, choice, step, minus, plus)
    return [
        Group(every[choice == c], candidates[c], step[choice == c], c != 0)
        for c in range(len(candidates))
        if np.any(choice == c)
    ]


def _rows(layout: Layout, index: Array) -> Array:
    """Rows of a part's per-unit view that hold the units `index`.

    An elementwise part spans all of x (rows are elements); other parts hold only
    their own columns, in order.
    """
    return np.asarray(index) if layout.one_column else np.arange(len(index))


def _view(layout: Layout, a: Array) -> Array:
    """View of an estimate array with one row per unit (column, or element of x)."""
    return a.reshape(-1, 1) if layout.one_column else a.reshape(a.shape[0], -1)


def _steps_for(layout: Layout, full: Array, index: Array, steps: Array) -> Array:
    """Steps in the engine's shape for the units `index` of `layout`."""
    if layout.one_column:
        h = np.array(full, dtype=np.float64).ravel()
        h[index] = steps
        return h.reshape(1, -1)
    return np.asarray(steps, dtype=np.float64)


def _empty(layout: Layout, ev: Evaluator) -> Estimate:
    shape = (layout.ncols, *ev.out_shape)
    return Estimate(
        value=np.full(shape, np.nan),
        error=np.full(shape, np.inf),
        nonfinite=np.zeros(shape, dtype=bool),
        modelled=np.zeros(shape, dtype=bool),
        one_sided=np.zeros(shape, dtype=bool),
        not_differentiable=np.zeros(shape, dtype=bool),
    )


_FIELDS = ("value", "error", "nonfinite", "modelled", "not_differentiable")


def _merge(
    layout: Layout,
    into: Estimate,
    part: Estimate,
    index: Array,
    one_sided: bool,
    only: Array | None = None,
    rows: Array | None = None,
) -> None:
    """Copy `part`'s entries for the units `index` into `into` (where `only`, if given).

    `rows` are the rows of `part`'s per-unit view holding those units (by default as
    laid out by the engine for a subset).
    """
    rows = _rows(layout, index) if rows is None else rows
    for name in _FIELDS + ("one_sided",):
        target = _view(layout, getattr(into, name))
        if name == "one_sided":
            source = np.full(target[index].shape, one_sided)
        elif getattr(part, name) is None:
            source = np.zeros(target[index].shape, dtype=bool)
        else:
            source = _view(layout, getattr(part, name))[rows]
        mask = np.ones(source.shape, dtype=bool) if only is None else only
        target[index] = np.where(mask, source, target[index])
    if part.status is None and into.status is not None:
        # Entries redone by a scheme that does not decide statuses: decided from the flags.
        target = _view(layout, into.status)
        mask = np.ones(target[index].shape, dtype=bool) if only is None else only
        target[index] = np.where(mask, UNDECIDED, target[index])
    if part.status is not None:
        # Statuses decided by the scheme itself (the adaptive mode); None elsewhere.
        if into.status is None:
            into.status = np.full(into.value.shape, UNDECIDED, dtype=np.int8)
        target = _view(layout, into.status)
        source = _view(layout, part.status)[rows]
        mask = np.ones(source.shape, dtype=bool) if only is None else only
        target[index] = np.where(mask, source, target[index])


def run_planned(
    ev: Evaluator,
    layout: Layout,
    stencil: Stencil,
    h: Array,
    eps: float,
    box: tuple[Array, Array] | None = None,
    *,
    estimate: Estimator = fixed_step,
    mend: Estimator | None = None,
) -> tuple[Estimate, Array]:
    """Run `estimate` per group of the plan, mend domain holes, stitch the estimates.

    Returns the estimate for all columns and the steps actually used (shape of `h`).
    An estimator that chooses its own final steps (the adaptive mode, the checked fixed
    step) sets ``Estimate.step``; `mend` redoes the units at a domain hole (default:
    `estimate`).
    """
    flat = np.asarray(h, dtype=np.float64).ravel()
    first: Estimate | None = None
    if box is None:
        # Nothing to plan: one group, and holes (if any) mended afterwards.
        first = estimate(ev, layout, stencil, h, eps)
        if not first.nonfinite.any():
            return first, np.asarray(h, dtype=np.float64)
        minus = plus = np.full(flat.size, np.inf)
    else:
        minus, plus = rooms(layout, *box)
    result = _empty(layout, ev)
    used = flat.copy()
    for group in plan(minus, plus, stencil, flat):
        part_layout = layout if len(group.index) == flat.size else layout.subset(group.index)
        steps = _steps_for(layout, flat, group.index, group.steps)
        # Without a box the plan is that one group: its points are not evaluated again.
        part = first if first is not None else estimate(ev, part_layout, group.stencil, steps, eps)
        _merge(layout, result, part, group.index, group.one_sided)
        result.notes.extend(part.notes)
        used[group.index] = group.steps
        if part.step is not None:
            # The scheme chose its own final steps (the adaptive mode).
            final = used.copy() if result.step is None else result.step
            step = np.ravel(part.step)
            final[group.index] = step[group.index] if layout.one_column else step
            result.step = final
    planned = used.copy()
    _mend_holes(ev, layout, stencil, result, used, eps, minus, plus, mend or estimate)
    if result.step is not None:  # the scheme's own steps, but a mended unit's from the mending
        result.step = np.where(used != planned, used, np.ravel(result.step)).reshape(np.shape(h))
    return result, used.reshape(np.shape(h))


def _mend_holes(
    ev: Evaluator,
    layout: Layout,
    stencil: Stencil,
    result: Estimate,
    used: Array,
    eps: float,
    minus: Array,
    plus: Array,
    estimate: Estimator,
) -> None:
    """Redo one-sided the units where f was not finite at stencil points.

    For each unit the first stencil (one-sided first, then the requested one) and step
    (the planned one, then smaller) at which every point is finite is refined by
    :func:`_refine`, since a hole within a step of x means f may vary on that scale.
    """
    if stencil.is_complex or not result.nonfinite.any() or not np.all(np.isfinite(ev.f0)):
        return
    for scale in HOLE_SCALES:
        for alternative in _candidates(stencil)[1:] + ([stencil] if scale < 1 else []):
            bad = np.flatnonzero(_view(layout, result.nonfinite).any(axis=1))
            if bad.size == 0:
                return
            trial = used[bad] * scale
            fits = _fit(alternative, trial, minus[bad], plus[bad]) >= trial
            index, trial = bad[fits], trial[fits]
            if index.size == 0:
                continue
            # A probe first: refining costs a dozen stencils, worth it only where it helps.
            probe = estimate(
                ev, layout.subset(index), alternative, _steps_for(layout, used, index, trial), eps
            )
            helps = (
                _view(layout, result.nonfinite)[index] & ~_view(layout, probe.nonfinite)[_rows(layout, index)]
            ).any(axis=1)
            index, trial = index[helps], trial[helps]
            if index.size == 0:
                continue
            part, steps = _refine(ev, layout, alternative, used, index, trial, eps, estimate)
            mended = _view(layout, result.nonfinite)[index] & ~_view(layout, part.nonfinite)
            _merge(
                layout,
                result,
                part,
                index,
                alternative.kind != stencil.kind,
                only=mended,
                rows=np.arange(len(index)),
            )
            used[index] = np.where(mended.any(axis=1), steps, used[index])


def _refine(
    ev: Evaluator,
    layout: Layout,
    stencil: Stencil,
    used: Array,
    index: Array,
    steps: Array,
    eps: float,
    estimate: Estimator,
    levels: int = 12,
) -> tuple[Estimate, Array]:
    """Estimates of units `index` at steps shrinking by 4, the best level of each unit kept.

    Near a hole the Taylor series of f may converge only on a scale smaller than the
    step, where the error model of one stencil does not hold; the error of each level
    is therefore at least its distance to the previous (and next) level. A sequence
    whose distances grow from the start, by much, says f' is infinite at x (sqrt at 0).
    """
    parts = []
    for k in range(levels):
        h = _steps_for(layout, used, index, steps * 4.0**-k)
        part = estimate(ev, layout.subset(index), stencil, h, eps)
        rows = _rows(layout, index)
        parts.append(
            [_view(layout, getattr(part, a))[rows] for a in ("value", "error", "nonfinite", "modelled")]
        )
        if (
            k >= 3
            and np.all(_gaps(parts)[-1] > _gaps(parts)[-2])
            and np.all(_gaps(parts)[-2] > _gaps(parts)[-3])
        ):
            break
    value = np.stack([p[0] for p in parts])
    gaps = _gaps(parts)
    error = np.maximum(np.stack([p[1] for p in parts]), gaps)
    error = np.where(np.stack([p[2] for p in parts]), np.inf, error)
    with np.errstate(invalid="ignore"):
        best = np.argmin(np.nan_to_num(error, nan=np.inf).max(axis=2), axis=0)
    cols = np.arange(len(index))
    pick = [
        a[best, cols]
        for a in (value, error, np.stack([p[2] for p in parts]), np.stack([p[3] for p in parts]))
    ]
    diverging = (best == 0) & (len(parts) >= 4) & np.all(gaps[2:4] > 1.5 * gaps[1:3], axis=(0, 2))
    diverging &= np.all(gaps[1] > 1e-2 * np.abs(value[1]), axis=1)
    out = Estimate(
        value=pick[0],
        error=pick[1],
        nonfinite=pick[2],
        modelled=pick[3],
        not_differentiable=np.broadcast_to(diverging[:, None], pick[0].shape).copy(),
    )
    return out, steps * 4.0 ** -best.astype(float)


def _gaps(parts: list[list[Array]]) -> Array:
    """Distance of every level to its nearest neighbour levels (the larger of the two)."""
    value = np.stack([p[0] for p in parts])
    with np.errstate(invalid="ignore"):
        diff = np.nan_to_num(np.abs(np.diff(value, axis=0)), nan=np.inf)
    if len(parts) == 1:
        return np.zeros_like(value)
    before = np.concatenate([diff[:1], diff])
    after = np.concatenate([diff, diff[-1:]])
    return np.asarray(np.maximum(before, after))
