"""Where a differentiation's stencils lie: the columns (layouts) and their points.

A differentiation is a set of *columns*: for column ``j`` the stencil is laid along a
perturbation ``Delta_j``. Three shapes of problem share the engine, each a
:class:`Layout`:

- :class:`Axes`: column ``j`` perturbs coordinate ``columns[j]`` of x (gradients,
  Jacobians, Hessian diagonals); steps have shape ``(ncols,)``.
- :class:`Directions`: column ``j`` perturbs x along ``directions[j]`` (directional
  derivatives, sparse groups, Hessian pairs); steps have shape ``(ncols,)``, the step in t.
- :class:`Elementwise`: one column perturbing every coordinate by its own step
  (elementwise derivatives, where f(x)[i] depends on x[i] only); steps have shape
  ``(1, x.size)``.

A layout builds the points ``x + o_k Delta_j`` (:class:`AxisPoints`,
:class:`VectorPoints`), which the evaluation layer evaluates in blocks or batches.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Layout", "Axes", "Directions", "Elementwise", "AxisPoints", "VectorPoints"]

Array = NDArray[Any]


class AxisPoints:
    """Points ``x + o_k h_j e_{c_j}``: stencils along coordinate axes ``c_j``.

    Point ``p`` is column ``p // K``, offset ``p % K``. With ``imaginary`` the
    perturbation is ``i o_k h_j`` (complex step).
    """

    def __init__(self, x: Array, columns: Array, steps: Array, offsets: Array, imaginary: bool = False):
        self.x = x
        self.flat = x.ravel()
        self.columns = np.asarray(columns, dtype=np.intp)
        self.steps = np.asarray(steps, dtype=np.float64)
        self.offsets = np.asarray(offsets, dtype=np.float64)
        self.imaginary = imaginary
        self.dtype = _point_dtype(x.dtype, imaginary)
        self._where: Array | None = None
        self._delta: Array | None = None

    @property
    def ncols(self) -> int:
        return len(self.columns)

    def __len__(self) -> int:
        return len(self.columns) * len(self.offsets)

    def _perturbations(self, start: int, stop: int) -> tuple[Array, Array]:
        """Coordinate and signed step of points ``start:stop`` (the one formula for both layouts).

        Both are computed once for all points (16 bytes a point, as much as f's values
        take), so that a batch costs one slice instead of a few small array operations.
        """
        if self._where is None:
            self._where = np.repeat(self.columns, len(self.offsets))
            delta = (self.steps[:, None] * self.offsets[None, :]).ravel()
            self._delta = 1j * delta if self.imaginary else delta.astype(self.dtype, copy=False)
        assert self._delta is not None
        return self._where[start:stop], self._delta[start:stop]

    def block(self, start: int, stop: int) -> Array:
        m = stop - start
        where, delta = self._perturbations(start, stop)
        pts = np.empty((m, self.flat.size), dtype=self.dtype)
        pts[...] = self.flat
        pts[np.arange(m), where] += delta
        return pts.reshape((m, *self.x.shape))

    def batch(
        self, start: int, stop: int, out: Array | None = None, previous: tuple[int, int] | None = None
    ) -> Array:
        """The points of :meth:`block` as one C-contiguous ``x.shape + (m,)`` array.

        `out`, if given, is a C-contiguous buffer of this dtype with room for at least
        ``x.size * m`` values, whose first ones are filled (reused between batches, of
        any size up to its own, so that a vectorized f works on memory already in cache).
        `previous`, if given, is ``(start, stop)`` of the batch that `out` holds untouched:
        a batch of as many points then only moves back the entries that one moved.
        """
        m = stop - start
        where, delta = self._perturbations(start, stop)
        pts = _buffer(out, self.flat.size, m, self.dtype)
        flat = pts.reshape(-1)
        if previous is not None and previous[1] - previous[0] == m:
            # The batch is x broadcast plus one moved entry per column: undo the
            # previous batch's entries instead of writing all of x again.
            before, _ = self._perturbations(*previous)
            flat[before * m + np.arange(m)] = self.flat[before]
        else:
            pts[...] = self.flat[:, None]
        flat[where * m + np.arange(m)] += delta
        return pts.reshape((*self.x.shape, m))


class VectorPoints:
    """Points ``x + o_k V_j`` for dense perturbation vectors ``V_j`` (shape of x)."""

    def __init__(self, x: Array, vectors: Array, offsets: Array, imaginary: bool = False):
        self.x = x
        self.vectors = np.asarray(vectors, dtype=np.float64).reshape(-1, x.size)
        self.offsets = np.asarray(offsets, dtype=np.float64)
        self.imaginary = imaginary
        self.dtype = _point_dtype(x.dtype, imaginary)

    @property
    def ncols(self) -> int:
        return len(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors) * len(self.offsets)

    def block(self, start: int, stop: int) -> Array:
        index = np.arange(start, stop)
        col, k = np.divmod(index, len(self.offsets))
        delta = self.offsets[k, None] * self.vectors[col]
        base = self.x.ravel()[None, :].astype(self.dtype)
        pts: Array = base + (1j * delta if self.imaginary else delta.astype(self.dtype))
        return pts.reshape((stop - start, *self.x.shape))

    def batch(
        self, start: int, stop: int, out: Array | None = None, previous: tuple[int, int] | None = None
    ) -> Array:
        """The points of :meth:`block` as one C-contiguous ``x.shape + (m,)`` array.

        `out` is an optional buffer, as for :meth:`AxisPoints.batch`; `previous` is
        accepted for the same signature (dense perturbations rewrite every value anyway).
        """
        m = stop - start
        col, k = np.divmod(np.arange(start, stop), len(self.offsets))
        delta = self.vectors[col].T * self.offsets[k]
        pts = _buffer(out, self.x.size, m, self.dtype)
        pts[...] = self.x.ravel()[:, None]
        pts += 1j * delta if self.imaginary else delta.astype(self.dtype)
        return pts.reshape((*self.x.shape, m))


def _buffer(out: Array | None, size: int, m: int, dtype: np.dtype[Any]) -> Array:
    """A ``(size, m)`` C-contiguous array: new, or the leading part of the buffer `out`."""
    if out is None:
        return np.empty((size, m), dtype=dtype)
    if not out.flags.c_contiguous or out.dtype != dtype or out.size < size * m:
        raise ValueError(f"a batch buffer of {out.size} {out.dtype} values cannot hold {size} x {m} points")
    return out.reshape(-1)[: size * m].reshape(size, m)


@dataclass(frozen=True)
class Layout(ABC):
    """Where the columns' stencils lie, independent of the steps.

    ``reach`` is ``max(1, |x|)`` along each column (shape of the steps): the length scale
    for default steps and error models. ``sum_columns`` is True when the columns are the
    coordinates of one point, so rounding inside f adds up over them. ``one_column`` is
    True when a single column moves every element by its own step (steps of x's size).
    """

    x: Array

    sum_columns = False
    one_column = False

    @property
    @abstractmethod
    def ncols(self) -> int: ...

    @cached_property
    def reach(self) -> Array:
        # Cached (x never changes under a layout): steps and the error model both ask.
        return self._reach()

    @abstractmethod
    def _reach(self) -> Array: ...

    @abstractmethod
    def points(self, h: Array, offsets: Array, imaginary: bool = False) -> AxisPoints | VectorPoints:
        """The points ``x + o_k h_j (direction j)`` for the given steps and offsets."""

    @abstractmethod
    def subset(self, index: Array) -> Layout:
        """The layout of some of the columns (for :class:`Elementwise`: of some elements)."""

    @abstractmethod
    def user_steps(self, step: Array) -> NDArray[np.float64]:
        """A user's `step` (shape of x) as the steps of these columns."""

    @abstractmethod
    def magnitude(self) -> Array:
        """``|x|`` seen along each column, shape ``(ncols, 1)`` or ``(1, x.size)``."""

    @abstractmethod
    def rooms(self, below: Array, above: Array) -> tuple[Array, Array]:
        """Room behind and ahead of x along each unit, from each coordinate's room."""


@dataclass(frozen=True)
class Axes(Layout):
    """Column ``j`` perturbs coordinate ``columns[j]`` of x."""

    columns: Array = None  # type: ignore[assignment]

    sum_columns = True

    def __post_init__(self) -> None:
        if self.columns is None:
            object.__setattr__(self, "columns", np.arange(self.x.size))

    @property
    def ncols(self) -> int:
        return len(self.columns)

    def _reach(self) -> Array:
        return np.maximum(1.0, np.abs(self.x.ravel())[self.columns])

    def points(self, h: Array, offsets: Array, imaginary: bool = False) -> AxisPoints:
        return AxisPoints(self.x, self.columns, h, offsets, imaginary)

    def subset(self, index: Array) -> Axes:
        return Axes(self.x, self.columns[np.asarray(index, dtype=np.intp)])

    def user_steps(self, step: Array) -> NDArray[np.float64]:
        return np.asarray(step.ravel()[self.columns], dtype=np.float64)

    def magnitude(self) -> Array:
        return np.abs(self.x.ravel())[self.columns][:, None]

    def rooms(self, below: Array, above: Array) -> tuple[Array, Array]:
        return below[self.columns], above[self.columns]


@dataclass(frozen=True)
class Directions(Layout):
    """Column ``j`` perturbs x along ``directions[j]`` (shape ``(ncols, x.size)``)."""

    directions: Array = None  # type: ignore[assignment]

    @property
    def ncols(self) -> int:
        return len(self.directions)

    def _reach(self) -> Array:
        absx = np.abs(self.x.ravel())
        size = np.abs(self.directions).max(axis=1)
        reach = np.array([absx[d != 0].max() for d in self.directions])
        return np.asarray(np.maximum(1.0, reach) / size)

    def points(self, h: Array, offsets: Array, imaginary: bool = False) -> VectorPoints:
        return VectorPoints(self.x, np.asarray(h)[:, None] * self.directions, offsets, imaginary)

    def subset(self, index: Array) -> Directions:
        return Directions(self.x, self.directions[np.asarray(index, dtype=np.intp)])

    def user_steps(self, step: Array) -> NDArray[np.float64]:
        return np.full(self.ncols, float(step.ravel()[0]))

    def magnitude(self) -> Array:
        return (np.abs(self.directions) @ np.abs(self.x.ravel()))[:, None]

    def rooms(self, below: Array, above: Array) -> tuple[Array, Array]:
        d = np.asarray(self.directions, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ahead = np.where(d > 0, above / d, np.where(d < 0, below / -d, np.inf))
            behind = np.where(d > 0, below / d, np.where(d < 0, above / -d, np.inf))
        return behind.min(axis=1), ahead.min(axis=1)


@dataclass(frozen=True)
class Elementwise(Layout):
    """One column moving every element of x (or only those in `columns`) by its own step.

    A subset keeps one column over all of x, with steps of x's size, but moves only the
    elements in `columns`; the other entries of its estimate are void.
    """

    columns: Array | None = None

    one_column = True

    @property
    def ncols(self) -> int:
        return 1

    def _reach(self) -> Array:
        return np.asarray(np.maximum(1.0, np.abs(self.x.ravel()))[None, :])

    def points(self, h: Array, offsets: Array, imaginary: bool = False) -> VectorPoints:
        vector = np.asarray(h, dtype=np.float64).reshape(1, -1)
        if self.columns is not None:
            # A subset of the elements: the others stay at x (their outputs are discarded).
            vector = np.where(np.isin(np.arange(self.x.size), self.columns), vector, 0.0)
        return VectorPoints(self.x, vector, offsets, imaginary)

    def subset(self, index: Array) -> Elementwise:
        return Elementwise(self.x, np.asarray(index, dtype=np.intp))

    def user_steps(self, step: Array) -> NDArray[np.float64]:
        return np.asarray(step.reshape(1, -1), dtype=np.float64)

    def magnitude(self) -> Array:
        return np.abs(self.x.ravel())[None, :]

    def rooms(self, below: Array, above: Array) -> tuple[Array, Array]:
        return below, above


def _point_dtype(dtype: np.dtype[Any], imaginary: bool) -> np.dtype[Any]:
    if imaginary:
        return np.result_type(dtype, np.complex64)
    return dtype
