"""Checks of an adaptive run's answers, and its result with a status per entry.

- *Verification*: a column that converged is checked against one quotient at a step off
  the lattice of halved steps (and not above an absolute step): an oscillation of f that
  the halved steps alias, or a step above f's scale, shows there.
- *Resolution*: a column whose points all return f(x), after f changed at larger steps,
  is below f's resolution and stops unresolved.
- *Non-differentiable points*: where a stencil has points on both sides of x, the forward
  and backward slopes are compared over the last steps; at a kink they stay apart, at a
  jump ``|f(x+h) - f(x-h)|`` keeps its size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._result import Status
from .adaptive_state import FIRST_STEP, ROUNDING, UNRESOLVED, State, _expand
from .fixed import Estimate

__all__ = ["Checks", "PROBE"]

Array = NDArray[Any]

#: The verification step, relative to the last step of a run: off the run's lattice of
#: halved steps, so that a step sequence aliasing an oscillation of f cannot pass it.
#: A lattice step of m periods of an oscillation aliases it for any integer m; the probe,
#: ``PROBE_ODD / 64`` of it, does too only when 64 divides m (with 3/8, every m that 8
#: divides, such as 40, would alias the probe as well).
PROBE_ODD = 23.0
PROBE = PROBE_ODD / 64

_ROUNDOFF, _NOT_CONVERGED = Status.ROUNDOFF.code, Status.NOT_CONVERGED.code
_NOT_DIFFERENTIABLE, _NONFINITE = Status.NOT_DIFFERENTIABLE.code, Status.NONFINITE.code


class Checks(State):
    """Verification, resolution and the result of a run (the levels are :mod:`dfdx.engine.adaptive`'s)."""

    def _verify(self, level: int, cols: Array) -> None:
        """Check the answers of columns that just finished against f at a step off the lattice.

        In the asymptotic regime ``D(h) - T`` shrinks with h: at ``PROBE`` times the last
        step the quotient must be nearer the answer than the last one was (up to the errors).
        A column that fails was misled (aliasing, a step above f's scale): its run restarts
        at the probe's step. The central first-derivative stencil is checked with one point.
        """
        if cols.size == 0:
            return
        budget = self.ev.budget
        if (
            budget is not None
            and budget.afford(1 if self.one_point else len(self.offsets), cols.size) < cols.size
        ):
            budget.note("answers not verified off the step lattice")
            return
        every = cols.size == self.ncols
        # All columns: slices (views), not gathers.
        sel: Any = slice(None) if every else cols
        full = np.full(self.ncols, np.nan)
        full[sel] = self._probe_mult(level, sel, cols.size)
        layout = self.layout if every else self.layout.subset(cols)
        h = self.points._h(cols, full)
        hh = h.reshape(self.hstep.shape[1:]) if self.layout.one_column else _expand(h, cols.size, self.out)
        with np.errstate(all="ignore"):
            if self.one_point:
                value = self.ev(layout.points(h, np.ones(1))).reshape(cols.size, *self.out)
                ok = self._one_point(level, sel, value, hh)
            else:
                values = self.ev(layout.points(h, self.offsets, self.stencil.is_complex))
                ok = self._whole_stencil(level, sel, values.reshape(1, cols.size, -1, *self.out), hh)
        ok |= ~np.isfinite(self.best[sel])
        bad = cols[~np.logical_and.reduce(ok.reshape(cols.size, -1), axis=1)]
        if bad.size:
            self.done[bad] = False
            self.done_cols[bad] = False
            self.reason[bad] = 0
            self._forget(bad)
            self.start[bad] = level + 1
            self.rows[:, :, bad] = np.nan
            self.changes[:, bad] = np.nan
            self.next_mult[bad] = full[bad]

    def _whole_stencil(self, level: int, cols: Any, values: Array, hh: Array) -> Array:
        """The stencil's quotient at the probe step, against the answer."""
        D, R = self._quotient(values, hh[None], self.f0[cols], self.absf0[cols])
        D, R = D[0], R[0] + self.noise_gain * self.sigma[cols] / hh**self.stencil.n
        if self.stencil.n == 1 and not self.stencil.is_complex:
            R = R + self.sensitivity * self._xmag(cols) * np.abs(D) / hh
        best, last = self.best[cols], self.quotient[level][cols]
        ok: Array = np.abs(D - best) <= 0.5 * np.abs(last - best) + 2 * self.best_err[cols] + 3 * R
        return ok

    def _one_point(self, level: int, cols: Any, value: Array, hh: Array) -> Array:
        """``(f(x + h) - f(x)) / h`` at the probe step h, against the answer's prediction of it.

        ``Q(h) = D(h) + h E(h) / 2`` with ``E`` the second difference: from the last step
        ``h_l`` (ratio ``r = h / h_l``), ``D(h) - T ~ r^2 (D(h_l) - T)`` and ``E(h) ~ E(h_l)``,
        up to the change of E from the step before.
        """
        f0, absf0, best = self.f0[cols], self.absf0[cols], self.best[cols]
        eps = self.eps
        q = (value - f0) / hh
        e_now, h_l = self._second(level, cols, f0)
        r = hh / h_l
        gap = self.quotient[level][cols] - best
        predicted = best + r**2 * gap + hh * e_now / 2
        if level > 0:
            e_before, _ = self._second(level - 1, cols, f0)
            drift = np.where(np.isfinite(e_before), np.abs(e_now - e_before), np.abs(e_now))
        else:
            drift = np.abs(e_now)
        slack = 2 * self.best_err[cols] + r**2 * np.abs(gap) + hh * drift / 2
        rounding = eps * (np.abs(value) + absf0) + self.noise_gain * self.sigma[cols]
        rounding = rounding / hh + 2 * r * eps * 4 * absf0 / h_l
        rounding = rounding + self.sensitivity * self._xmag(cols) * np.abs(q) / hh
        ok: Array = np.abs(q - predicted) <= slack + 3 * rounding
        return ok

    def _second(self, level: int, cols: Any, f0: Array) -> tuple[Array, Array]:
        """The second difference ``(f(x+h) + f(x-h) - 2 f(x)) / h^2`` of `level`, and its step."""
        h = self.hstep[level]
        h = h[cols] if h.shape[0] == self.ncols else h
        values = self.values[level]
        up, down = values[:, self.plus][cols], values[:, self.minus][cols]
        e: Array = (up + down - 2 * f0) / h**2
        return e, h

    def _xmag(self, cols: Any) -> Array:
        out: Array = self.xmag[cols if self.xmag.shape[0] == self.ncols else slice(0, 1)]
        return out

    def _probe_mult(self, level: int, cols: Any, n_cols: int) -> Array:
        """The probe's step (as a multiplier of h0): ``PROBE`` times the last step at most.

        Not above an absolute step either, since f's scale is not assumed from |x| (sin at
        1e6, floor far from 0 look smooth on steps of 2^k, k >= 0) -- unless rounding, of
        f or of x + h, would hide a tenth of the answer at that step: then the smallest step
        of the form ``PROBE_ODD * 2^k`` at which it would not.
        """
        n = self.stencil.n
        best = np.abs(self.best[cols])
        with np.errstate(all="ignore"):
            spread = 2 * self.eps * self.amplification * self.absf0[cols]
            if np.count_nonzero(self.sigma):
                spread = spread + self.noise_gain * self.sigma[cols]
            if n == 1 and not self.stencil.is_complex:
                spread = spread + self.sensitivity * self._xmag(cols) * best
            need = spread / (0.1 * best)
            if n != 1:
                need = need ** (1.0 / n)
        need = np.fmax.reduce(np.where(np.isfinite(need), need, 0.0).reshape(n_cols, -1), axis=1)
        h0 = self.h0[cols] if not self.layout.one_column else np.max(self.h0)
        low = np.maximum(FIRST_STEP * PROBE, need)
        low = PROBE_ODD * np.exp2(np.ceil(np.log2(low / PROBE_ODD)))
        out: Array = np.minimum(self.mult[level][cols] * PROBE, low / h0)
        return out

    def _below_resolution(self, level: int, active: Array, sel: Any) -> None:
        """Stop columns whose latest points all gave f(x) exactly, after f changed at larger steps.

        Such a step is below f's resolution (x + h rounds to x inside f): the quotients
        are zero, not the derivative, and every smaller step would say the same.
        """
        if self.stencil.is_complex:
            return
        values = self.values[level][sel]
        same = values == self.f0[sel][:, None]
        flat = np.logical_and.reduce(same.reshape(len(active), -1), axis=1)
        if np.count_nonzero(flat) and np.count_nonzero(flat & self.resolved[sel]):
            stop = active[flat & self.resolved[sel]]
            self.done_cols[stop] = True
            self.reason[stop] = np.where(self.done[stop], self.reason[stop], UNRESOLVED)
        self.resolved[sel] |= ~flat

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

    def estimate(self, rtol: float, atol: float, strict: bool) -> Estimate:
        with np.errstate(all="ignore"):
            return self._estimate(rtol, atol, strict)

    def _estimate(self, rtol: float, atol: float, strict: bool) -> Estimate:
        if np.count_nonzero(self.blind) and not self.stencil.is_complex:
            self._quantised()
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
        if not self.two_sided or self.stencil.n > 2 or self.points.levels < 2:
            return np.zeros(self.best.shape, dtype=bool)
        # Columns run from the first level until they stop: the last is where mult is finite.
        last = np.add.reduce(np.isfinite(self.mult[: self.points.levels]), axis=0) - 1
        settled = np.logical_and.reduce(self.done.reshape(self.ncols, -1), axis=1)
        # A column that never settled is judged on its last three steps, whatever their
        # ratio; one that settled, on the (up to three) steps of its final run.
        first = np.where(settled, np.maximum(last - 2, self.start), last - 2)
        if self.stencil.n == 2:
            return self._slope_kinks(last, first)
        judged = (first >= 0) & (last - first >= 1)
        three = (first == last - 2).reshape((-1,) + (1,) * len(self.out))
        indicators, noise = self._indicators(np.maximum(last - np.arange(3)[:, None], 0))
        steady = _steady(indicators, noise, three)  # kinks, jumps
        out: Array = (steady[0] | steady[1]) & judged.reshape(three.shape)
        return out

    def _slope_kinks(self, last: Array, first: Array) -> Array:
        """Second derivatives at a kink of the slope (``|t| t`` at 0): the odd part of f says so.

        With ``O(h) = (f(x + h) - f(x - h)) / 2``, ``K(h) = (O(2h) - 2 O(h)) / h^2`` is
        h times the third derivative for a smooth f, halving with h; where the second
        derivative jumps by ``J`` at x it keeps the size ``J / 2``, while the even
        part (the second difference) converges to the mean of the one-sided second
        derivatives as if f were smooth. Judged on the three steps of a final run.
        """
        o, plus, minus, cols = self.offsets, self.plus, self.minus, self.all
        if o[plus] != -o[minus]:
            return np.zeros(self.best.shape, dtype=bool)
        levels = np.maximum(last - np.arange(3)[:, None], 0)  # last, last - 1, last - 2
        up, down = self.values[levels, cols, plus], self.values[levels, cols, minus]
        h = self.hstep[levels, cols if self.hstep.shape[1] == self.ncols else 0] * o[plus]
        halving = np.logical_and.reduce(h[1:] == 2 * h[:-1], axis=0)
        odd = (up - down) / 2
        K = np.abs(odd[1:] - 2 * odd[:-1]) / h[:-1] ** 2  # K(h_last), K(h_last-1)
        size = self.eps * (np.abs(up) + np.abs(down)) + 2 * self.sigma[None]
        noise = (size[1] + 2 * size[0]) / h[0] ** 2
        kink = (K[0] > 100 * noise) & (K[0] > 0.7 * K[1]) & halving
        judged = (first == last - 2).reshape((-1,) + (1,) * len(self.out))
        out: Array = kink & judged
        return out

    def _quantised(self) -> None:
        """Widen the bars of entries whose values are rounded to a quantum far above f's ulp.

        Such values (an f that rounds its output, a counter, a table) can be exactly
        affine in the step on the last steps, so quotients agree to the last bit and the
        noise measurement sees nothing. Their differences from f(x), on the last three
        levels, are then integer multiples of one quantum q well below the smallest of
        them (a smooth or exact f has no such common divisor, or only the smallest
        difference itself); each value may be off by q / 2.
        """
        cols = np.flatnonzero(np.logical_or.reduce(self.blind.reshape(self.ncols, -1), axis=1))
        levels = self.points.levels
        d = self.values[max(0, levels - 3) : levels, cols] - self.f0[cols][None, :, None]
        d = np.abs(np.moveaxis(d, 1, 0).reshape(len(cols), -1, *self.out))  # (cols, points, *out)
        d = np.where(np.isfinite(d) & (d > 0), d, np.nan)
        top = np.fmax.reduce(d, axis=1)
        tol = np.maximum(1e-9 * top, 64 * self.eps * np.abs(self.f0[cols]))
        q = _common_divisor(d, tol)
        least = np.fmin.reduce(d, axis=1)
        # A quantum of a few bits (3 * 2^-k) is what exact arithmetic on dyadic points gives
        # (a polynomial at integers): only one with a full mantissa (1e-3, a measured unit) counts.
        mantissa = (np.frexp(np.where(np.isfinite(q), q, 0.0))[0] * 2.0**53).astype(np.int64)
        odd = mantissa // np.maximum(mantissa & -mantissa, 1)
        found = (q > 1e3 * tol) & (least >= 2.5 * q) & (odd > 2**20) & self.blind[cols]
        if not np.count_nonzero(found):
            return
        h = _expand(self.h0, self.ncols, self.out)[cols] * self.best_mult[cols]
        bar = self.amplification * (q / 2) / h**self.stencil.n
        self.best_err[cols] = np.where(found, np.fmax(self.best_err[cols], bar), self.best_err[cols])

    def _steps(self) -> Array:
        bm = self.best_mult.reshape(self.ncols, -1)
        if not self.best.size:
            mult = np.ones(1)
        else:
            mult = bm.max(axis=1) if not np.isnan(bm).any() else np.fmax.reduce(bm, axis=1)
        mult = np.where(np.isfinite(mult), mult, 1.0)
        if self.layout.one_column:
            out: Array = self.h0 * np.fmax.reduce(mult)
            return out
        return self.h0 * mult


def _steady(a: Array, noise: Array, three: Array) -> Array:
    """True where ``a`` over the judged steps (halving) does not shrink and is above `noise`.

    ``a[:, k]`` is at the level k steps before each column's last (the leading axis: one
    indicator each); `three` marks the columns judged on three steps rather than two.
    """
    a0, a1, a2 = a[:, 0], a[:, 1], a[:, 2]
    out: Array = (a0 > 100 * noise) & (a0 > 0.7 * a1) & (~three | (a1 > 0.7 * a2))
    return out


def _common_divisor(d: Array, tol: Array) -> Array:
    """The largest q of which every finite entry of ``d[:, k]`` is an integer multiple, to `tol`.

    Euclid's algorithm on floats, entry by entry; NaN entries are skipped, and a result
    of order `tol` means no common divisor.
    """
    g = np.full(tol.shape, np.nan)
    for k in range(d.shape[1]):
        b = d[:, k]
        a = np.where(np.isnan(g), b, g)
        b = np.where(np.isnan(g) | np.isnan(b), 0.0, b)
        for _ in range(64):
            more = b > tol
            if not np.count_nonzero(more):
                break
            a, b = np.where(more, b, a), np.where(more, np.fmod(a, np.where(more, b, 1.0)), 0.0)
            # A remainder within tol of the divisor is a multiple too.
            b = np.where(b > np.where(more, a, np.inf) - tol, 0.0, b)
        g = a
    return g
