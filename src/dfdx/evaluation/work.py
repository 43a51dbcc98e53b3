"""What the evaluation layer hands to whoever runs f: points, f with its arguments, a place for values.

The :class:`~dfdx.evaluation.evaluator.Evaluator` owns the checks, the accounting and the
persistent store; a pool (:mod:`dfdx.evaluation.pools`) only runs f. They meet here, in a
:class:`Work`: f and its arguments, the points, how to check one value, and ``done``, called
once ``out[start:stop]`` holds checked values. Pools never see the evaluator itself.

Points come as a :class:`PointSet`, which builds them block by block, so that a large
problem never holds every stencil point in memory at once: a block holds at most
:data:`BLOCK_BYTES` of points (and of values).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BLOCK_BYTES",
    "PointSet",
    "ArrayPoints",
    "Work",
    "annotate",
    "batch_of",
    "format_point",
    "rows_of",
]

#: Upper bound on the size of one block of points (or of f's values for it), in bytes.
#: Small enough to stay in the last-level cache of a laptop for a few hundred
#: variables, large enough that a vectorized f sees batches of thousands of points.
BLOCK_BYTES = 2 * 2**20

#: Set once a large array has been allocated and freed in this process (see
#: :func:`keep_freed_blocks`).
_BLOCKS_KEPT = False


class PointSet(Protocol):
    """Points to evaluate, built on demand in blocks of shape ``(m, *x.shape)``.

    A point set may also offer ``batch(start, stop)``, the same points as one
    C-contiguous array of shape ``x.shape + (m,)`` (what a vectorized f receives);
    otherwise the evaluator transposes the block.
    """

    def __len__(self) -> int: ...

    def block(self, start: int, stop: int) -> NDArray[Any]: ...


class ArrayPoints:
    """A :class:`PointSet` of points already in one array ``(m, *x.shape)``."""

    def __init__(self, points: NDArray[Any]) -> None:
        self.points = points

    def __len__(self) -> int:
        return len(self.points)

    def block(self, start: int, stop: int) -> NDArray[Any]:
        return self.points[start:stop]


@dataclass
class Work:
    """One run of f over `points`, as a pool sees it.

    Attributes
    ----------
    f, args : callable, tuple
        The user's function and its extra positional arguments.
    points : PointSet
        Where to evaluate f; ``out[i]`` receives f at point ``i``.
    out : ndarray
        The values, ``(len(points), *f(x).shape)``.
    vectorized : bool
        f takes a batch ``x.shape + (k,)``.
    block_points : int
        Most points in one block (bounded memory).
    seconds_per_call : float or None
        Wall time of one call of f, if measured (to size batches).
    take, take_batch : callable
        Check one value of f at a point, or a vectorized call's values on k points
        (returned batch axis first).
    done : callable
        ``done(start, stop, seconds)``: ``out[start:stop]`` holds checked values; `seconds`
        is the wall time f took for them, when the pool measured it.
    timed : bool
        Measure the wall time of f in the tasks (a store records it).
    """

    f: Callable[..., Any]
    args: tuple[Any, ...]
    points: PointSet
    out: NDArray[Any]
    vectorized: bool
    block_points: int
    seconds_per_call: float | None
    take: Callable[[Any, Any], NDArray[Any]]
    take_batch: Callable[[Any, int], NDArray[Any]]
    done: Callable[[int, int, float | None], None]
    timed: bool = False


def format_point(point: Any, limit: int = 8) -> str:
    """A short text form of a point for error messages."""
    arr = np.asarray(point)
    if arr.ndim == 0:
        item = arr[()]
        return repr(item.item() if isinstance(item, np.generic) else item)
    return np.array2string(
        arr,
        separator=", ",
        threshold=limit,
        edgeitems=3,
        formatter={"all": lambda v: repr(v.item() if isinstance(v, np.generic) else v)},
    )


def annotate(exc: BaseException, point: Any, batch: bool = False) -> None:
    """Put the point that raised into the exception's message, keeping its type.

    With `batch`, `point` holds the points of a vectorized call (batch axis first).
    The exception is marked, so that it is told apart from a failure of the pool.
    """
    if batch:
        where = (
            f"(dfdx: raised by vectorized f on a batch of {len(point)} points; "
            f"the first is x = {format_point(point[0])})"
        )
        if isinstance(exc, ValueError) and "read-only" in str(exc):
            where = where[:-1] + (
                "; dfdx passes batches read-only, since it reuses them: copy the argument "
                "before writing into it, e.g. x = x.copy())"
            )
    else:
        where = f"(dfdx: raised by f at x = {format_point(point)})"
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]} {where}",) + exc.args[1:]
    elif not exc.args:
        exc.args = (where,)
    elif sys.version_info >= (3, 11):
        exc.add_note(where)  # shown under the traceback; str(exc) is left alone
    else:  # pragma: no cover
        exc.args = exc.args + (where,)
    exc._dfdx_point = True  # type: ignore[attr-defined]


def keep_freed_blocks() -> None:
    """Allocate and free one array of a few blocks, once per process.

    A vectorized f makes temporaries of about a block each. glibc serves such
    sizes with fresh pages (mmap) and hands freed memory back to the system until
    the process has freed a larger mmap-served array: in a new process every call
    of f would fault its temporaries in again, which made the default 2,000-variable
    Rosenbrock gradient 8 times slower than after any large free (measured in
    ``benchmarks/bench_scale.py``). Freeing one array of ``4 * BLOCK_BYTES`` raises
    glibc's thresholds above the block size, for this process, as any larger NumPy
    array freed by the user would; the heap then keeps up to 8 blocks of freed memory
    (glibc's trim threshold, twice the array). Other allocators are not affected, and
    ``np.empty`` touches no page: it costs microseconds. A process started with glibc's
    thresholds set (``MALLOC_TRIM_THRESHOLD_``, as Dask's nannies set for their workers)
    keeps them.
    """
    global _BLOCKS_KEPT
    if not _BLOCKS_KEPT:
        _BLOCKS_KEPT = True
        np.empty(4 * BLOCK_BYTES, dtype=np.uint8)  # freed at once: only the free matters


def batch_of(
    points: PointSet,
    start: int,
    stop: int,
    out: NDArray[Any] | None = None,
    previous: tuple[int, int] | None = None,
) -> NDArray[Any]:
    """Points ``start:stop`` as one array ``x.shape + (m,)``, the layout of a vectorized call.

    `out` is an optional buffer to fill, from an earlier batch at least as large;
    `previous` the ``(start, stop)`` of the batch it still holds unchanged, if any.
    """
    batch = getattr(points, "batch", None)
    if batch is not None:
        return batch(start, stop, out, previous)  # type: ignore[no-any-return]
    return np.ascontiguousarray(np.moveaxis(points.block(start, stop), 0, -1))


def rows_of(f: Callable[..., Any], block: NDArray[Any]) -> tuple[Callable[..., Any], Iterable[Any]]:
    """The function the serial loop calls and its input at each point of `block`.

    The points themselves, unless f converts a whole block at once (``f.rows``: x in
    another array library, where a conversion per point would cost more than f).
    """
    inner = f.func if isinstance(f, functools.partial) else f  # `kwargs` bound around f
    rows = getattr(inner, "rows", None)
    found = rows(block) if rows is not None else None
    if found is None:
        return f, block
    call, inputs = found
    if isinstance(f, functools.partial):
        call = functools.partial(call, *f.args, **f.keywords)
    return call, inputs
