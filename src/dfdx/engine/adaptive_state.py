"""State of an adaptive run: its arrays, its quotients and f's noise measured from its points.

:class:`State` holds everything :mod:`dfdx.engine.adaptive` computes per level, in arrays
preallocated for every level (leading axis: the level), so that a level costs a fixed,
small number of numpy calls. The quotients and their rounding bounds are computed here,
and so is f's noise: at level l of a run, the points of the last few levels and f(x)
carry a high divided difference (:func:`noise_nodes`) whose smooth part shrinks fast
with the step; what stays is f's noise, rounding inside f included, which then counts in
every bar (a noise level confirmed by two levels may also stop a column).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..evaluation.evaluator import Evaluator
from ..numerics.richardson import expansion_spacing, noise_weights
from ..numerics.stencils import Stencil
from .adaptive_points import LevelPoints, StencilData, as_bytes, stencil_data
from .layouts import Layout

__all__ = ["State", "noise_nodes", "FIRST_STEP", "MET", "ROUNDING", "UNRESOLVED"]

Array = NDArray[Any]

#: First step relative to ``max(1, |x|)``: large, so that rounding stays small; the
#: extrapolation removes the truncation error (and the scale search the too-large steps).
FIRST_STEP = 2.0**-3
#: Rounding of a tableau entry, calibrated on the problem bank (tests/test_calibration.py):
#: the smaller of the propagated bound and MEASURED times the changes the tableau shows
#: between steps (which carry the rounding actually made), plus a fraction of the bound
#: (ROUNDING_WEIGHT for symmetric stencils, ONE_SIDED_WEIGHT for one-sided ones, whose
#: shared f(x) makes rounding correlated between steps), plus FLOOR ulps of the value
#: (COMPLEX_FLOOR for the complex step).
ROUNDING_WEIGHT = 0.01
ONE_SIDED_WEIGHT = 0.1
FLOOR = 2.5
COMPLEX_FLOOR = 8.0
#: Measured noise (see :func:`noise_nodes`) counts this many times, times the stencil's
#: amplification, in the rounding of a quotient.
NOISE_SIGMAS = 3.0
#: Most nodes of the noise measurement (the ones nearest x).
NOISE_NODES = 7
#: Largest ratio of two successive noise measurements that agree.
NOISE_AGREE = 8.0
#: Levels of noise measurements kept.
NOISE_WINDOW = 3
#: Why an entry stopped (codes of ``State.reason``): its tolerance was met, its truncation
#: fell below its rounding, or its steps fell below f's resolution (not converged).
MET, ROUNDING, UNRESOLVED = 1, 2, 3


@lru_cache(maxsize=64)
def noise_nodes(offsets: bytes) -> tuple[tuple[tuple[int, int], ...], Array]:
    """Where the noise measurement takes its values, and its weights.

    At level l of a run the points of levels l, l-1, ... lie at ``x + o 2^b h_l``
    (b = 0 .. 3): with f(x), the nodes nearest x (at most NOISE_NODES) carry the highest
    divided difference :func:`~dfdx.numerics.richardson.noise_weights`. Returns
    ``(b, k)`` per node (``k = -1`` for f(x)) and the weights.

    Examples
    --------
    >>> where, a = noise_nodes(np.array([-1.0, 1.0]).tobytes())
    >>> sorted(where)[:3], len(a)
    ([(-1, -1), (0, 0), (0, 1)], 7)
    """
    o = np.frombuffer(offsets)
    found: dict[float, tuple[int, int]] = {0.0: (-1, -1)}
    for b in range(4):
        for k, ok in enumerate(o.tolist()):
            found.setdefault(ok * 2.0**b, (b, k))
    t = sorted(found, key=abs)[:NOISE_NODES]
    return tuple(found[ti] for ti in t), noise_weights(t)


class State:
    """State of one adaptive run over all columns (see the module notes)."""

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
        self.resolved = np.zeros(ncols, dtype=bool)  # f changed across some level's stencil
        self.alive = np.broadcast_to(np.isfinite(ev.f0), shape)
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
        self._init_noise(stencil, sd, shape)
        self.amplification = sd.amplification
        # The central first-derivative stencil (offsets -1, 1) is verified with one point.
        self.one_point = (
            stencil.n == 1 and not stencil.is_complex and sorted(sd.offsets.tolist()) == [-1.0, 1.0]
        )
        self.noise_gain = NOISE_SIGMAS * sd.amplification
        absx = np.abs(layout.x.ravel())
        if layout.one_column:
            self.xmag = absx.reshape(1, *self.out)
        else:
            self.xmag = _expand(layout.magnitude()[:, 0], ncols, self.out)

    def _init_noise(self, stencil: Stencil, sd: StencilData, shape: tuple[int, ...]) -> None:
        """f's noise (rounding inside f included), measured from the values (0 until measured)."""
        self.sigma = np.zeros(shape)
        self.noise_sum = np.full(shape, np.nan)
        self.noise_raw = np.full((NOISE_WINDOW, *shape), np.nan)
        self.best_unit = np.zeros(shape)
        self.best_order = np.full(shape, -1, dtype=np.intp)  # the tableau column of the best entry
        self.confirmed = np.zeros(shape, dtype=bool)
        # Entries whose quotients agreed to the last bit where rounding should show: checked
        # for outputs rounded to a quantum (adaptive_checks) once the run is over.
        self.blind = np.zeros(shape, dtype=bool)
        self.nodes = None if stencil.is_complex else noise_nodes(as_bytes(sd.offsets))
        self.node_index: tuple[Array, Array, Array] | None = None
        self.at_x = 0.0
        self.noise_back = 0
        if self.nodes is not None:
            # The nodes as index arrays (f(x) apart), for one gather per combination.
            where, a = self.nodes
            others = [(b, k, ak) for (b, k), ak in zip(where, a.tolist(), strict=True) if k >= 0]
            self.at_x = sum(ak for (b, k), ak in zip(where, a.tolist(), strict=True) if k < 0)
            weight = np.array([w for _, _, w in others]).reshape((-1,) + (1,) * (len(shape)))
            back, offset = np.array([b for b, _, _ in others]), np.array([k for _, k, _ in others])
            self.node_index = (back, offset, weight)
            self.noise_back = max(b for b, _ in where)

    def _quotient(self, values: Array, h: Array, f0: Array, absf0: Array) -> tuple[Array, Array]:
        """D(h) of `values` ``(levels, columns, offsets, *out)`` and its rounding bound."""
        st, eps, w, w0 = self.stencil, self.eps, self.w, self.w0
        # Levels and columns as one axis for _combine: the same arithmetic either way.
        flat = values.reshape(-1, *values.shape[2:])
        total = _combine(w, flat).reshape(values.shape[:2] + values.shape[3:])
        if self.uses_f0:
            total = total + w0 * f0
        if st.is_complex:
            total, parts = total.imag, np.abs(flat.imag)
            absf0 = np.zeros(1)
        else:
            parts = np.abs(flat)
        hn = h**st.n
        D = total / hn
        size = _combine(self.absw, parts).reshape(D.shape)
        if self.uses_f0:
            size = size + abs(w0) * absf0
        rounding = eps * size / hn + eps * np.abs(D)
        return D, rounding

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

    def _pole(self, D: Array, n: int, sel: Any = slice(None)) -> Array:
        """Columns (of `n`) where every entry alive at x is not finite: the step met a pole.

        An entry not finite at x is dead (it stays NaN); an entry not finite where others
        of its column are finite is a hole of its own (mended one-sided afterwards) and
        does not move the column's steps.
        """
        alive = self.alive[sel]
        hit = np.logical_or.reduce((~np.isfinite(D) & alive).reshape(n, -1), axis=1)
        fine = np.logical_or.reduce((np.isfinite(D) & alive).reshape(n, -1), axis=1)
        out: Array = hit & ~fine
        return out

    def _measure_noise(self, level: int, sel: Any, start: Array) -> None:
        """Measure f's noise at `level` (columns `sel`): ``sigma`` and whether it is ``confirmed``."""
        if self.nodes is None:
            return
        back, k = self.noise_back, len(self.nodes[1]) - 1
        if level <= back + int(np.minimum.reduce(start, axis=None)):
            return  # no column has the levels of two combinations yet
        every = isinstance(sel, slice)
        values = self.values if every else self.values[:, sel]
        total = self._combination(values, level, sel)
        # The combination's smooth part shrinks by 2^k a level (k its order): the difference
        # from the previous level's, scaled by that, leaves the noise.
        prev = self.noise_sum[sel]
        if not np.all(np.isfinite(prev)):
            earlier = self._combination(values, level - 1, sel)
            prev = np.where(np.isfinite(prev), prev, np.where(level - 1 >= start + back, earlier, np.nan))
        noise = np.abs(total - prev / 2.0**k)
        noise /= math.sqrt(1 + 4.0**-k)
        self.noise_sum[sel] = total
        if int(np.maximum.reduce(start, axis=None)) + back >= level or not np.all(np.isfinite(noise)):
            noise = np.where((level > start + back) & np.isfinite(noise), noise, np.nan)
        # Noise is f's, the same at every step: it is confirmed once two levels agree on it
        # (an oscillation above the step's scale does not keep its size as the step shrinks).
        # The level uses the largest of the recent measurements that agree with the latest
        # (one measurement can be small by chance; a smooth part shrinks fast).
        history = self.noise_raw if every else self.noise_raw[:, sel]
        before = history[(level - 1) % NOISE_WINDOW]
        agree = np.maximum(noise, before) <= NOISE_AGREE * np.minimum(noise, before)
        history[level % NOISE_WINDOW] = noise
        if not every:
            self.noise_raw[:, sel] = history
        near = np.where(history <= NOISE_AGREE * noise, history, np.nan)
        measured = np.isfinite(noise)
        if np.all(measured):
            self.sigma[sel] = np.fmax.reduce(near, axis=0)
            self.confirmed[sel] = agree
        else:
            self.sigma[sel] = np.where(measured, np.fmax.reduce(near, axis=0), self.sigma[sel])
            self.confirmed[sel] = np.where(measured, agree, self.confirmed[sel])

    def _combination(self, values: Array, level: int, sel: Any) -> Array:
        """The noise combination at `level` (`values` of the columns `sel`), nearest node first
        (the order matters: the noise is near the rounding of the sum itself)."""
        assert self.nodes is not None and self.node_index is not None
        back, offset, weight = self.node_index
        terms = np.empty((len(weight) + 1, *values.shape[1:2], *values.shape[3:]), dtype=values.dtype)
        terms[0] = self.at_x * self.f0[sel]
        np.multiply(weight, values[level - back, :, offset], out=terms[1:])
        total: Array = np.add.reduce(terms, axis=0)
        return total

    def _raise_best(self, sel: Any, Tl: Array) -> None:
        """Every best entry's bar at least what later steps show of it.

        Its noise rounding at the latest noise level, and its distance to the entry of the
        same order in the latest row (the same extrapolation at smaller steps, whose
        truncation is smaller: an earlier agreement that was luck shows there).
        """
        order = self.best_order[sel]
        known = order >= 0
        if not np.count_nonzero(known):
            return
        floor = self.best_unit[sel] * self.sigma[sel]
        cells = order.size
        same = Tl.reshape(len(Tl), cells)[np.where(known, order, 0).ravel(), np.arange(cells)].reshape(
            order.shape
        )
        floor = np.fmax(floor, np.where(known, np.abs(same - self.best[sel]), 0.0))
        self.best_err[sel] = np.where(self.done[sel], self.best_err[sel], np.fmax(self.best_err[sel], floor))

    def _noise_unit(self, level: int, sel: Any, start: Array, coef: Array) -> Array:
        """The rounding that a unit of noise in f makes in every entry of the row."""
        h = self.hstep[: level + 1]
        if h.shape[1] == self.ncols:
            h = h[:, sel]
        inv = 1.0 / h**self.stencil.n
        if int(np.maximum.reduce(start, axis=None)) or not np.all(np.isfinite(inv)):
            levels = np.arange(level + 1).reshape((-1,) + (1,) * (h.ndim - 1))
            inv = np.where((levels >= start[None]) & np.isfinite(inv), inv, 0.0)
        out: Array = self.noise_gain * (coef @ inv.reshape(level + 1, -1)).reshape(inv.shape)
        return out

    def _forget(self, cols: Array) -> None:
        """Drop the best entries of a run that proved pre-asymptotic (its steps were above f's scale)."""
        keep = self.done[cols]
        self.sigma[cols] = np.where(keep, self.sigma[cols], 0.0)
        self.noise_raw[:, cols] = np.where(keep, self.noise_raw[:, cols], np.nan)
        self.confirmed[cols] &= keep
        self.noise_sum[cols] = np.where(keep, self.noise_sum[cols], np.nan)
        # The value stays as a last resort (with no error estimate) if no later run does better.
        for best in (self.best_err, self.best_trunc):
            best[cols] = np.where(keep, best[cols], np.inf)


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
