"""The adaptive mode: a shrinking step sequence with Richardson extrapolation per column.

Every column (coordinate, direction, or the elementwise column) walks down its own
sequence of steps ``h_0 > h_1 > ...`` in lockstep with the others, but stops as soon
as its entries have converged; only the columns still running are evaluated at the
next step. Steps halve, so a stencil whose offsets include ``2 o`` for an offset
``o`` (the default 4th-order central stencil) finds half of its points already
evaluated at the previous step; every point is evaluated once. The first two steps go
to f in one call: one quotient has no error estimate, so no column can stop after it.

Per column the difference quotients ``D(h_l)`` feed a Richardson tableau
(:mod:`dfdx.richardson`). The answer is the entry with the smallest estimated error,
truncation (from the tableau) plus rounding (propagated through it, with f's noise as
measured from the run's own points: :mod:`dfdx.engine.adaptive_state`). A column stops

- when that error meets ``max(atol, rtol |value|)``;
- when its truncation estimate has fallen below its rounding error: smaller steps
  can only add rounding (for noise measured once only, after a second measurement);
- after ``max_steps`` steps.

Scale search: while successive quotients disagree grossly (by more than
:data:`PRE_ASYMPTOTIC`), the step is far above the scale on which f varies (sin at
``x = 1e6`` with a step relative to ``|x|``, or a function varying on a 1e-6 scale
with a step of ``1e-3``); the tableau is then restarted at a step :data:`JUMP` times
smaller instead of halving, and nothing of the run it leaves is kept. An answer is
kept only once one quotient off the lattice of halved steps agrees with it (see
:mod:`dfdx.engine.adaptive_checks`): halved steps can alias an oscillation of f
(``sin(1e6 +- 1024 k)`` is smooth in k) however many of them agree.

NaN and inf are handled per entry: an output not finite at x stays NaN, and an
output not finite at some steps while the others of its column are finite is a hole
of its own, mended one-sided afterwards (:mod:`dfdx.engine.bounds`); only a column
whose every output fails moves its steps.

Non-differentiable points: where a stencil has points on both sides of x, the
forward and backward slopes ``(f(x+h) - f(x))/h`` and ``(f(x) - f(x-h))/h`` are
compared at every step. For a differentiable f their difference shrinks with h; at a
kink it does not, and at a jump the quotients themselves never settle. A second
derivative at a kink of the slope shows in the odd part of f's values, which keeps its
size relative to h^2 (:meth:`~dfdx.engine.adaptive_checks.Checks._slope_kinks`).

Examples
--------
>>> import numpy as np, dfdx
>>> res = dfdx.derivative(np.sin, 1e6, adaptive=True)   # a relative step alone aliases here
>>> bool(abs(res.value - np.cos(1e6)) < 1e-9), res.status
(True, Status.SUCCESS)
>>> dfdx.derivative(np.abs, 0.0, adaptive=True, throw=False).status
Status.NOT_DIFFERENTIABLE
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..evaluation.evaluator import Evaluator
from ..numerics.richardson import abs_coefficients, next_row, row_errors
from ..numerics.stencils import Stencil
from ..numerics.steps import COMPLEX_STEP, absolute_steps
from .adaptive_checks import PROBE, Checks
from .adaptive_state import FIRST_STEP, MET, NOISE_SIGMAS, ROUNDING, State
from .budget import affordable
from .fixed import Estimate
from .layouts import Layout

__all__ = ["adaptive", "initial_steps", "RATIO", "JUMP", "PRE_ASYMPTOTIC", "FIRST_STEP", "PROBE", "State"]

Array = NDArray[Any]

#: Step ratio between consecutive levels: a power of two keeps every point exact.
RATIO = 2.0
#: Step reduction when the quotients show the step is far above f's scale.
JUMP = 64.0
#: Relative disagreement of the first two quotients of a run that marks a step as
#: pre-asymptotic; after that, differences that shrink by less than CONTRACTION do.
PRE_ASYMPTOTIC = 0.2
CONTRACTION = 0.8
#: Safety factor on the tableau's same-order truncation estimate.
SAFETY = 2.0
#: The tableau's changes between steps carry the rounding actually made: MEASURED times
#: them caps an entry's propagated rounding bound.
MEASURED = 4.0
#: Changes of exactly zero do not cap a rounding bound this many ulps of the value.
BLIND = 1e4


def initial_steps(reach: Array, stencil: Stencil) -> Array:
    """The first step of the sequence for each column (a power of two).

    Examples
    --------
    >>> from dfdx.stencils import central
    >>> initial_steps(np.array([1.0, 10.0]), central(1, 2))
    array([0.125, 1.   ])
    """
    relative = COMPLEX_STEP if stencil.is_complex else FIRST_STEP
    return absolute_steps(reach, relative)


def adaptive(
    ev: Evaluator,
    layout: Layout,
    stencil: Stencil,
    h0: Array,
    eps: float,
    *,
    rtol: float,
    atol: float,
    max_steps: int,
    strict: bool = False,
) -> Estimate:
    """Adaptive Richardson extrapolation of `stencil` on every column of `layout`.

    Parameters
    ----------
    ev : Evaluator
        The only way f is called; ``ev.f0`` is f(x).
    layout : Layout
    stencil : Stencil
        Any stencil (central, forward, backward, complex) for the base quotients.
    h0 : ndarray
        First (largest) step, shape of ``layout.reach``.
    eps : float
        Relative accuracy of f's values.
    rtol, atol : float
        A column stops once every entry's error estimate is below
        ``max(atol, rtol |value|)``.
    max_steps : int
        Most levels (steps) per column.
    strict : bool
        True when the tolerances were asked for: stopping short of them because of
        rounding is then reported as ``ROUNDOFF``.

    Returns
    -------
    Estimate
        With ``step`` (the step of the chosen entry) and per-entry ``status``.
    """
    run = _Run(ev, layout, stencil, np.asarray(h0, dtype=np.float64), eps, max_steps)
    # No column can stop after one step (a single quotient has no error estimate) and the
    # second step is always the first halved: the first two levels are one call of f.
    first = min(2, max_steps)
    run.advance([(level, run.all, run.next_mult / RATIO**level) for level in range(first)], rtol, atol)
    for level in range(first, max_steps):
        if not np.count_nonzero(run.done_cols):
            active = run.all
        else:
            active = np.flatnonzero(~run.done_cols)
            if active.size == 0:
                break
        if ev.budget is not None:  # max_evals: the columns it still pays for (engine/budget.py)
            active = affordable(ev.budget, active, len(run.offsets), run.best, run.best_err, run.done)
            if active.size == 0:
                break
        mult = np.full(run.ncols, np.nan)
        mult[active] = run.next_mult[active]
        run.advance([(level, active, mult)], rtol, atol)
    return run.estimate(rtol, atol, strict)


class _Run(Checks):
    """One adaptive run over all columns: the levels, the tableau and the stopping rules."""

    def advance(self, plan: list[tuple[int, Array, Array]], rtol: float, atol: float) -> None:
        """Evaluate the levels of `plan`, then update the estimates level by level."""
        self.points.evaluate(plan)  # f runs under the caller's floating-point settings, not ours
        with np.errstate(all="ignore"):
            self._quotients(plan[0][0], plan[-1][0] + 1)
            for level, active, _ in plan:
                if level == 0:
                    self._start_tableau()
                else:
                    self._choose(level, active, rtol, atol)

    def _quotients(self, first: int, stop: int) -> None:
        """D(h) and its rounding error for levels ``first`` to ``stop - 1`` (consecutive)."""
        h = self.hstep[first:stop]
        D, rounding = self._quotient(self.values[first:stop], h, self.f0, self.absf0)
        if self.stencil.n == 1 and not self.stencil.is_complex:
            rounding = rounding + self.sensitivity * self._sensitivity(D) / h
        self.quotient[first:stop] = D
        self.rounding[first:stop] = rounding

    def _start_tableau(self) -> None:
        """The first level: one quotient has no error estimate, so nothing stops or improves."""
        D = self.quotient[0]
        self.rows[0][0] = D
        if not np.all(np.isfinite(D)):
            # A step that meets a pole or an overflow: the run starts again at the next one.
            bad = self._pole(D, self.ncols)
            self.start[bad] = 1
            self.rows[0][:, bad] = np.nan
            self.changes[:, bad] = np.nan
        self.next_mult = self.mult[0] / RATIO
        self._below_resolution(0, self.all, slice(None))

    def _choose(self, level: int, active: Array, rtol: float, atol: float) -> None:
        """Update each active entry's best estimate; stop converged columns; plan the next step."""
        # Views, not copies, while every column is running (the common case).
        sel: Any = slice(None) if active.size == self.ncols else active
        lead = (-1,) + (1,) * len(self.out)
        start = self.start[sel].reshape(lead)
        first, restarted = max(0, level - 2), int(np.maximum.reduce(start, axis=None))
        D = self.quotient[first : level + 1, sel]
        if first < restarted:
            levels = (-1,) + (1,) * (1 + len(self.out))
            D = np.where(np.arange(first, level + 1).reshape(levels) >= start, D, np.nan)
        p, s = self.stencil.accuracy, self.spacing
        slot, rows = level % 3, self.rows
        Tl = next_row(D[-1], rows[(level - 1) % 3][:level, sel] if level else None, RATIO, p, s)
        Tp = rows[(level - 1) % 3][: level + 1, sel] if level else np.full_like(Tl, np.nan)
        # Rounding of every entry of the row, propagated through the tableau's weights.
        R = self.rounding[: level + 1, sel]
        if restarted:
            levels = (-1,) + (1,) * (1 + len(self.out))
            R = np.where(np.arange(level + 1).reshape(levels) >= start, R, 0.0)
        coef = abs_coefficients(level + 1, RATIO, p, s)[level]
        model = (coef @ R.reshape(level + 1, -1)).reshape(Tl.shape)
        self._measure_noise(level, sel, start)
        unit = self._noise_unit(level, sel, start, coef)
        trunc, changes = row_errors(Tl, Tp, RATIO, p, s, SAFETY)
        # The changes between rows l, l-1 and l-1, l-2 (row_changes), the latter kept.
        measured = MEASURED * np.fmax(changes, self.changes[: level + 1, sel])
        self._unblind(measured, model, Tl, sel)
        self.changes[: level + 1, sel] = changes
        floor = self.floor * np.abs(Tl)
        machine = np.fmin(model, measured) + self.weight * model + floor
        rounding = machine
        if np.count_nonzero(self.sigma[sel]):
            # Noise measured once only counts in the bars; stopping for it needs it confirmed.
            # Measured noise (one sigma) is a floor under the rounding however small the changes.
            noise = unit * self.sigma[sel]
            noisy = model + noise
            capped = np.fmax(np.fmin(noisy, measured), noise / NOISE_SIGMAS)
            rounding = capped + self.weight * noisy + floor
        err = trunc + rounding
        cand = np.fmin(err, np.inf)  # NaN (no estimate) never chosen; err >= 0
        # The entry of least error, per cell: a flat index into the (order, cell) arrays.
        cells = cand[0].size
        index = self.cells if cells == self.cells.size else np.arange(cells)
        pick = cand.reshape(level + 1, cells).argmin(axis=0) * cells + index
        order = pick // cells
        new_err, new_val, new_trunc, new_round = (
            a.reshape(-1)[pick].reshape(cand.shape[1:]) for a in (cand, Tl, trunc, rounding)
        )
        if unit.shape != cand.shape:
            unit = np.broadcast_to(unit, cand.shape)
        new_unit = unit.reshape(-1)[pick].reshape(cand.shape[1:])
        # The noise measured since the best entry was chosen counts in its bar too.
        self._raise_best(sel, Tl)
        if rounding is not machine:
            # Unconfirmed noise that dominates the bar: measure it again at the next step.
            new_machine = machine.reshape(-1)[pick].reshape(cand.shape[1:])
            doubt = new_round > 2 * new_machine
            new_round = np.where(self.confirmed[sel], new_round, np.where(doubt, -1.0, new_machine))
        mult = self.mult[level][sel].reshape(lead)
        self._improve(sel, (new_val, new_err, new_trunc, mult, new_unit, order.reshape(new_val.shape)))
        if not isinstance(sel, slice):
            rows[slot] = np.nan  # the slot held row l - 3, of columns that may have stopped since
        # (With every column running, row l covers row l - 3's entries: no clearing needed.)
        rows[slot][: level + 1, sel] = Tl
        finished = self._stop(level, active, sel, rtol, atol, new_round, restarted)
        self._plan(level, active, D)
        self._verify(level, finished)

    def _unblind(self, measured: Array, model: Array, Tl: Array, sel: Any) -> None:
        """Quotients equal to the last bit at two steps while values far above their differences
        round by 1e4 ulps of the answer: rounding that was the same affine function of the step
        at both (a shared exponent makes it so), not no rounding. `measured` is not a cap there."""
        blind = measured == 0
        if np.count_nonzero(blind):
            blind &= model > BLIND * self.eps * np.abs(Tl)
            measured[blind] = np.inf
            self.blind[sel] |= np.logical_or.reduce(blind, axis=0)

    def _improve(self, sel: Any, new: tuple[Array, ...]) -> None:
        """Replace the best entries (value, error, truncation, step, noise unit, order) that `new` betters."""
        improve = (new[1] < self.best_err[sel]) & ~self.done[sel]
        if not np.count_nonzero(improve):
            return
        bests = (self.best, self.best_err, self.best_trunc, self.best_mult, self.best_unit, self.best_order)
        for best, a in zip(bests, new, strict=True):
            if isinstance(sel, slice):
                np.copyto(best, a, where=improve)
            else:
                best[sel] = np.where(improve, a, best[sel])

    def _stop(
        self, level: int, active: Array, sel: Any, rtol: float, atol: float, rounding: Array, restarted: int
    ) -> Array:
        best, err, done = self.best[sel], self.best_err[sel], self.done[sel]
        met = err <= np.maximum(atol, rtol * np.abs(best))
        # Truncation below rounding: a smaller step only adds rounding (once a run has
        # three steps; `restarted` is the latest start of a run among these columns).
        if level >= restarted + 2:
            floor = np.isfinite(err) & (self.best_trunc[sel] <= rounding)
        elif level >= 2:
            ran = (level >= self.start[sel] + 2).reshape((-1,) + (1,) * len(self.out))
            floor = np.isfinite(err) & (self.best_trunc[sel] <= rounding) & ran
        else:
            floor = np.zeros(err.shape, dtype=bool)
        # Entries dead at x, or not finite at two steps in a row while their column is: given up.
        D = self.quotient[level][sel]
        lost = ~np.isfinite(D)
        if np.count_nonzero(lost):
            lost &= ~np.isfinite(self.quotient[level - 1][sel])
            lost &= ~self._pole(D, len(active), sel).reshape((-1,) + (1,) * len(self.out))
            stop = ~done & (met | floor | lost | ~self.alive[sel])
        else:
            stop = ~done & (met | floor)
        if np.count_nonzero(stop):
            self.reason[sel] = np.where(~done & met, MET, np.where(~done & floor, ROUNDING, self.reason[sel]))
            done = done | stop
            self.done[sel] = done
            finished = np.logical_and.reduce(done.reshape(len(active), -1), axis=1)
            self.done_cols[sel] = finished
            newly: Array = active[finished & np.logical_or.reduce(stop.reshape(len(active), -1), axis=1)]
            return newly
        none: Array = active[:0]
        return none

    def _plan(self, level: int, active: Array, D: Array) -> None:
        """Halve the step, or jump when the last two quotients disagree grossly."""
        sel: Any = slice(None) if active.size == self.ncols else active
        mult = self.mult[level][sel]
        nxt = mult / RATIO
        if level >= 1:
            last, prev = D[-1], D[-2]
            R = self.rounding[level][sel]
            gap = np.abs(last - prev)
            above = gap > 10 * R
            # Two quotients of a run: only a gross disagreement says the step is too large
            # (a small derivative can differ by a large fraction in the asymptotic regime);
            # three: the differences must shrink, by r^p in the asymptotic regime.
            if len(D) > 2:
                before = np.abs(prev - D[-3])
                stuck = gap > CONTRACTION * before
                if np.count_nonzero(np.isnan(before)):
                    gross = gap > PRE_ASYMPTOTIC * np.maximum(np.abs(last), np.abs(prev))
                    stuck = np.where(np.isnan(before), gross, stuck)
            else:
                stuck = gap > PRE_ASYMPTOTIC * np.maximum(np.abs(last), np.abs(prev))
            wild = np.logical_or.reduce((stuck & above & ~self.done[sel]).reshape(len(active), -1), axis=1)
            wild |= self._pole(last, len(active), sel)
            if np.count_nonzero(wild):
                jump = active[wild]
                self.start[jump] = level + 1
                self.rows[level % 3][:, jump] = np.nan  # the new run's tableau starts afresh
                self.changes[:, jump] = np.nan
                self._forget(jump)
                nxt = np.where(wild, mult / JUMP, nxt)
        elif not np.all(np.isfinite(D[-1])):
            bad = ~np.logical_and.reduce(np.isfinite(D[-1]).reshape(len(active), -1), axis=1)
            self.start[active[bad]] = 1
            self.rows[level % 3][:, active[bad]] = np.nan
        self.next_mult[sel] = nxt
        self._below_resolution(level, active, sel)
