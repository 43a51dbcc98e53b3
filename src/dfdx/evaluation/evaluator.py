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

from .._result import Provenance
from .budget import Budget
from .checks import Checks, as_array, check_first
from .pools import Pool, as_pool
from .progress import Progress
from .recorder import Recorder
from .store import as_store
from .work import (
    BLOCK_BYTES,
    ArrayPoints,
    PointSet,
    Work,
    annotate,
    batch_of,
    format_point,
    keep_freed_blocks,
    rows_of,
)

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
    store : str, os.PathLike or Store, optional
        A persistent record of evaluations (:class:`~dfdx.evaluation.store.Store`):
        points recorded there are read, not evaluated; new ones are recorded as they
        complete.
    max_evals : int, optional
        Most points (``f(x)`` included, recorded ones too) this evaluator may be asked
        for: its :class:`~dfdx.evaluation.budget.Budget`, which the engine plans within.

    Attributes
    ----------
    nfev : int
        Points evaluated so far (``f(x)`` included when it was computed here); points
        read from the store are not counted.
    budget : Budget or None
        The `max_evals` budget and how it was spent.
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
        store: Any = None,
        max_evals: int | None = None,
    ) -> None:
        self.f = f
        self.x = x
        self.args = args
        self.complex_points = complex_points
        self.vectorized = vectorized
        self.pool: Pool | None = as_pool(workers)
        self.workers = workers
        self.nfev = 0
        self.budget = None if max_evals is None else Budget(max_evals)
        self.callbacks: list[Callable[[int], None]] = []
        self.seconds_per_call: float | None = None
        self.progress: Progress | None = None
        found = as_store(store)
        # Opened (and checked) before anything is evaluated; closed with the evaluator.
        self.recorder = None if found is None else Recorder(found, f, args)
        if self.recorder is not None:
            weakref.finalize(self, self.recorder.close)
        if progress:
            self.progress = progress if isinstance(progress, Progress) else Progress()
            weakref.finalize(self, self.progress.close)
        self.f0: NDArray[Any] = self._at_x() if f0 is None else as_array(f0, x, "f0")
        if f0 is not None:
            check_first(self.f0)
        value = self.f0
        self.out_shape: tuple[int, ...] = value.shape
        dtype = np.float64 if value.dtype.kind in "biu" else value.dtype
        self.dtype = np.result_type(dtype, np.complex64) if complex_points else np.dtype(dtype)
        self._fast = _COMPLEX_SCALARS if complex_points else _REAL_SCALARS
        checks = Checks(self.out_shape, complex_points)
        #: Check one value of f at a point / a vectorized call's values (batch axis first).
        self.take, self.take_batch = checks.take, checks.take_batch
        itemsize = 16 if complex_points else x.dtype.itemsize
        per_point = x.size * itemsize + max(1, value.size) * self.dtype.itemsize
        #: Most points in one block (bounded memory for points and values alike).
        self.block_points = max(1, BLOCK_BYTES // per_point)

    def _at_x(self) -> NDArray[Any]:
        """f(x), computed here (or read from the store) and recorded."""
        self._grow(1)
        if self.budget is not None:
            self.budget.spend(1)
        keys: list[bytes] = []
        if self.recorder is not None:
            keys, found = self.recorder.find(self.x[None])
            if found:
                self._skip(1)
                value, self.seconds_per_call = found[0]
                return value
        start = time.perf_counter()
        try:
            value = self._first()
            check_first(value)
        except BaseException:
            self.close()
            raise
        self.seconds_per_call = time.perf_counter() - start
        if self.recorder is not None:
            self.recorder.write(keys, self.x[None], value[None], self.seconds_per_call)
        self._done(1)
        return value

    def _first(self) -> NDArray[Any]:
        if not self.vectorized:
            # A copy: an f that writes into its argument must not move x itself.
            return as_array(self.call(self.x.copy()), self.x)
        point = self.x[..., None].copy()  # a copy, as for a serial f: x itself never moves
        point.flags.writeable = False  # as every batch
        value = as_array(self.call_batch(point), self.x)
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

    def _skip(self, count: int) -> None:
        """`count` points were read from the store: done, but not evaluated."""
        if self.progress is not None and count:
            self.progress.skip(count)

    def provenance(self) -> Provenance | None:
        """Which points came from the store and which were evaluated (None without a store)."""
        rec = self.recorder
        if rec is None:
            return None
        empty = np.empty((0, *self.x.shape))
        reused = np.concatenate(rec.reused) if rec.reused else empty
        new = np.concatenate(rec.new) if rec.new else empty
        return Provenance(str(rec.store.path), rec.name, rec.version, reused, new)

    def close(self) -> None:
        """Finish the progress bar, if any, and the store's connection (also done when collected)."""
        if self.progress is not None:
            self.progress.close()
        if self.recorder is not None:
            self.recorder.close()

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
        if self.budget is not None:
            self.budget.spend(total)
        self._grow(total)
        if self.vectorized:
            keep_freed_blocks()
        try:
            if self.recorder is not None:
                self.recorder.fill(points, out, self.block_points, self._fresh, self._skip)
            elif self.pool is not None:
                self.pool.run(self._work(points, out, lambda start, stop, seconds: self._done(stop - start)))
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

    def _work(
        self, points: PointSet, out: NDArray[Any], done: Callable[[int, int, float | None], None]
    ) -> Work:
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
            done=done,
            timed=self.recorder is not None,
        )

    # -- with a store -----------------------------------------------------------------
    def _fresh(self, points: NDArray[Any], keys: list[bytes]) -> NDArray[Any]:
        """f at `points` (serial, vectorized or on the workers), each batch recorded as it completes."""
        assert self.recorder is not None
        record, saved = self.recorder.write, points.copy()
        values = np.empty((len(points), *self.out_shape), dtype=self.dtype)

        def done(start: int, stop: int, seconds: float | None) -> None:
            record(keys[start:stop], saved[start:stop], values[start:stop], seconds)
            self._done(stop - start)

        given = ArrayPoints(points)
        if self.pool is not None:
            self.pool.run(self._work(given, values, done))
            return values
        step = self.block_points if self.vectorized else 1
        for start in range(0, len(points), step):
            stop = min(len(points), start + step)
            clock = time.perf_counter()
            if self.vectorized:
                batch = batch_of(given, start, stop)
                batch.flags.writeable = False
                values[start:stop] = self.take_batch(self.call_batch(batch), stop - start)
            else:
                values[start] = self.take(self.call(points[start]), points[start])
            done(start, stop, time.perf_counter() - clock)
        return values

    def scalars(self, block: NDArray[Any]) -> list[Any]:
        """A scalar f at every point of `block` (shape ``(m, *x.shape)``), serially, as floats.

        Complex numbers for complex points (the complex step).

        The loop of a serial :meth:`__call__` without its set-up and without an array
        for the values, for a gradient in a few variables. Not with workers, a
        vectorized f or a progress bar.
        """
        number = complex if self.complex_points else float
        if self.recorder is not None or self.budget is not None:
            return [number(v) for v in self(ArrayPoints(block))]
        assert self.pool is None and not self.vectorized and self.progress is None and not self.out_shape
        f, inputs = rows_of(self.f, block)
        args, fast = self.args, self._fast
        out = []
        for point, given in zip(block, inputs):
            try:
                raw = f(given, *args)
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
        f, inputs = rows_of(self.f, block)
        args, fast = self.args, self._fast
        per_point = self.progress is not None
        scalar = not self.out_shape
        for i, (point, given) in enumerate(zip(block, inputs)):
            try:
                raw = f(given, *args)
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
