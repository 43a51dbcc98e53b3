"""The adaptive mode: a shrinking step sequence with Richardson extrapolation per column.

Every column (coordinate, direction, or the elementwise column) walks down its own
sequence of steps ``h_0 > h_1 > ...`` in lockstep with the others, but stops as soon
as its entries have converged; only the columns still running are evaluated at the
next step. Steps halve, so a stencil whose offsets include ``2 o`` for an offset
``o`` (the default 4th-order central stencil) finds half of its points already
evaluated at the previous step; every point is evaluated once.

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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._engine import Estimate, Layout
from ._evaluate import Evaluator
from ._result import Status
from .richardson import abs_coefficients, expansion_spacing, next_row, row_changes, row_truncation
from .stencils import Stencil
from .steps import COMPLEX_STEP, absolute_steps

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


@dataclass
class _Levels:
    """Everything computed so far, one list entry per level (arrays over all columns)."""

    mult: list[Array] = field(default_factory=list)  # step multiplier of each column, NaN if idle
    values: list[Array] = field(default_factory=list)  # (ncols, K, *out) values at the offsets
    quotient: list[Array] = field(default_factory=list)  # D(h_l), (ncols, *out)
    rounding: list[Array] = field(default_factory=list)  # rounding error of D(h_l)
    step: list[Array] = field(default_factory=list)  # the steps, broadcast against (ncols, *out)


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
    run = _Run(ev, layout, stencil, np.asarray(h0, dtype=np.float64), eps)
    for level in range(max_steps):
        active = np.flatnonzero(~run.done_cols)
        if active.size == 0:
            break
        run.step(level, active)
        run.choose(level, active, rtol, atol)
    return run.estimate(rtol, atol, strict)


class _Run:
    """State of one adaptive run over all columns."""

    def __init__(self, ev: Evaluator, layout: Layout, stencil: Stencil, h0: Array, eps: float):
        self.ev, self.layout, self.stencil, self.h0, self.eps = ev, layout, stencil, h0, eps
        self.ncols = layout.ncols
        self.out = ev.out_shape
        shape = (self.ncols, *self.out)
        self.offsets = stencil.offsets[stencil.offsets != 0]
        self.lv = _Levels()
        self.start = np.zeros(self.ncols, dtype=int)  # first level of each column's current run
        self.next_mult = np.ones(self.ncols)
        self.done_cols = np.zeros(self.ncols, dtype=bool)
        self.best = np.full(shape, np.nan)
        self.best_err = np.full(shape, np.inf)
        self.best_trunc = np.full(shape, np.inf)
        self.best_mult = np.full(shape, np.nan)
        self.done = np.zeros(shape, dtype=bool)
        self.reason = np.full(shape, "", dtype=object)
        self.spacing = expansion_spacing(stencil.kind)
        self.two_sided = bool(np.any(stencil.offsets > 0) and np.any(stencil.offsets < 0))
        self.rows: list[Array] = []  # the last tableau rows, (orders, ncols, *out)
        self.dtype = np.result_type(
            ev.f0.dtype, np.float64, np.complex128 if stencil.is_complex else np.float64
        )
        self.weight = ROUNDING_WEIGHT if self.spacing == 2 else ONE_SIDED_WEIGHT
        self.keys: dict[Any, tuple[Any, ...]] = {}
        o = self.offsets
        self.plus = int(np.argmin(np.where(o > 0, o, np.inf)))
        self.minus = int(np.argmax(np.where(o < 0, o, -np.inf)))  # (on one-sided stencils: unused)
        self.floor = (COMPLEX_FLOOR if stencil.is_complex else FLOOR) * eps
        self.f0 = np.broadcast_to(ev.f0, (self.ncols, *self.out)).astype(self.dtype)
        self.w = stencil.weights[stencil.offsets != 0]
        self.w0 = float(stencil.weights[stencil.offsets == 0].sum())
        absx = np.abs(layout.x.ravel())
        if layout.kind == "axes":
            self.xmag = _expand(absx[layout.columns], self.ncols, self.out)
        elif layout.kind == "directions":
            assert layout.directions is not None
            self.xmag = _expand(np.abs(layout.directions) @ absx, self.ncols, self.out)
        else:
            self.xmag = absx.reshape(1, *self.out)

    # -- evaluation -------------------------------------------------------------------
    def step(self, level: int, active: Array) -> None:
        """Evaluate level `level` on the `active` columns, reusing earlier points."""
        K = len(self.offsets)
        mult = np.full(self.ncols, np.nan)
        mult[active] = self.next_mult[active]
        values = np.full((self.ncols, K, *self.out), np.nan, dtype=self._dtype())
        # Columns with the same history of step ratios reuse the same offsets: one group each.
        back = range(level - 1, max(-1, level - 4), -1)
        history = np.array([self.lv.mult[lv][active] / mult[active] for lv in back]).reshape(-1, len(active))
        history = np.where(np.isnan(history), 0.0, history)
        if history.size == 0 or (history == history[:, :1]).all():
            kinds, groups = history[:, :1], [active]
        else:
            kinds, which = np.unique(history, axis=1, return_inverse=True)
            groups = [active[np.ravel(which) == g] for g in range(kinds.shape[1])]
        plans = []
        for g, cols in enumerate(groups):
            key = self._reuse_key(level, list(back), kinds[:, g])
            fresh = [k for k, hit in enumerate(key) if hit is None]
            for k, hit in enumerate(key):
                if hit is not None:
                    values[cols, k] = self.lv.values[hit[0]][cols, hit[1]]
            if fresh:
                idx = cols
                pts = _subset(self.layout, idx).points(
                    self._h(idx, mult), self.offsets[fresh], self.stencil.is_complex
                )
                plans.append((idx, fresh, pts))
        if plans:
            out = self.ev(_Concat([p[2] for p in plans]))
            start = 0
            for idx, fresh, pts in plans:
                block = out[start : start + len(pts)].reshape(len(idx), len(fresh), *self.out)
                start += len(pts)
                values[idx[:, None], np.array(fresh)[None, :]] = block
        self.lv.mult.append(mult)
        self.lv.values.append(values)
        self._quotients(mult, values)

    def _dtype(self) -> Any:
        return self.dtype

    def _h(self, idx: Array, mult: Array) -> Array:
        h: Array = self.h0 * mult[0] if self.layout.kind == "elementwise" else self.h0[idx] * mult[idx]
        return h

    def _reuse_key(self, level: int, back: list[int], ratios: Array) -> tuple[Any, ...]:
        """For each offset, the (level, offset index) where its point was evaluated, or None.

        `ratios` holds ``mult_level' / mult_level`` for the earlier levels in `back` (0 where
        the column did not run): offset o now is offset ``o / ratio`` then.
        """
        memo = (tuple(back), tuple(ratios.tolist()))
        if memo in self.keys:
            return self.keys[memo]
        key: list[Any] = []
        for o in self.offsets.tolist():
            hit = None
            for lv, ratio in zip(back, ratios.tolist(), strict=True):
                if ratio == 0:
                    continue
                match = np.flatnonzero(self.offsets == o / ratio)
                if match.size:
                    hit = (lv, int(match[0]))
                    break
            key.append(hit)
        self.keys[memo] = tuple(key)
        return self.keys[memo]

    def _quotients(self, mult: Array, values: Array) -> None:
        """D(h), its rounding error and the kink indicator for this level."""
        st, eps, f0, w, w0 = self.stencil, self.eps, self.f0, self.w, self.w0
        h = _expand(
            self.h0 * mult if self.layout.kind != "elementwise" else self.h0 * mult[0], self.ncols, self.out
        )
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            total = _combine(w, values) + w0 * f0
            if st.is_complex:
                total, parts = total.imag, np.abs(values.imag)
                absf0 = 0.0
            else:
                parts, absf0 = np.abs(values), np.abs(f0)
            D = total / h**st.n
            rounding = eps * (_combine(np.abs(w), parts) + abs(w0) * absf0) / h**st.n
            rounding = rounding + eps * np.abs(D)
            if st.n == 1 and not st.is_complex:
                rounding = rounding + 2 * eps * st.amplification * self._sensitivity(D) / h
        self.lv.quotient.append(D)
        self.lv.rounding.append(rounding)
        self.lv.step.append(h)

    def _sensitivity(self, D: Array) -> Array:
        """``sum_j |x_j| |df/dx_j|``: rounding of f's own arithmetic near x (see _engine._error)."""
        # Finished columns by their answer, running ones by their latest quotient (an early
        # "best" from a step far above f's scale can be wild).
        done = self.done_cols.reshape((-1,) + (1,) * len(self.out))
        known = np.where(done & np.isfinite(self.best), self.best, D)
        s: Array = self.xmag * np.abs(known)
        s[~np.isfinite(s)] = 0.0
        if self.layout.sum_columns:
            s = s.sum(axis=0)
        return s

    def _indicators(self) -> tuple[Array, Array, Array, Array]:
        """Per level: ``|forward - backward slope|``, ``|f(x+h) - f(x-h)|`` and their rounding."""
        o, plus, minus = self.offsets, self.plus, self.minus
        values = np.stack(self.lv.values)
        h = np.stack([np.broadcast_to(h, values.shape[1:2] + values.shape[3:]) for h in self.lv.step])
        up, down, f0 = values[:, :, plus], values[:, :, minus], self.f0[None]
        kink = np.abs((up - f0) / (o[plus] * h) - (f0 - down) / (-o[minus] * h))
        near = np.abs(up) + np.abs(down)
        kink_noise = self.eps * (near + 2 * np.abs(f0)) / (min(o[plus], -o[minus]) * h)
        return kink, np.abs(up - down), kink_noise, self.eps * near

    # -- extrapolation and stopping ---------------------------------------------------
    def choose(self, level: int, active: Array, rtol: float, atol: float) -> None:
        """Update each active entry's best estimate; stop converged columns; plan the next step."""
        with np.errstate(all="ignore"):
            self._choose(level, active, rtol, atol)

    def _choose(self, level: int, active: Array, rtol: float, atol: float) -> None:
        # Views, not copies, while every column is running (the common case).
        sel: Any = slice(None) if active.size == self.ncols else active
        lead = (-1,) + (1,) * len(self.out)
        start = self.start[sel].reshape(lead)
        D = np.stack(self.lv.quotient[-3:])[:, sel]
        levels = (-1,) + (1,) * (1 + len(self.out))
        D = np.where(np.arange(level + 1 - len(D), level + 1).reshape(levels) >= start, D, np.nan)
        p, s = self.stencil.accuracy, self.spacing
        rows = [r[:, sel] for r in self.rows[-2:]]
        Tl = next_row(D[-1], rows[-1] if rows else None, RATIO, p, s)
        Tp = _pad(rows[-1], level + 1) if rows else np.full_like(Tl, np.nan)
        Tpp = _pad(rows[-2], level + 1) if len(rows) > 1 else np.full_like(Tl, np.nan)
        # Rounding of every entry of the row, propagated through the tableau's weights.
        R = np.stack(self.lv.rounding)[:, sel]
        keep = np.arange(level + 1).reshape(levels) >= start
        coef = abs_coefficients(level + 1, RATIO, p, s)[level]
        model = (coef @ np.where(keep, R, 0.0).reshape(level + 1, -1)).reshape(Tl.shape)
        rounding = np.fmin(model, MEASURED * row_changes(Tl, Tp, Tpp)) + self.weight * model
        rounding += self.floor * np.abs(Tl)
        trunc = row_truncation(Tl, Tp, RATIO, p, s, SAFETY)
        err = trunc + rounding
        cand = np.where(np.isfinite(err), err, np.inf)
        m = np.argmin(cand.reshape(len(cand), -1), axis=0)
        cells = np.arange(m.size)
        shape = cand.shape[1:]
        new_err, new_val, new_trunc, new_round = (
            a.reshape(len(a), -1)[m, cells].reshape(shape) for a in (cand, Tl, trunc, rounding)
        )
        improve = (new_err < self.best_err[sel]) & ~self.done[sel]
        self.best[sel] = np.where(improve, new_val, self.best[sel])
        self.best_err[sel] = np.where(improve, new_err, self.best_err[sel])
        self.best_trunc[sel] = np.where(improve, new_trunc, self.best_trunc[sel])
        mult = self.lv.mult[level][sel].reshape(lead)
        self.best_mult[sel] = np.where(improve, mult, self.best_mult[sel])
        full = np.full((level + 1, self.ncols, *self.out), np.nan)
        full[:, sel] = Tl
        self.rows = self.rows[-2:] + [full]
        self._stop(level, active, sel, rtol, atol, new_round)
        self._plan(level, active, D)

    def _stop(self, level: int, active: Array, sel: Any, rtol: float, atol: float, rounding: Array) -> None:
        best, err, done = self.best[sel], self.best_err[sel], self.done[sel]
        met = err <= np.maximum(atol, rtol * np.abs(best))
        # Truncation below rounding: a smaller step only adds rounding.
        ran = (level >= self.start[sel] + 2).reshape((-1,) + (1,) * len(self.out))
        floor = np.isfinite(err) & (self.best_trunc[sel] <= rounding) & ran
        self.reason[sel] = np.where(~done & met, "met", np.where(~done & floor, "rounding", self.reason[sel]))
        done = done | met | floor
        self.done[sel] = done
        self.done_cols[sel] = done.reshape(len(active), -1).all(axis=1)

    def _plan(self, level: int, active: Array, D: Array) -> None:
        """Halve the step, or jump when the last two quotients disagree grossly."""
        nxt = self.lv.mult[level][active] / RATIO
        if level >= 1:
            last, prev = D[-1], D[-2]
            R = self.lv.rounding[level][active]
            with np.errstate(invalid="ignore", divide="ignore"):
                gap = np.abs(last - prev)
                above = gap > 10 * R
                # Two quotients of a run: only a gross disagreement says the step is too large
                # (a small derivative can differ by a large fraction in the asymptotic regime);
                # three: the differences must shrink, by r^p in the asymptotic regime.
                gross = gap > PRE_ASYMPTOTIC * np.maximum(np.abs(last), np.abs(prev))
                before = np.abs(prev - D[-3]) if len(D) > 2 else np.full_like(gap, np.nan)
                stuck = np.where(np.isnan(before), gross, gap > CONTRACTION * before)
                wild = (stuck & above) | ~np.isfinite(last)
            undone = ~self.done[active]
            wild = (wild & undone).reshape(len(active), -1).any(axis=1)
            jump = active[wild]
            self.start[jump] = level + 1
            self.rows[-1][:, jump] = np.nan  # the new run's tableau starts afresh
            nxt = np.where(wild, self.lv.mult[level][active] / JUMP, nxt)
        elif not np.all(np.isfinite(D[-1])):
            bad = ~np.isfinite(D[-1]).reshape(len(active), -1).all(axis=1)
            self.start[active[bad]] = 1
            self.rows[-1][:, active[bad]] = np.nan
        self.next_mult[active] = nxt

    # -- result ---------------------------------------------------------------------
    def estimate(self, rtol: float, atol: float, strict: bool) -> Estimate:
        status = np.full(self.best.shape, Status.SUCCESS, dtype=object)
        with np.errstate(invalid="ignore"):
            size = np.maximum(
                np.abs(self.best), np.abs(self.ev.f0) / _expand(self.layout.reach, self.ncols, self.out)
            )
            large = self.best_err > self.eps ** (1 / 3) * size
            short = self.best_err > np.maximum(atol, rtol * np.abs(self.best))
        status[(self.reason == "rounding") & (large | (strict & short))] = Status.ROUNDOFF
        status[~self.done] = Status.NOT_CONVERGED
        status[self._not_differentiable()] = Status.NOT_DIFFERENTIABLE
        nonfinite = ~np.isfinite(self.best)
        status[nonfinite] = Status.NONFINITE
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
        out = np.zeros(self.best.shape, dtype=bool)
        if not self.two_sided or self.stencil.n != 1 or len(self.lv.values) < 2:
            return out
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            kink, jump, kn, jn = self._indicators()
        ran = np.array([np.isfinite(m) for m in self.lv.mult])  # (levels, ncols)
        stop = np.array([np.flatnonzero(ran[:, j]).max() for j in range(self.ncols)])
        for j in range(self.ncols):
            c, settled = stop[j], bool(self.done[j].all())
            # A column that never settled is judged on its last three steps, whatever their
            # ratio; one that settled, on the (up to three) steps of its final run.
            first = max(c - 2, self.start[j]) if settled else c - 2
            if first < 0 or c - first < 1:
                continue
            with np.errstate(invalid="ignore", over="ignore"):
                out[j] = _steady(kink[first : c + 1, j], kn[c, j]) | _steady(jump[first : c + 1, j], jn[c, j])
        return out

    def _steps(self) -> Array:
        mult = np.nanmax(self.best_mult.reshape(self.ncols, -1), axis=1) if self.best.size else np.ones(1)
        mult = np.where(np.isfinite(mult), mult, 1.0)
        if self.layout.kind == "elementwise":
            return self.h0 * np.nanmax(mult)
        return self.h0 * mult


def _combine(w: Array, values: Array) -> Array:
    """``sum_k w_k values[:, k]`` (a handful of offsets: cheaper than tensordot)."""
    total: Array = w[0] * values[:, 0]
    for k in range(1, len(w)):
        total = total + w[k] * values[:, k]
    return total


def _pad(row: Array, length: int) -> Array:
    """A tableau row with NaN for the orders it does not have yet."""
    out = np.full((length, *row.shape[1:]), np.nan)
    out[: len(row)] = row
    return out


def _steady(a: Array, noise: Array) -> Array:
    """True where the sequence ``a`` (over steps that halve) does not shrink and is above `noise`."""
    out: Array = a[-1] > 100 * noise
    for i in range(1, len(a)):
        out = out & (a[i] > 0.7 * a[i - 1])
    return out


def _subset(layout: Layout, idx: Array) -> Layout:
    if layout.kind == "axes":
        assert layout.columns is not None
        return Layout(layout.x, "axes", columns=layout.columns[idx])
    if layout.kind == "directions":
        assert layout.directions is not None
        return Layout(layout.x, "directions", directions=layout.directions[idx])
    return layout


def _expand(a: Array, ncols: int, out_shape: tuple[int, ...]) -> Array:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        return a.reshape((ncols,) + (1,) * len(out_shape))
    return a.reshape((ncols, *out_shape))


class _Concat:
    """Several point sets evaluated as one, so that one level is one call of the evaluator."""

    def __init__(self, parts: list[Any]):
        self.parts = parts
        self.bounds = np.cumsum([0] + [len(p) for p in parts])

    def __len__(self) -> int:
        return int(self.bounds[-1])

    def block(self, start: int, stop: int) -> Array:
        chunks = []
        for p, lo, hi in zip(self.parts, self.bounds[:-1], self.bounds[1:], strict=True):
            a, b = max(start, lo), min(stop, hi)
            if a < b:
                chunks.append(p.block(int(a - lo), int(b - lo)))
        return np.concatenate(chunks)
