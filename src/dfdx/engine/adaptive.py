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
truncation (from the tableau) plus rounding (propagated through it). A column stops

- when that error meets ``max(atol, rtol |value|)``;
- when its truncation estimate has fallen below its rounding error: smaller steps
  can only add rounding;
- after ``max_steps`` steps.

Scale search: while successive quotients disagree grossly (by more than
:data:`PRE_ASYMPTOTIC`), the step is far above the scale on which f varies (sin at
``x = 1e6`` with a step relative to ``|x|``, or a function varying on a 1e-6 scale
with a step of ``1e-3``); the tableau is then restarted at a step :data:`JUMP` times
smaller instead of halving.

Non-differentiable points: where a stencil has points on both sides of x, the
forward and backward slopes ``(f(x+h) - f(x))/h`` and ``(f(x) - f(x-h))/h`` are
compared at every step. For a differentiable f their difference shrinks with h; at a
kink it does not, and at a jump the quotients themselves never settle.

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

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._result import Status
from ..evaluation.evaluator import Evaluator
from ..numerics.richardson import abs_coefficients, expansion_spacing, next_row, row_errors
from ..numerics.stencils import Stencil
from ..numerics.steps import COMPLEX_STEP, absolute_steps
from .adaptive_points import LevelPoints, as_bytes, stencil_data
from .budget import affordable
from .fixed import Estimate
from .layouts import Layout

__all__ = ["adaptive", "initial_steps", "RATIO", "JUMP", "PRE_ASYMPTOTIC"]

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
#: Rounding of a tableau entry, calibrated on the problem bank (tests/test_calibration.py):
#: the smaller of the propagated bound and MEASURED times the changes the tableau shows
#: between steps (which carry the rounding actually made), plus a fraction of the bound
#: (ROUNDING_WEIGHT for symmetric stencils, ONE_SIDED_WEIGHT for one-sided ones, whose
#: shared f(x) makes rounding correlated between steps), plus FLOOR ulps of the value
#: (COMPLEX_FLOOR for the complex step).
MEASURED = 4.0
ROUNDING_WEIGHT = 0.01
ONE_SIDED_WEIGHT = 0.1
FLOOR = 2.0
COMPLEX_FLOOR = 8.0


#: First step relative to ``max(1, |x|)``: large, so that rounding stays small; the
#: extrapolation removes the truncation error (and the scale search the too-large steps).
FIRST_STEP = 2.0**-3


#: Why an entry stopped (codes of ``_Run.reason``): its tolerance was met, or its
#: truncation fell below its rounding.
MET, ROUNDING = 1, 2
_ROUNDOFF, _NOT_CONVERGED = Status.ROUNDOFF.code, Status.NOT_CONVERGED.code
_NOT_DIFFERENTIABLE, _NONFINITE = Status.NOT_DIFFERENTIABLE.code, Status.NONFINITE.code


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


class _Run:
    """State of one adaptive run over all columns.

    Everything computed per level lives in arrays preallocated for `max_steps` levels
    (leading axis: the level), so that a level costs a fixed, small number of numpy calls.
    """

    def __init__(
        self, ev: Evaluator, layout: Layout, stencil: Stencil, h0: Array, eps: float, max_steps: int
    ):
        self.ev, self.layout, self.stencil, self.h0, self.eps = ev, layout, stencil, h0, eps
        self.ncols = ncols = layout.ncols
        self.out = ev.out_shape
        self.all = np.arange(ncols)
        self.cells = np.arange(ncols * math.prod(self.out))
        shape = (ncols, *self.out)
        sd = stencil_data(as_bytes(stencil.offsets), as_bytes(stencil.weights))
        self.offsets, self.w, self.absw, self.w0 = sd.offsets, sd.w, sd.absw, sd.w0
        self.two_sided, self.plus, self.minus = sd.two_sided, sd.plus, sd.minus
        self.start = np.zeros(ncols, dtype=int)  # first level of each column's current run
        self.next_mult = np.ones(ncols)
        self.done_cols = np.zeros(ncols, dtype=bool)
        self.best = np.full(shape, np.nan)
        self.best_err = np.full(shape, np.inf)
        self.best_trunc = np.full(shape, np.inf)
        self.best_mult = np.full(shape, np.nan)
        self.done = np.zeros(shape, dtype=bool)
        self.reason = np.zeros(shape, dtype=np.int8)  # why an entry stopped: MET or ROUNDING
        self.spacing = expansion_spacing(stencil.kind)
        self.dtype = np.result_type(
            ev.f0.dtype, np.float64, np.complex128 if stencil.is_complex else np.float64
        )
        L = max_steps
        self.points = LevelPoints(ev, layout, stencil, h0, sd, self.dtype, L)
        # The same arrays, filled in place by the evaluations: values, multipliers, steps.
        self.values, self.mult, self.hstep = self.points.values, self.points.mult, self.points.hstep
        self.quotient = np.full((L, *shape), np.nan)  # D(h_l)
        self.rounding = np.full((L, *shape), np.nan)  # rounding error of D(h_l)
        # The last three tableau rows T[l, 0..l] (padded with NaN), in turn: slot l % 3.
        self.rows = np.full((3, L, *shape), np.nan)
        # The last row's changes from the row before (see richardson.row_errors).
        self.changes = np.full((L, *shape), np.nan)
        self.weight = ROUNDING_WEIGHT if self.spacing == 2 else ONE_SIDED_WEIGHT
        self.floor = (COMPLEX_FLOOR if stencil.is_complex else FLOOR) * eps
        self.f0 = np.empty(shape, dtype=self.dtype)
        self.f0[...] = ev.f0
        self.absf0 = np.abs(self.f0)
        # f(x) enters the quotients with weight w0; a zero weight still spreads a NaN f(x).
        self.uses_f0 = self.w0 != 0 or not bool(np.isfinite(ev.f0).all())
        self.sensitivity = 2 * eps * sd.amplification
        absx = np.abs(layout.x.ravel())
        if layout.one_column:
            self.xmag = absx.reshape(1, *self.out)
        else:
            self.xmag = _expand(layout.magnitude()[:, 0], ncols, self.out)

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
        st, eps, f0, w, w0 = self.stencil, self.eps, self.f0, self.w, self.w0
        values, h = self.values[first:stop], self.hstep[first:stop]
        # Levels and columns as one axis for _combine: the same arithmetic either way.
        flat = values.reshape(-1, *values.shape[2:])
        total = _combine(w, flat).reshape(values.shape[:2] + values.shape[3:])
        if self.uses_f0:
            total = total + w0 * f0
        if st.is_complex:
            total, parts = total.imag, np.abs(flat.imag)
            absf0: Any = 0.0
        else:
            parts, absf0 = np.abs(flat), self.absf0
        hn = h**st.n
        D = total / hn
        size = _combine(self.absw, parts).reshape(D.shape)
        if self.uses_f0:
            size = size + abs(w0) * absf0
        rounding = eps * size / hn
        rounding = rounding + eps * np.abs(D)
        if st.n == 1 and not st.is_complex:
            rounding = rounding + self.sensitivity * self._sensitivity(D) / h
        self.quotient[first:stop] = D
        self.rounding[first:stop] = rounding

    def _sensitivity(self, D: Array) -> Array:
        """``sum_j |x_j| |df/dx_j|``: rounding of f's own arithmetic near x (see _engine._error)."""
        # Finished columns by their answer, running ones by their latest quotient (an early
        # "best" from a step far above f's scale can be wild).
        known = D
        if np.count_nonzero(self.done_cols):
            done = self.done_cols.reshape((-1,) + (1,) * len(self.out))
            known = np.where(done & np.isfinite(self.best), self.best, D)
        s: Array = self.xmag * np.abs(known)
        finite = np.isfinite(s)
        if np.count_nonzero(finite) < s.size:
            s = np.where(finite, s, 0.0)
        if self.layout.sum_columns:
            s = np.add.reduce(s, axis=-1 - len(self.out), keepdims=True)
        return s

    def _indicators(self, levels: Array) -> tuple[Array, Array]:
        """``|forward - backward slope|`` and ``|f(x+h) - f(x-h)|``, stacked, and their rounding.

        `levels` ``(k, ncols)``: the level of each column for each of k results; the
        rounding is at the first of them only.
        """
        o, plus, minus, cols = self.offsets, self.plus, self.minus, self.all
        up, down = self.values[levels, cols, plus], self.values[levels, cols, minus]
        h = self.hstep[levels, cols if self.hstep.shape[1] == self.ncols else 0]
        f0 = self.f0[None]
        out = np.empty((2, *up.shape))
        np.abs((up - f0) / (o[plus] * h) - (f0 - down) / (-o[minus] * h), out=out[0])
        np.abs(up - down, out=out[1])
        near = np.abs(up[0]) + np.abs(down[0])
        noise = np.empty((2, *near.shape))
        np.divide(self.eps * (near + 2 * np.abs(f0[0])), min(o[plus], -o[minus]) * h[0], out=noise[0])
        np.multiply(self.eps, near, out=noise[1])
        return out, noise

    # -- extrapolation and stopping ---------------------------------------------------
    def _start_tableau(self) -> None:
        """The first level: one quotient has no error estimate, so nothing stops or improves."""
        D = self.quotient[0]
        self.rows[0][0] = D
        finite = np.isfinite(D)
        if np.count_nonzero(finite) < finite.size:
            # A step that meets a pole or an overflow: the run starts again at the next one.
            bad = ~np.logical_and.reduce(finite.reshape(self.ncols, -1), axis=1)
            self.start[bad] = 1
            self.rows[0][:, bad] = np.nan
            self.changes[:, bad] = np.nan
        self.next_mult = self.mult[0] / RATIO

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
        trunc, changes = row_errors(Tl, Tp, RATIO, p, s, SAFETY)
        # The changes between rows l, l-1 and l-1, l-2 (row_changes), the latter kept.
        measured = np.fmax(changes, self.changes[: level + 1, sel])
        self.changes[: level + 1, sel] = changes
        rounding = np.fmin(model, MEASURED * measured) + self.weight * model
        rounding += self.floor * np.abs(Tl)
        err = trunc + rounding
        cand = np.fmin(err, np.inf)  # NaN (no estimate) never chosen; err >= 0
        # The entry of least error, per cell: a flat index into the (order, cell) arrays.
        cells = cand[0].size
        index = self.cells if cells == self.cells.size else np.arange(cells)
        pick = cand.reshape(level + 1, cells).argmin(axis=0) * cells + index
        new_err, new_val, new_trunc, new_round = (
            a.reshape(-1)[pick].reshape(cand.shape[1:]) for a in (cand, Tl, trunc, rounding)
        )
        improve = (new_err < self.best_err[sel]) & ~self.done[sel]
        if np.count_nonzero(improve):
            mult = self.mult[level][sel].reshape(lead)
            for best, new in (
                (self.best, new_val),
                (self.best_err, new_err),
                (self.best_trunc, new_trunc),
                (self.best_mult, mult),
            ):
                if isinstance(sel, slice):
                    np.copyto(best, new, where=improve)
                else:
                    best[sel] = np.where(improve, new, best[sel])
        if not isinstance(sel, slice):
            rows[slot] = np.nan  # the slot held row l - 3, of columns that may have stopped since
        # (With every column running, row l covers row l - 3's entries: no clearing needed.)
        rows[slot][: level + 1, sel] = Tl
        self._stop(level, active, sel, rtol, atol, new_round, restarted)
        self._plan(level, active, D)

    def _stop(
        self, level: int, active: Array, sel: Any, rtol: float, atol: float, rounding: Array, restarted: int
    ) -> None:
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
        stop = ~done & (met | floor)
        if np.count_nonzero(stop):
            self.reason[sel] = np.where(~done & met, MET, np.where(~done & floor, ROUNDING, self.reason[sel]))
            done = done | stop
            self.done[sel] = done
            self.done_cols[sel] = np.logical_and.reduce(done.reshape(len(active), -1), axis=1)

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
            wild = (stuck & above) | ~np.isfinite(last)
            wild = np.logical_or.reduce((wild & ~self.done[sel]).reshape(len(active), -1), axis=1)
            if np.count_nonzero(wild):
                jump = active[wild]
                self.start[jump] = level + 1
                self.rows[level % 3][:, jump] = np.nan  # the new run's tableau starts afresh
                self.changes[:, jump] = np.nan
                nxt = np.where(wild, mult / JUMP, nxt)
        elif not np.all(np.isfinite(D[-1])):
            bad = ~np.logical_and.reduce(np.isfinite(D[-1]).reshape(len(active), -1), axis=1)
            self.start[active[bad]] = 1
            self.rows[level % 3][:, active[bad]] = np.nan
        self.next_mult[sel] = nxt

    # -- result ---------------------------------------------------------------------
    def estimate(self, rtol: float, atol: float, strict: bool) -> Estimate:
        with np.errstate(all="ignore"):
            return self._estimate(rtol, atol, strict)

    def _estimate(self, rtol: float, atol: float, strict: bool) -> Estimate:
        code = np.zeros(self.best.shape, dtype=np.int8)  # Status codes
        size = np.maximum(
            np.abs(self.best), np.abs(self.ev.f0) / _expand(self.layout.reach, self.ncols, self.out)
        )
        large = self.best_err > self.eps ** (1 / 3) * size
        short = self.best_err > np.maximum(atol, rtol * np.abs(self.best))
        code[(self.reason == ROUNDING) & (large | (strict & short))] = _ROUNDOFF
        code[~self.done] = _NOT_CONVERGED
        code[self._not_differentiable()] = _NOT_DIFFERENTIABLE
        nonfinite = ~np.isfinite(self.best)
        code[nonfinite] = _NONFINITE
        status = code
        step = self._steps()
        return Estimate(
            value=self.best,
            error=np.where(nonfinite, np.inf, self.best_err),
            nonfinite=nonfinite,
            modelled=np.zeros(self.best.shape, dtype=bool),
            status=status,
            step=step,
        )

    def _not_differentiable(self) -> Array:
        """Kinks (one-sided slopes that stay apart) and jumps (differences that do not shrink with h).

        Only the last three steps of each column's final run count, where the steps halve:
        there a differentiable f has both indicators halving with h. A jump of f at x
        keeps ``|f(x + h) - f(x - h)|`` at the size of the jump however small h gets.
        """
        if not self.two_sided or self.stencil.n != 1 or self.points.levels < 2:
            return np.zeros(self.best.shape, dtype=bool)
        # Columns run from the first level until they stop: the last is where mult is finite.
        last = np.add.reduce(np.isfinite(self.mult[: self.points.levels]), axis=0) - 1
        settled = np.logical_and.reduce(self.done.reshape(self.ncols, -1), axis=1)
        # A column that never settled is judged on its last three steps, whatever their
        # ratio; one that settled, on the (up to three) steps of its final run.
        first = np.where(settled, np.maximum(last - 2, self.start), last - 2)
        judged = (first >= 0) & (last - first >= 1)
        three = (first == last - 2).reshape((-1,) + (1,) * len(self.out))
        indicators, noise = self._indicators(np.maximum(last - np.arange(3)[:, None], 0))
        steady = _steady(indicators, noise, three)  # kinks, jumps
        out: Array = (steady[0] | steady[1]) & judged.reshape(three.shape)
        return out

    def _steps(self) -> Array:
        bm = self.best_mult.reshape(self.ncols, -1)
        if not self.best.size:
            mult = np.ones(1)
        else:
            mult = bm.max(axis=1) if not np.isnan(bm).any() else np.nanmax(bm, axis=1)
        mult = np.where(np.isfinite(mult), mult, 1.0)
        if self.layout.one_column:
            return self.h0 * np.nanmax(mult)
        return self.h0 * mult


def _steady(a: Array, noise: Array, three: Array) -> Array:
    """True where ``a`` over the judged steps (halving) does not shrink and is above `noise`.

    ``a[:, k]`` is at the level k steps before each column's last (the leading axis: one
    indicator each); `three` marks the columns judged on three steps rather than two.
    """
    a0, a1, a2 = a[:, 0], a[:, 1], a[:, 2]
    out: Array = (a0 > 100 * noise) & (a0 > 0.7 * a1) & (~three | (a1 > 0.7 * a2))
    return out


def _combine(w: Array, values: Array) -> Array:
    """``sum_k w_k values[:, k]`` (a handful of offsets: cheaper than tensordot)."""
    total: Array = w[0] * values[:, 0]
    for k in range(1, len(w)):
        total = total + w[k] * values[:, k]
    return total


def _expand(a: Array, ncols: int, out_shape: tuple[int, ...]) -> Array:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        return a.reshape((ncols,) + (1,) * len(out_shape))
    return a.reshape((ncols, *out_shape))
