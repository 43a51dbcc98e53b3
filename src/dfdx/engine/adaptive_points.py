"""Points of the adaptive mode's levels: which are new, which recur, one call of f per level.

Steps halve from level to level, so an offset ``2 o`` at one level is the offset ``o``
of the level before: such points are copied, never evaluated again. Columns whose step
histories differ (some jumped, some halved) reuse different points; they are grouped by
history. All new points of a call (the first two levels go together) reach the
evaluator as one set, so that they cost one call of f, or one batch.

The values live in arrays preallocated for every level (leading axis: the level); the
extrapolation in :mod:`dfdx.engine.adaptive` reads them there.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..evaluation.evaluator import Evaluator
from ..numerics.stencils import Stencil
from .layouts import AxisPoints, Layout, VectorPoints

__all__ = ["LevelPoints", "StencilData", "stencil_data", "as_bytes"]

Array = NDArray[Any]


class StencilData(NamedTuple):
    """What the adaptive mode needs of a stencil, computed once per stencil."""

    offsets: Array  # the nonzero offsets
    w: Array  # their weights
    absw: Array
    w0: float  # the weight of f(x)
    two_sided: bool
    reuses: bool  # some offset is a power-of-two multiple of another: points recur
    plus: int  # the smallest positive offset
    minus: int  # the negative offset nearest zero (on one-sided stencils: unused)
    amplification: float  # Stencil.amplification


@lru_cache(maxsize=64)
def stencil_data(offsets: bytes, weights: bytes) -> StencilData:
    """What a run needs of a stencil, once per stencil (stencils are rebuilt per call)."""
    all_offsets, all_weights = np.frombuffer(offsets), np.frombuffer(weights)
    o = all_offsets[all_offsets != 0]
    ratios = np.abs(o[:, None] / o[None, :])
    return StencilData(
        offsets=o,
        w=all_weights[all_offsets != 0],
        absw=np.abs(all_weights[all_offsets != 0]),
        w0=float(all_weights[all_offsets == 0].sum()),
        two_sided=bool(np.any(o > 0) and np.any(o < 0)),
        reuses=bool(np.any((ratios > 1) & (np.log2(ratios) == np.round(np.log2(ratios))))),
        plus=int(np.argmin(np.where(o > 0, o, np.inf))),
        minus=int(np.argmax(np.where(o < 0, o, -np.inf))),
        amplification=float(np.abs(all_weights).sum()),
    )


class LevelPoints:
    """The values of f at every level's stencil points, and the steps they were taken at.

    ``values[l, c, k]`` is f at column c's k-th nonzero offset on level l (NaN where the
    column did not run), ``mult[l, c]`` the column's step multiplier on that level (NaN
    if idle) and ``hstep[l]`` the steps, broadcast against ``(ncols, *out)``.
    """

    def __init__(
        self,
        ev: Evaluator,
        layout: Layout,
        stencil: Stencil,
        h0: Array,
        sd: StencilData,
        dtype: Any,
        levels: int,
    ):
        self.ev, self.layout, self.h0 = ev, layout, h0
        self.offsets, self.reuses, self.imaginary = sd.offsets, sd.reuses, stencil.is_complex
        self.ncols = ncols = layout.ncols
        self.out = ev.out_shape
        self.levels = 0  # levels evaluated so far
        self.mult = np.full((levels, ncols), np.nan)
        self.values = np.full((levels, ncols, len(self.offsets), *self.out), np.nan, dtype=dtype)
        hshape = (1, *self.out) if layout.one_column else (ncols,) + (1,) * len(self.out)
        self.hstep = np.full((levels, *hshape), np.nan)
        self.keys: dict[Any, tuple[Any, ...]] = {}

    def evaluate(self, plan: list[tuple[int, Array, Array]]) -> None:
        """Evaluate the levels of `plan` ``(level, active columns, multipliers)`` in one call.

        Each level reuses the points of earlier ones (those of the same call included).
        """
        if len(plan) == 1 and not self.reuses:
            self._evaluate_level(*plan[0])
            return
        groups = []
        for level, active, mult in plan:
            self.mult[level] = mult
            groups.append(self._groups(level, active, mult))
        parts = [g[3] for gs in groups for g in gs if g[3] is not None]
        out = self.ev(_joined(self.layout.x, parts)) if parts else None
        start = 0
        for (level, _, mult), gs in zip(plan, groups, strict=True):
            values = self.values[level]
            for cols, key, fresh, pts in gs:
                for k, hit in enumerate(key):
                    if hit is not None:
                        values[cols, k] = self.values[hit[0]][cols, hit[1]]
                if pts is not None:
                    assert out is not None
                    block = out[start : start + len(pts)].reshape(len(cols), len(fresh), *self.out)
                    start += len(pts)
                    if len(fresh) == len(key) and len(cols) == self.ncols:
                        values[...] = block
                    else:
                        values[cols[:, None], np.array(fresh)[None, :]] = block
            self._record_step(level, mult)
        self.levels = plan[-1][0] + 1

    def _evaluate_level(self, level: int, active: Array, mult: Array) -> None:
        """:meth:`evaluate` for one level of a stencil whose points never recur."""
        self.mult[level] = mult
        every = active.size == self.ncols
        layout = self.layout if every else self.layout.subset(active)
        pts = layout.points(self._h(active, mult), self.offsets, self.imaginary)
        block = self.ev(pts).reshape(active.size, len(self.offsets), *self.out)
        if every:
            self.values[level] = block
        else:
            self.values[level][active] = block
        self._record_step(level, mult)
        self.levels = level + 1

    def _record_step(self, level: int, mult: Array) -> None:
        h = self.h0 * mult if not self.layout.one_column else self.h0 * mult[0]
        self.hstep[level] = h.reshape(self.hstep.shape[1:])

    def _groups(self, level: int, active: Array, mult: Array) -> list[tuple[Array, Any, list[int], Any]]:
        """Columns with the same history of step ratios, which reuse the same offsets."""
        K = len(self.offsets)
        if not self.reuses or level == 0:
            groups, kinds, back = [active], np.zeros((0, 1)), []
        else:
            back = list(range(level - 1, max(-1, level - 4), -1))
            history = self.mult[back][:, active] / mult[active]
            history = np.where(np.isnan(history), 0.0, history)
            if (history == history[:, :1]).all():
                kinds, groups = history[:, :1], [active]
            else:
                kinds, which = np.unique(history, axis=1, return_inverse=True)
                groups = [active[np.ravel(which) == g] for g in range(kinds.shape[1])]
        out = []
        for g, cols in enumerate(groups):
            key = self._reuse_key(level, back, kinds[:, g]) if back else (None,) * K
            fresh = [k for k, hit in enumerate(key) if hit is None]
            pts = None
            if fresh:
                layout = self.layout if len(cols) == self.ncols else self.layout.subset(cols)
                offsets = self.offsets if len(fresh) == K else self.offsets[fresh]
                pts = layout.points(self._h(cols, mult), offsets, self.imaginary)
            out.append((cols, key, fresh, pts))
        return out

    def _h(self, idx: Array, mult: Array) -> Array:
        h: Array = self.h0 * mult[0] if self.layout.one_column else self.h0[idx] * mult[idx]
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


def _joined(x: Array, parts: list[Any]) -> Any:
    """Point sets as one: one set when they differ only in their columns, else a _Concat."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    same = all(
        type(p) is type(first)
        and p.imaginary == first.imaginary
        and (p.offsets is first.offsets or np.array_equal(p.offsets, first.offsets))
        for p in parts
    )
    if same and isinstance(first, AxisPoints):
        columns = np.concatenate([p.columns for p in parts])
        steps = np.concatenate([p.steps for p in parts])
        return AxisPoints(x, columns, steps, first.offsets, first.imaginary)
    if same and isinstance(first, VectorPoints):
        vectors = np.concatenate([p.vectors for p in parts])
        return VectorPoints(x, vectors, first.offsets, first.imaginary)
    return _Concat(parts)


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


def as_bytes(a: Array) -> bytes:
    return np.asarray(a, dtype=np.float64).tobytes()
