"""Fixed steps verified by a second step family: an estimate is trusted only if a check agrees.

A stencil's error model sees only the values at its own points. Aliasing (``sin(1e6 +
1024 k)`` equals ``sin(1e6 - 0.159 k)`` to the last bit), a feature narrower than the step,
a singularity just behind a bound or noise that f does not announce all leave those values
looking smooth. So every unit (a column, or an element for elementwise derivatives) is
also differentiated by a low-order *check* stencil at a shorter step, chosen for the
rounding that f's values carry at x (``eps max(1, |x|)``) rather than on the assumption
that f's scale is ``|x|``. A round is *settled* when

- the stencil and the check agree within the sum of their error bars, and
- the stencil's bars are below ``TIGHT`` times its values, or its values agree with the
  previous round's (a bar that large is trusted only once a shorter step confirms it).

Otherwise both steps shrink by ``SHRINK`` and the next round is tried, up to ``ROUNDS``;
the result's step says which one was kept. Of the rounds whose stencil and check agreed,
the one with the smallest bars is kept. A unit that never settles is *unresolved*: its
error is at least twice the smallest disagreement seen and its status is `ROUNDOFF` if
the disagreement grew as the steps shrank (noise or rounding inside f, which no step can
beat: shrinking stops there), `UNRESOLVED` otherwise (no step found on f's scale).

Where a round settled, kinks are looked for: f's second difference shrinks like ``h^2``
on a smooth f and like ``h`` across a kink, so one that shrinks only in proportion to the
step marks the entry `NOT_DIFFERENTIABLE`.

Steps are the realised ones, ``(x + h) - x``, so that a user's step that does not fall on
the grid of floats is not mistaken for what it was meant to be; a step too short to move
x at all is replaced by the shortest one that does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._result import Status
from ..evaluation.evaluator import Evaluator
from ..numerics.stencils import Stencil
from .curvature import NOISE_MAX, check_truncation, finite, kinks, noise_level, second_differences
from .fixed import UNDECIDED, Estimate, fixed_values
from .layouts import Layout
from .steps_taken import CHECK_RATIO, check_stencil, check_steps, realised

__all__ = ["verified_step", "ROUNDS", "SHRINK"]

Array = NDArray[Any]

#: Rounds of shortening (each by SHRINK) before a unit is called unresolved.
ROUNDS = 6
SHRINK = 16.0
#: Bars below this fraction of the value are trusted once the check agrees.
TIGHT = 1e-3
#: A shortened step whose truncation error exceeds its rounding error this many times is
#: shortened once more, if that gives smaller bars.
LIMITED = 16.0
#: A disagreement that grows this much from the smallest seen marks noise: shrinking stops.
GROWTH = 4.0
#: A difference quotient whose product with the step changes by less than this between
#: rounds is a jump of f (it grows like 1/h), not noise.
JUMP = 0.1
#: ... and whose jump is at least this fraction of |f(x)|.
JUMP_SIZE = 1e-6
_FIELDS = ("value", "error", "nonfinite", "modelled")
_ROUNDOFF, _UNRESOLVED = Status.ROUNDOFF.code, Status.UNRESOLVED.code
_ESTIMATED_ERROR = Status.ESTIMATED_ERROR.code
_NOT_DIFFERENTIABLE = Status.NOT_DIFFERENTIABLE.code


def _units(layout: Layout, a: Array) -> Array:
    """One row per unit (a column, or an element of x for an elementwise layout)."""
    return a.reshape(-1, 1) if layout.one_column else a.reshape(a.shape[0], -1)


def _shaped(layout: Layout, steps: Array) -> Array:
    """Per-unit steps in the engine's shape for `layout`."""
    return np.asarray(steps, dtype=np.float64).reshape(1, -1) if layout.one_column else steps


def _for(layout: Layout, full: Array, index: Array, steps: Array) -> Array:
    """Steps for the units `index`: an elementwise part keeps the others' (unmoved) steps."""
    if layout.one_column:
        h = np.array(full, dtype=np.float64)
        h[index] = steps
        return h
    return steps


@dataclass
class _Round:
    """One round's findings per unit (rows in the order of the units it ran on)."""

    agree: Array  # both resolved, and within the sum of their bars of each other
    gap: Array  # largest |stencil - check| over the unit's entries
    value: Array  # (units, m): the stencil's
    error: Array
    second: tuple[Array, ...]  # second differences, bounds: stencil's, check's; stencil's at 2h
    within: Array  # (units, m): twice |stencil - check|, what the stencil's error is at least taken as
    near: Array  # within the sum of the bars, resolved or not
    tight: Array  # every entry's truncation is at most LIMITED times its rounding
    flat: Array  # the stencil's values all equal f(x): below the resolution of f
    level: Array  # (units, m): |f(x)|, against which a jump must stand out
    noisy: Array  # f's noise, measured from the two second differences, dominates the bar


def _resolved(est: Estimate, pick: Any, noise: Array) -> Array:
    """Entries whose truncation error is below their rounding error or TIGHT of the value.

    A larger truncation error says the step is not small against f's scale, where the
    model of the error is least sure: such an estimate cannot confirm another.
    """
    error, value = pick(est.error) + noise, pick(est.value)
    truncation = pick(est.truncation) if est.truncation is not None else np.zeros_like(error)
    return np.asarray((truncation <= error - truncation) | (truncation <= TIGHT * np.abs(value)))


def _round(
    ev: Evaluator,
    layout: Layout,
    stencil: Stencil,
    check: Stencil,
    h1: Array,
    h2: Array,
    eps: float,
    moved: Array,
) -> tuple[Estimate, _Round]:
    """The stencil at `h1` and the check at `h2` on `layout`; findings for the unit rows `moved`."""
    part, values = fixed_values(ev, layout, stencil, _shaped(layout, h1), eps)
    chk, cvalues = fixed_values(ev, layout, check, _shaped(layout, h2), eps)

    # Every unit row (sorted, distinct): a view does, without a gather per array.
    every = moved.size == 0 or moved[-1] == moved.size - 1

    def pick(a: Array) -> Array:
        rows = _units(layout, a)
        return rows if every and rows.shape[0] == moved.size else rows[moved]

    s1, b1 = second_differences(ev, stencil, values)
    s2, b2 = second_differences(ev, check, cvalues)
    s3, _ = second_differences(ev, stencil, values, spread=2.0)
    second = (pick(s1), pick(b1), pick(s2), pick(b2), pick(s3))
    # f's own noise: the check's second difference less the stencil's scaled to its step.
    ratio = (_per_unit(h2, moved) / _per_unit(h1, moved))[:, None]
    central = stencil.kind == "central"
    # f's size around x: |f(x)| or the largest value of the stencil (f may vanish at x).
    size = np.maximum(np.abs(values.real).max(axis=1), np.abs(ev.f0.reshape(-1)).astype(np.float64))
    level = pick(size.reshape(part.value.shape))
    sigma = noise_level(second, ratio, central, level)
    n1 = sigma * stencil.amplification / _per_unit(h1, moved)[:, None] ** stencil.n
    n2 = sigma * check.amplification / _per_unit(h2, moved)[:, None] ** check.n
    measured = pick(check_truncation(stencil, check, values, ev, h1, h2))  # the check's, by the stencil
    va, vb = pick(part.value), pick(chk.value)
    ea, eb = (
        pick(part.error) + n1,
        pick(chk.error) + n2 + measured,
    )
    _units(layout, part.error)[moved] = ea
    holes = pick(part.nonfinite) | pick(chk.nonfinite)
    truncation = pick(part.truncation) if part.truncation is not None else np.zeros_like(ea)
    flat = (values == ev.f0.reshape(-1)).all(axis=1)
    gap = np.where(holes, 0.0, finite(np.abs(va - vb), nan=np.inf))
    # An unresolved check confirms only what lies within the stencil's own bar.
    # A stencil whose truncation the model cannot bound (at a zero of f', say) still
    # stands where the check agrees with it far better than either bar says.
    sure = _resolved(part, pick, n1) | (gap <= TIGHT * ea)
    # ... or where the check's own truncation, as the stencil measures it, explains the gap
    # and the stencil's bar is the smaller (x^3 at 0: the stencil exact, the check not).
    explained = (gap <= 2 * measured) & (ea <= measured)
    sure |= explained
    confirms = (gap <= ea) | explained
    if not confirms.all():  # the check's own resolution matters only where these fail
        confirms |= _resolved(chk, pick, n2)
    close = (gap <= ea + eb) & sure & confirms
    found = _Round(
        agree=(holes | close).all(axis=1),
        gap=gap.max(axis=1),
        near=(holes | (gap <= ea + eb)).all(axis=1),
        tight=(holes | (truncation <= LIMITED * (ea - truncation))).all(axis=1),
        value=va,
        error=ea,
        second=second,
        within=2 * gap,
        flat=np.asarray(pick(flat).all(axis=1)),
        level=level,
        noisy=(n1 > ea - n1).any(axis=1),
    )
    return part, found


def _per_unit(h: Array, moved: Array) -> Array:
    """A unit's step from the steps in the engine's shape (one per unit moved)."""
    flat = np.ravel(h)
    return flat[moved] if flat.size > moved.size else flat


def _moved(layout: Layout) -> Array:
    """Rows of the unit view that a (part) layout moves: all, or an elementwise subset's."""
    if not layout.one_column:
        return np.arange(layout.ncols)
    columns = getattr(layout, "columns", None)
    return np.arange(layout.x.size) if columns is None else np.asarray(columns, dtype=np.intp)


class _State:
    """Per unit: settled or closed, the smallest gap, the kept round, the previous one."""

    def __init__(self, first: _Round, h1: Array, h2: Array) -> None:
        self.settled = first.agree.copy()
        self.closed = np.zeros(h1.size, dtype=bool)
        self.best_gap = first.gap.copy()
        self.grew = np.zeros(h1.size, dtype=bool)
        self.jumped = np.zeros(h1.size, dtype=bool)
        self.steps = h1.copy()
        self.second = tuple(a.copy() for a in first.second)
        self.second_steps = (h1.copy(), h2.copy())
        self.previous = first.value * h1[:, None]  # a jump keeps value * step constant
        self.flat = first.flat.copy()  # f resolved nothing even at the first step
        self.noise = first.noisy.copy()  # the kept round's bar is mostly f's noise
        self.near = first.near.copy()  # the kept round's stencil and check were within their bars
        # The largest bar of the round kept once the stencil and the check agreed (inf: none yet).
        self.kept = np.where(first.agree, first.error.max(axis=1), np.inf)

    def update(
        self,
        layout: Layout,
        est: Estimate,
        part: Estimate,
        found: _Round,
        index: Array,
        h1: Array,
        h2: Array,
        stencil_n: int,
    ) -> None:
        """Take one round's findings for the units `index`."""
        rows = index if layout.one_column else np.arange(index.size)
        # A step below the resolution of f (its values all equal f(x), though the first
        # step's were not) says nothing: shrinking stops, as for noise.
        stale = found.flat & ~self.flat[index]
        agree = found.agree & ~stale
        # Of the rounds that agree, the one with the smallest bars is kept; until one
        # agrees, the round closest to its check.
        worst = found.error.max(axis=1)
        better = agree & (worst < self.kept[index])
        keep = better | (~stale & np.isinf(self.kept[index]) & (found.gap < self.best_gap[index]))
        self.kept[index] = np.where(better, worst, self.kept[index])
        units = index[keep]
        for name in _FIELDS:
            _units(layout, getattr(est, name))[units] = _units(layout, getattr(part, name))[rows[keep]]
        # A step had to shrink: f varies on a scale the first step missed, where the model
        # of one stencil is less sure; its disagreement with the check counts as error.
        error = _units(layout, est.error)
        error[units] = np.maximum(error[units], found.within[keep])
        self.noise[units] = found.noisy[keep]
        self.near[units] = found.near[keep]
        self.steps[units] = h1[keep]
        for mine, theirs in zip(self.second, found.second, strict=True):
            mine[units] = theirs[keep]
        self.second_steps[0][units], self.second_steps[1][units] = h1[keep], h2[keep]
        est.clean = False
        scaled = found.value * h1[:, None]
        steady = (np.abs(scaled - self.previous[index]) <= JUMP * np.abs(scaled)).all(axis=1)
        # ... and big: a staircase of rounded values (float32 inside) is noise, not a jump.
        steady &= (np.abs(scaled) > JUMP_SIZE * found.level).any(axis=1)
        growing = ~agree & (found.gap > GROWTH * self.best_gap[index]) & (self.best_gap[index] > 0)
        self.jumped[index] |= growing & steady & ~stale
        # Noise if also small against f: a disagreement as large as f's own variation over
        # the step is a feature the steps do not resolve.
        noisy = growing & (found.gap * h1**stencil_n <= NOISE_MAX * found.level.max(axis=1))
        noisy |= self.jumped[index]
        noisy |= stale
        self.grew[index] |= noisy
        self.closed[index] |= noisy
        self.best_gap[index] = np.where(
            stale, self.best_gap[index], np.minimum(self.best_gap[index], found.gap)
        )
        # A step that had to shrink and still sits where truncation dominates may gain from
        # one more: settle only when this round is rounding-limited or no better than the last.
        self.settled[index] |= agree & (found.tight | ~better)
        self.previous[index] = scaled

    def finish(self, layout: Layout, est: Estimate, stencil: Stencil, user: bool) -> None:
        """Statuses of unresolved units, kinks, jumps and infinite bars."""
        status = np.full(_units(layout, est.value).shape, UNDECIDED, dtype=np.int8)
        error = _units(layout, est.error)
        open_ = ~self.settled
        if open_.any():
            error[open_] = np.maximum(error[open_], 2 * self.best_gap[open_, None])
            # Unsettled: noise (the gap grew as steps shrank), a best effort at a user's step
            # (never shortened; its bar at least twice the gap to the check), or no step on
            # f's scale at all.
            effort = _ESTIMATED_ERROR if user else _UNRESOLVED
            verdict = np.where(self.grew, _ROUNDOFF, effort)
            status[open_] = verdict[open_, None]
        if self.noise.any():
            status[self.settled & self.noise] = _ROUNDOFF
        if self.jumped.any():
            status[self.jumped] = _NOT_DIFFERENTIABLE
        if stencil.n == 1 and not user:  # three second differences that agree on h^q: f's shape
            kinked = kinks(self.second, self.second_steps)
            status[kinked] = _NOT_DIFFERENTIABLE
        value = _units(layout, est.value)
        infinite = ~np.isfinite(error)
        if infinite.any():
            status[(status == UNDECIDED) & np.isfinite(value) & infinite] = _ROUNDOFF
        if (status != UNDECIDED).any():
            est.status = status.reshape(est.value.shape)
            est.clean = False


def _copy(layout: Layout, into: Estimate, part: Estimate, units: Array, rows: Array) -> None:
    """Copy the entries of `part` (its unit rows `rows`) into `into` (units `units`)."""
    for name in ("value", "error", "nonfinite", "modelled"):
        _units(layout, getattr(into, name))[units] = _units(layout, getattr(part, name))[rows]
    into.clean = into.clean and part.clean


def verified_step(
    ev: Evaluator, layout: Layout, stencil: Stencil, h: Array, eps: float, user: bool = False
) -> Estimate:
    """:func:`~dfdx.engine.fixed.fixed_step` checked by a second step family (module notes).

    With `user` steps no round shrinks them: an unsettled unit keeps the user's step and a
    weaker status says why.
    """
    if stencil.is_complex:
        est, _ = fixed_values(ev, layout, stencil, h, eps)
        est.step = h
        return est
    # NaN and inf are the estimates' to carry (holes, overflow): no warnings from the checks.
    with np.errstate(all="ignore"):
        return _verified(ev, layout, stencil, h, eps, user)


def _verified(ev: Evaluator, layout: Layout, stencil: Stencil, h: Array, eps: float, user: bool) -> Estimate:
    """:func:`verified_step` under its `errstate`."""
    given = np.asarray(h, dtype=np.float64)
    h = realised(layout, h)
    check = check_stencil(stencil)
    flat = h.ravel()
    h2 = check_steps(layout, stencil, check, flat, eps)
    per_column = int(np.count_nonzero(stencil.offsets)) + int(np.count_nonzero(check.offsets))
    if not _affords(ev, layout.ncols * per_column, "no check of the fixed steps"):
        est = fixed_values(ev, layout, stencil, h, eps)[0]
        est.step = h
        return est
    est, first = _round(ev, layout, stencil, check, flat, h2, eps, np.arange(flat.size))
    state = _State(first, flat, h2)
    # An elementwise part moves only its own elements: the others are void, not to be redone.
    moved = _moved(layout)
    if moved.size != flat.size:
        void = np.ones(flat.size, dtype=bool)
        void[moved] = False
        state.settled[void] = True
    for r in range(1, 0 if user else ROUNDS + 1):
        index = np.flatnonzero(~state.settled & ~state.closed)
        if index.size == 0:
            break
        h1 = flat[index] / SHRINK**r
        h2[index] = np.minimum(h2[index], h1 * CHECK_RATIO)
        sub = layout.subset(index)
        if not _affords(ev, sub.ncols * per_column, "the check's shorter steps stopped"):
            break
        steps = _for(layout, flat, index, h1), _for(layout, h2, index, h2[index])
        rows = index if layout.one_column else np.arange(index.size)
        part, found = _round(ev, sub, stencil, check, *steps, eps, rows)
        state.update(layout, est, part, found, index, h1, h2[index], stencil.n)
    state.finish(layout, est, stencil, user)
    est.step = state.steps.reshape(h.shape)
    if user:
        _user_notes(layout, est, given, h)
    return est


def _affords(ev: Evaluator, points: int, what: str) -> bool:
    """Whether a `max_evals` budget (if any) leaves room for `points`; if not, it says so."""
    budget = getattr(ev, "budget", None)
    if budget is None or budget.remaining >= points:
        return True
    budget.note(f"{what} (no room for {points} more evaluations)")
    return False


def _user_notes(layout: Layout, est: Estimate, given: Array, h: Array) -> None:
    """Say where a user's step did not move x (it was replaced) or was left unconfirmed."""
    moved = np.abs(np.abs(given.ravel()) - h.ravel()) > 1e-3 * h.ravel()
    if moved.any():
        k = int(np.argmax(moved))
        est.notes.append(
            f"The step {float(given.ravel()[k]):.3g} does not move x by a representable amount "
            f"(unit {k}); {float(h.ravel()[k]):.3g} was used instead."
        )
        status = np.full(_units(layout, est.value).shape, UNDECIDED, dtype=np.int8)
        if est.status is not None:
            status = _units(layout, est.status).copy()
        status[moved] = np.maximum(status[moved], _ESTIMATED_ERROR)
        est.status = status.reshape(est.value.shape)
        est.clean = False
