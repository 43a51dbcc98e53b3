"""The one place that calls the user's function.

Every evaluation of ``f`` in dfdx goes through :class:`Evaluator`: serial calls,
vectorized batches and parallel workers alike, so that all of them give the same
numbers. It also validates what ``f`` returns (numbers, one shape everywhere, real
unless the complex step is used) and attaches the offending point to exceptions.

Points come as a :class:`~dfdx.evaluation.work.PointSet`, built block by block (at
most :data:`~dfdx.evaluation.work.BLOCK_BYTES` of points, and of values, at once). Pools
get a :class:`~dfdx.evaluation.work.Work`, never the evaluator itself.
"""

from __future__ import annotations

import sys
import time
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .pools import Pool, as_pool
from .progress import Progress
from .work import BLOCK_BYTES, PointSet, Work, annotate, batch_of, format_point, keep_freed_blocks

__all__ = ["Evaluator", "PointSet", "format_point", "BLOCK_BYTES"]

_REAL_SCALARS = (float, np.float64, np.float32)
_COMPLEX_SCALARS = (complex, np.complex128, np.complex64)


class Evaluator:
    """Calls `f` on points, counts the calls and checks every output.

    Parameters
    ----------
    f : callable
        The user's function.
    x : ndarray
        The point of differentiation (float dtype, validated).
    complex_points : bool
        True when points will be complex (complex step).
    vectorized : bool
        `f` takes a batch ``x.shape + (k,)`` and returns ``out_shape + (k,)``. In
        serial runs the batch is read-only, its buffer being reused for the next one.
    workers : map-like, Executor or dask Client, optional
        Where to run evaluations (see :func:`dfdx.evaluation.pools.as_pool`). ``f(x)`` itself
        is always computed here, in the calling process.
    f0 : array_like, optional
        ``f(x)`` if the caller has it; otherwise it is computed once here.
    args : tuple
        Extra positional arguments of `f`.
    progress : bool or Progress
        Draw a progress bar whose total grows with every call of the evaluator.

    Attributes
    ----------
    nfev : int
        Points evaluated so far (``f(x)`` included when it was computed here).
    f0 : ndarray
        ``f(x)``.
    out_shape : tuple
        Shape of ``f(x)``.
    callbacks : list of callable
        Each is called with the number of points just evaluated, after every block.
    seconds_per_call : float or None
        Wall time of the call that computed ``f(x)`` (used to size parallel batches).

    Examples
    --------
    >>> import numpy as np
    >>> from dfdx.engine.layouts import AxisPoints
    >>> ev = Evaluator(lambda x: x @ x, np.array([1.0, 2.0]))
    >>> pts = AxisPoints(ev.x, columns=[0, 1], steps=[0.5, 0.5], offsets=[-1.0, 1.0])
    >>> ev(pts), ev.nfev
    (array([4.25, 6.25, 3.25, 7.25]), 5)
    """

    def __init__(
        self,
        f: Callable[..., Any],
        x: NDArray[np.floating[Any]],
        *,
        complex_points: bool = False,
        vectorized: bool = False,
        workers: Any = None,
        f0: Any = None,
        args: tuple[Any, ...] = (),
        progress: bool | Progress = False,
    ) -> None:
        self.f = f
        self.x = x
        self.args = args
        self.complex_points = complex_points
        self.vectorized = vectorized
        self.pool: Pool | None = as_pool(workers)
        self.workers = workers
        self.nfev = 0
        self.callbacks: list[Callable[[int], None]] = []
        self.seconds_per_call: float | None = None
        self.progress: Progress | None = None
        if progress:
            self.progress = progress if isinstance(progress, Progress) else Progress()
            weakref.finalize(self, self.progress.close)
        if f0 is None:
            self._grow(1)
            start = time.perf_counter()
            try:
                value = self._first()
            except BaseException:
                self.close()
                raise
            self.seconds_per_call = time.perf_counter() - start
            self._done(1)
        else:
            value = _as_array(f0, x, "f0")
        self._check_first(value)
        self.f0: NDArray[Any] = value
        self.out_shape: tuple[int, ...] = value.shape
        dtype = np.float64 if value.dtype.kind in "biu" else value.dtype
        self.dtype = np.result_type(dtype, np.complex64) if complex_points else np.dtype(dtype)
        self._fast = _COMPLEX_SCALARS if complex_points else _REAL_SCALARS
        self._kind = "c" if complex_points else "f"
        itemsize = 16 if complex_points else x.dtype.itemsize
        per_point = x.size * itemsize + max(1, value.size) * self.dtype.itemsize
        #: Most points in one block (bounded memory for points and values alike).
        self.block_points = max(1, BLOCK_BYTES // per_point)

    def _first(self) -> NDArray[Any]:
        if not self.vectorized:
            # A copy: an f that writes into its argument must not move x itself.
            return _as_array(self.call(self.x.copy()), self.x)
        point = self.x[..., None].copy()  # a copy, as for a serial f: x itself never moves
        point.flags.writeable = False  # as every batch
        value = _as_array(self.call_batch(point), self.x)
        if value.ndim == 0 or value.shape[-1] != 1:
            raise ValueError(
                f"vectorized f was given a batch of 1 point (an array of shape x.shape + (1,) = "
                f"{self.x.shape + (1,)}) and returned shape {value.shape}; expected f(x).shape + (1,), "
                "with the batch on the last axis. Pass vectorized=False if f takes one point."
            )
        return value[..., 0]

    # -- progress and accounting ----------------------------------------------------
    def _grow(self, count: int) -> None:
        if self.progress is not None:
            self.progress.grow(count)

    def _done(self, count: int) -> None:
        self.nfev += count
        if self.progress is not None:
            self.progress.update(count)
        for callback in self.callbacks:
            callback(count)

    def close(self) -> None:
        """Finish the progress bar, if any (also done when the evaluator is collected)."""
        if self.progress is not None:
            self.progress.close()

    # -- calling f ------------------------------------------------------------------
    def call(self, point: Any) -> Any:
        """``f(point, *args)``, with the point attached to any exception."""
        try:
            return self.f(point, *self.args)
        except Exception as exc:
            annotate(exc, point)
            raise

    def call_batch(self, batch: NDArray[Any]) -> Any:
        """Vectorized ``f(batch, *args)``, with the batch described in any exception."""
        try:
            return self.f(batch, *self.args)
        except Exception as exc:
            annotate(exc, np.moveaxis(batch, -1, 0), batch=True)
            raise

    def __call__(self, points: PointSet) -> NDArray[Any]:
        """Evaluate f at every point of `points`; returns ``(len(points), *out_shape)``."""
        total = len(points)
        out = np.empty((total, *self.out_shape), dtype=self.dtype)
        if total == 0:
            return out
        self._grow(total)
        if self.vectorized:
            keep_freed_blocks()
        try:
            if self.pool is not None:
                self.pool.run(self._work(points, out))
            elif self.vectorized:
                self._batches(points, out)
            else:
                for start in range(0, total, self.block_points):
                    stop = min(total, start + self.block_points)
                    self._loop(points.block(start, stop), out[start:stop])
        except BaseException:
            self.close()
            raise
        return out

    def _work(self, points: PointSet, out: NDArray[Any]) -> Work:
        """What a pool needs to fill `out` with f at `points`: nothing of the evaluator itself."""
        return Work(
            self.f,
            self.args,
            points,
            out,
            vectorized=self.vectorized,
            block_points=self.block_points,
            seconds_per_call=self.seconds_per_call,
            take=self.take,
            take_batch=self.take_batch,
            done=lambda start, stop, seconds: self._done(stop - start),
        )

    def scalars(self, block: NDArray[Any]) -> list[Any]:
        """A scalar f at every point of `block` (shape ``(m, *x.shape)``), serially, as floats.

        Complex numbers for complex points (the complex step).

        The loop of a serial :meth:`__call__` without its set-up and without an array
        for the values, for a gradient in a few variables. Not with workers, a
        vectorized f or a progress bar.
        """
        assert self.pool is None and not self.vectorized and self.progress is None and not self.out_shape
        f, args, fast = self.f, self.args, self._fast
        number = complex if self.complex_points else float
        out = []
        for point in block:
            try:
                raw = f(point, *args)
            except Exception as exc:
                annotate(exc, point)
                raise
            out.append(number(raw) if type(raw) in fast else number(self.take(raw, point)))
        self.nfev += len(block)
        for callback in self.callbacks:
            callback(len(block))
        return out

    def _batches(self, points: PointSet, out: NDArray[Any]) -> None:
        """Serial vectorized calls, one per block, in one buffer while f keeps none of it.

        f gets each batch read-only, so that a buffer it gave back unchanged only needs
        the entries of the last batch moved back (for axis stencils: m values instead
        of ``x.size * m``). The last, shorter batch fills the front of the same buffer:
        in a fresh process a new block-sized array would be memory to fault in again.
        """
        total = len(points)
        buffer: NDArray[Any] | None = None
        previous: tuple[int, int] | None = None
        alone = object()  # held by one local variable: the reference count to compare with
        for start in range(0, total, self.block_points):
            stop = min(total, start + self.block_points)
            batch = batch_of(points, start, stop, buffer, previous)
            buffer = previous = None
            batch.flags.writeable = False  # a view: the buffer behind it stays writable here
            out[start:stop] = self.take_batch(self.call_batch(batch), stop - start)
            owner = batch if batch.base is None else batch.base
            # f could only have written into the batch by making it writable again.
            untouched = not batch.flags.writeable
            del batch
            # Only `owner` holds the buffer unless f kept a reference to its argument (or
            # to a view of it, whose base it is): then it must not be refilled.
            if sys.getrefcount(owner) <= sys.getrefcount(alone) and owner.flags.writeable:
                buffer = owner
                previous = (start, stop) if untouched else None
            del owner
            self._done(stop - start)

    def _loop(self, block: NDArray[Any], out: NDArray[Any]) -> None:
        """The serial hot loop: a few hundred nanoseconds of dfdx per evaluation."""
        f, args, fast = self.f, self.args, self._fast
        per_point = self.progress is not None
        scalar = not self.out_shape
        for i, point in enumerate(block):
            try:
                raw = f(point, *args)
            except Exception as exc:
                annotate(exc, point)
                raise
            if scalar and type(raw) in fast:
                out[i] = raw
            else:
                out[i] = self.take(raw, point)
            if per_point:
                self.progress.update(1)  # type: ignore[union-attr]
        self.nfev += len(block)
        for callback in self.callbacks:
            callback(len(block))

    # -- validation -----------------------------------------------------------------
    def take(self, raw: Any, point: Any) -> NDArray[Any]:
        """Check one value of f (returned at `point`) and return it as an array."""
        if type(raw) is np.ndarray and raw.shape == self.out_shape and raw.dtype.kind == self._kind:
            return raw
        value = _as_array(raw, point)
        self._check(value, point)
        return value

    def take_batch(self, raw: Any, k: int) -> NDArray[Any]:
        """Check the value of a vectorized call on `k` points; returns it batch axis first."""
        if type(raw) is np.ndarray and raw.dtype.kind == self._kind and raw.shape == self.out_shape + (k,):
            # The common case, checked as fully as below: the batch axis moved to the front.
            return raw if raw.ndim == 1 else raw.transpose(raw.ndim - 1, *range(raw.ndim - 1))
        value = _as_array(raw, None)
        expected = self.out_shape
        if value.shape != expected + (k,):
            raise ValueError(
                f"vectorized f was given a batch of {k} points and returned shape {value.shape}; "
                f"f(x) has shape {expected}, so the expected shape is f(x).shape + (k,) = "
                f"{expected + (k,)} (the points are stacked on the last axis of f's argument)."
            )
        batch = np.moveaxis(value, -1, 0)
        self._check(batch[0], f"a batch of {len(batch)} points")
        return batch

    def _check_first(self, value: NDArray[Any]) -> None:
        if value.dtype.kind not in "biufc":
            raise TypeError(
                f"f must return numbers (a float or an array of floats), but f(x) returned "
                f"{_describe(value)}. Return a float or a NumPy array of floats."
            )
        if value.dtype.kind == "c":
            raise TypeError(
                "f returned complex values at a real point x. dfdx differentiates real "
                "functions: return the real part, or split f into real and imaginary parts."
            )

    def _check(self, value: NDArray[Any], point: Any) -> None:
        where = point if isinstance(point, str) else f"x = {format_point(point)}"
        if value.shape != self.out_shape:
            raise ValueError(
                f"f returned shape {value.shape} at {where}, but shape "
                f"{self.out_shape} at the point of differentiation; f must return the same "
                "shape at every point."
            )
        if value.dtype.kind not in "biufc":
            raise TypeError(f"f returned {_describe(value)} at {where}; it must return numbers.")
        if value.dtype.kind == "c" and not self.complex_points:
            raise TypeError(
                f"f returned complex values at the real point {where}; "
                "dfdx differentiates real functions: return the real part."
            )
        if self.complex_points and value.dtype.kind != "c":
            raise TypeError(
                "method='complex' needs f to carry the imaginary part through, but f returned "
                f"real values at the complex point {where}. f must be written "
                "with complex-safe operations (no abs, np.real, float(), math.*); "
                "otherwise use method='central'."
            )


def _as_array(raw: Any, point: Any, name: str = "f") -> NDArray[Any]:
    try:
        return np.asarray(raw)
    except (TypeError, ValueError):
        what = "`f0` was given as" if name == "f0" else "f returned"
        where = "" if point is None or name == "f0" else f" at x = {format_point(point)}"
        raise TypeError(
            f"{what} {raw!r:.80}{where}, which is not a float or an array of numbers "
            "of one shape (a list of mixed shapes?)."
        ) from None


def _describe(value: NDArray[Any]) -> str:
    if value.dtype.kind in "USO":
        return f"a value of dtype {value.dtype} ({format_point(value)})"
    return f"dtype {value.dtype}"
