"""Evaluating f on workers: map-like callables, Executors and Dask.

The user hands in the pool (``workers=``); dfdx never starts one. Two kinds are
understood:

- a *map-like* callable, ``workers(func, iterable)`` returning the results in order
  (``map``, ``multiprocessing.Pool().map``; an object with a ``map`` method such as a
  ``multiprocessing.Pool`` is used through that method). The map decides how to chunk.
- a :class:`concurrent.futures.Executor` (threads, processes, Dask's
  ``Client.get_executor()``; a ``dask.distributed.Client`` itself is turned into its
  executor). dfdx sends the points in batches: a few batches per worker, so that no
  worker idles while others finish, each long enough that the executor's own overhead
  per task is small against f, and at most two batches per worker in flight, so that a
  large problem neither floods the scheduler nor holds every point in memory.

Results are identical to serial evaluation: the same points reach f, and the values
are stored by position whatever the order in which batches finish. An exception
raised by f carries the point that raised it; a batch lost to a failing worker or a
broken pool raises :class:`WorkerError` naming the points lost.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import numbers
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .work import Work, annotate, batch_of, keep_freed_blocks

__all__ = ["Pool", "MapPool", "ExecutorPool", "WorkerError", "as_pool"]

#: Shortest worthwhile batch, in seconds of f, by kind of executor: about twenty
#: times the executor's own cost per task (thread hand-off, pickling to a process,
#: a scheduler round trip in Dask).
MIN_TASK_SECONDS = {"threads": 1e-3, "processes": 1e-2, "dask": 5e-2, "other": 1e-2}


class WorkerError(RuntimeError):
    """Evaluations were lost: a worker died or the pool broke, not an error in f."""


def _pool_hint(workers: Any) -> str:
    """What to pass instead of a number or a name."""
    name = str(workers).strip().lower() if isinstance(workers, str) else ""
    if name.startswith("process"):
        return "Pass a pool: concurrent.futures.ProcessPoolExecutor(...), and close it when done."
    if "dask" in name or "cluster" in name:
        return (
            "Pass a dask.distributed.Client(...) (a LocalCluster's or a scheduler address's); "
            "see docs/scaling.md."
        )
    if isinstance(workers, numbers.Integral) and not isinstance(workers, bool) and int(workers) > 0:
        return (
            f"For {workers!r:.40} threads pass concurrent.futures.ThreadPoolExecutor({workers!r:.40}) "
            "(or a ProcessPoolExecutor), and close it when done."
        )
    return "Pass a pool: concurrent.futures.ThreadPoolExecutor(...), and close it when done."


def as_pool(workers: Any) -> Pool | None:
    """Validate `workers` and wrap it; None stays serial."""
    if workers is None:
        return None
    if isinstance(workers, type) and (issubclass(workers, cf.Executor) or hasattr(workers, "map")):
        raise TypeError(
            f"`workers` must be a pool instance or a map function, got the class "
            f"{workers.__name__}; create one first, e.g. workers={workers.__name__}(...)."
        )
    if isinstance(workers, (numbers.Number, str, bytes)):
        raise TypeError(
            "`workers` must be a map-like callable (map, pool.map), a concurrent.futures.Executor "
            f"or a dask.distributed Client, got {type(workers).__name__} {workers!r:.40}. "
            f"{_pool_hint(workers)}"
        )
    if _is_dask_client(workers):
        return ExecutorPool(workers.get_executor(), "dask")
    if isinstance(workers, cf.Executor):
        return ExecutorPool(workers, _kind(workers))
    if callable(workers):
        return MapPool(workers)
    if callable(getattr(workers, "map", None)):
        return MapPool(workers.map)
    raise TypeError(
        "`workers` must be a map-like callable (map, pool.map), a concurrent.futures.Executor "
        f"or a dask.distributed Client, got {type(workers).__name__}."
    )


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "distributed" and hasattr(obj, "get_executor")


def _kind(executor: cf.Executor) -> str:
    if isinstance(executor, cf.ThreadPoolExecutor):
        return "threads"
    if isinstance(executor, cf.ProcessPoolExecutor):
        return "processes"
    if type(executor).__module__.split(".")[0] == "distributed":
        return "dask"
    return "other"


class _Call:
    """Picklable ``f(x, *args)`` that tags exceptions with the point.

    With `timed`, returns ``(value, seconds)``: the wall time of f, measured where it ran.
    """

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...], timed: bool = False) -> None:
        self.f = f
        self.args = args
        self.timed = timed

    def __call__(self, point: Any) -> Any:
        if self.timed:
            start = time.perf_counter()
            return self.one(point), time.perf_counter() - start
        return self.one(point)

    def one(self, point: Any) -> Any:
        try:
            return self.f(point, *self.args)
        except Exception as exc:
            annotate(exc, point)
            raise


class _Batch(_Call):
    """Picklable task of an executor: f at every point of a block (or one vectorized call)."""

    __name__ = "dfdx-evaluate"  # the task name Dask shows (its keys and dashboard)

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...], vectorized: bool, timed: bool) -> None:
        super().__init__(f, args, timed)
        self.vectorized = vectorized

    def one(self, block: NDArray[Any]) -> Any:
        if not self.vectorized:
            return [np.asarray(_Call.one(self, point)) for point in block]
        keep_freed_blocks()  # a worker process is a new process: see its docstring
        try:
            return np.asarray(self.f(block, *self.args))
        except Exception as exc:
            annotate(exc, np.moveaxis(block, -1, 0), batch=True)
            raise


def _untimed(raw: Any, timed: bool) -> tuple[Any, float | None]:
    """A task's ``(result, seconds)``; seconds are None when the task was not timed."""
    return raw if timed else (raw, None)


class Pool:
    """Runs f at the points of a :class:`~dfdx.evaluation.work.Work` on workers, values by position."""

    def run(self, work: Work) -> None:
        raise NotImplementedError


class MapPool(Pool):
    """A map-like callable: one item per point (or per batch when f is vectorized)."""

    def __init__(self, map_: Callable[..., Iterable[Any]]) -> None:
        self.map = map_

    def run(self, work: Work) -> None:
        points, out = work.points, work.out
        total = len(points)
        for start in range(0, total, work.block_points):
            stop = min(total, start + work.block_points)
            if work.vectorized:
                # A map spreads items over its workers: give it a few per CPU.
                size = max(1, math.ceil((stop - start) / (4 * (os.cpu_count() or 1))))
                bounds = [(a, min(stop, a + size)) for a in range(start, stop, size)]
                task = _Batch(work.f, work.args, True, work.timed)
                results = self.map(task, [batch_of(points, a, b) for a, b in bounds])
                for j, item in _exactly(results, len(bounds), "batches"):
                    raw, seconds = _untimed(item, work.timed)
                    a, b = bounds[j]
                    out[a:b] = work.take_batch(raw, b - a)
                    work.done(a, b, seconds)
            else:
                block = points.block(start, stop)
                results = self.map(_Call(work.f, work.args, work.timed), list(block))
                for i, item in _exactly(results, stop - start, "points"):
                    raw, seconds = _untimed(item, work.timed)
                    out[start + i] = work.take(raw, block[i])
                    work.done(start + i, start + i + 1, seconds)


def _exactly(results: Iterable[Any], count: int, what: str) -> Iterable[tuple[Any, Any]]:
    """Pair results with their positions, checking that the map returned one per item."""
    seen = 0
    for seen, raw in enumerate(results, start=1):
        if seen > count:
            break
        yield seen - 1, raw
    if seen != count:
        raise ValueError(
            f"`workers` returned {'more' if seen > count else seen} results for {count} {what}; "
            "a map-like callable must return one result per item, in order (like map)."
        )


class ExecutorPool(Pool):
    """A concurrent.futures Executor, fed batches with a bounded number in flight."""

    def __init__(self, executor: cf.Executor, kind: str) -> None:
        self.executor = executor
        self.kind = kind

    def check_alive(self) -> None:
        """Raise :class:`WorkerError` if the executor can no longer run anything (a closed Dask client)."""
        if self.kind == "dask":
            status = self.executor._client.status  # type: ignore[attr-defined]
            if status in ("closing", "closed"):
                raise WorkerError(
                    f"the Dask client of `workers` is {status}: connect a new "
                    "Client (dask.distributed.Client(address)) and pass it or its get_executor()."
                )

    @property
    def nworkers(self) -> int:
        """Tasks the executor runs at once (its worker count; the CPU count if unknown)."""
        if self.kind == "dask":
            # The client's cached view of the cluster: no round trip to the scheduler.
            info = getattr(self.executor._client, "_scheduler_identity", {})  # type: ignore[attr-defined]
            return max(1, int(info.get("total_threads", 0) or os.cpu_count() or 1))
        return max(1, int(getattr(self.executor, "_max_workers", 0) or os.cpu_count() or 1))

    def batch_size(self, total: int, work: Work) -> int:
        """Points per task: about four tasks per worker, each worth its overhead."""
        workers = self.nworkers
        size = math.ceil(total / (4 * workers))
        if work.seconds_per_call:
            size = max(size, math.ceil(MIN_TASK_SECONDS[self.kind] / work.seconds_per_call))
        size = min(size, math.ceil(total / workers), work.block_points)
        if work.timed and work.seconds_per_call:
            # A store records a task's values when it returns: the smallest worthwhile tasks
            # (one point, for an f slower than the executor's overhead) lose the least to a
            # worker that dies.
            size = min(size, math.ceil(MIN_TASK_SECONDS[self.kind] / work.seconds_per_call))
        return max(1, size)

    def submit(self, task: _Batch, block: NDArray[Any]) -> cf.Future[Any]:
        if self.kind == "dask":
            # Keys from tokenizing f and the points would cost a hash per task, and
            # pure tasks could be shared with other computations of the same user.
            return self.executor.submit(task, block, pure=False)  # type: ignore[call-arg]
        return self.executor.submit(task, block)

    def run(self, work: Work) -> None:
        self.check_alive()
        points = work.points
        total = len(points)
        size = self.batch_size(total, work)
        window = 2 * self.nworkers
        task = _Batch(work.f, work.args, work.vectorized, work.timed)
        starts = iter(range(0, total, size))
        pending: dict[cf.Future[Any], tuple[int, int]] = {}

        def refill() -> None:
            for start in starts:
                stop = min(total, start + size)
                block = batch_of(points, start, stop) if work.vectorized else points.block(start, stop)
                try:
                    pending[self.submit(task, block)] = (start, stop)
                except Exception as exc:
                    raise _lost(exc, start, stop, total, "could not be submitted") from exc
                if len(pending) >= window:
                    return

        try:
            refill()
            while pending:
                done, _ = cf.wait(list(pending), timeout=1.0, return_when=cf.FIRST_COMPLETED)
                if not done:
                    self.check_alive()
                for future in done:
                    start, stop = pending.pop(future)
                    _collect(work, future, start, stop)
                refill()
        finally:
            for future in pending:
                future.cancel()


def _collect(work: Work, future: cf.Future[Any], start: int, stop: int) -> None:
    """The values of a finished task into ``work.out[start:stop]``; a failure says what was lost."""
    total = len(work.points)
    try:
        raw, seconds = _untimed(future.result(), work.timed)
    except Exception as exc:
        if getattr(exc, "_dfdx_point", False):
            raise  # f itself raised, at the point named in the message
        if _unpicklable(exc):
            raise TypeError(
                f"f (or its `args`) could not be sent to the workers: {type(exc).__name__}: "
                f"{exc}. Process pools pickle f by name: define it at module level (not a "
                "lambda or a nested function), or use threads, or Dask (which pickles closures)."
            ) from exc
        raise _lost(exc, start, stop, total, "were lost") from exc
    out = work.out
    if work.vectorized:
        out[start:stop] = work.take_batch(raw, stop - start)
    else:
        if len(raw) != stop - start:
            raise _lost(ValueError(f"{len(raw)} values"), start, stop, total, "came back incomplete")
        shape, kind = out.shape[1:], out.dtype.kind  # f(x)'s shape; real or complex, as checked
        for i, value in enumerate(raw):
            if type(value) is np.ndarray and value.shape == shape and value.dtype.kind == kind:
                out[start + i] = value
            else:
                out[start + i] = work.take(value, work.points.block(start + i, start + i + 1)[0])
    work.done(start, stop, seconds)


def _unpicklable(exc: BaseException) -> bool:
    import pickle

    text = str(exc).lower()
    # "Can't pickle local object" up to Python 3.12, "Can't get local object" from 3.13.
    said = ("pickle", "local object", "can't get attribute")
    return isinstance(exc, pickle.PicklingError) or (
        isinstance(exc, (TypeError, AttributeError)) and any(s in text for s in said)
    )


def _lost(exc: BaseException, start: int, stop: int, total: int, what: str) -> WorkerError:
    cause = f"{type(exc).__name__}: {str(exc).rstrip('.')}"
    return WorkerError(
        f"dfdx: the evaluations of f at {stop - start} point(s) (points {start} to {stop - 1} "
        f"of the {total} in this batch of work) {what}: {cause}. This is a failure of the "
        "workers, not of f: no derivative was computed from partial results. Check that the "
        "workers are alive (a worker killed for memory, a closed or unreachable cluster, a "
        "broken process pool) and run again."
    )
