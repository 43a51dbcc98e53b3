"""The NumPy functions a :class:`~dfdx.engine.tracer.Tracer` follows (``__array_function__``).

Functions that only move elements are run on arrays of element positions, and the
tracer's sets follow the positions; reductions, products and elementwise functions
take unions (:mod:`dfdx.engine.tracer`). Any other function raises
:class:`~dfdx.engine.tracer.TraceError`.

The tracer module passes itself in (``ops``): it imports this one, not the reverse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sps  # type: ignore[import-untyped]

__all__ = ["dispatch", "Pairs"]

#: Functions of one array that only move (or repeat) its elements.
_MOVE_ONE = {
    np.reshape, np.ravel, np.transpose, np.moveaxis, np.swapaxes, np.roll, np.flip, np.fliplr,
    np.flipud, np.rot90, np.squeeze, np.expand_dims, np.broadcast_to, np.tile, np.repeat,
    np.atleast_1d, np.atleast_2d, np.atleast_3d, np.copy, np.take, np.diagonal, np.pad,
    np.asanyarray, np.ascontiguousarray,
}  # fmt: skip
#: Functions of a sequence of arrays that only move their elements.
_MOVE_MANY = {np.concatenate, np.stack, np.vstack, np.hstack, np.column_stack, np.dstack}
_REDUCE = {
    np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.nansum, np.nanmean,
    np.nanmax, np.nanmin, np.any, np.all, np.average, np.linalg.norm, np.std, np.var,
}  # fmt: skip
#: Sums and means are linear; the other reductions couple what they combine.
_LINEAR_REDUCE = {np.sum, np.mean, np.nansum, np.nanmean, np.average}
_ELEMENTWISE = {np.clip, np.nan_to_num, np.real, np.imag, np.around, np.round}
_LIKE = {np.zeros_like, np.empty_like, np.ones_like, np.full_like}


def dispatch(func: Any, args: Any, kwargs: Any, ops: Any) -> Any:
    """Run NumPy function `func` on arguments holding tracers."""
    if func in _MOVE_ONE:
        return _move(ops, [args[0]], lambda pos: func(pos[0], *args[1:], **_constant(func, kwargs)))
    if func in _MOVE_MANY:
        return _move(ops, list(args[0]), lambda pos: func(pos, *args[1:], **kwargs))
    if func is np.append:
        return _move(ops, [args[0], args[1]], lambda pos: func(pos[0], pos[1], *args[2:], **kwargs))
    if func in _REDUCE:
        axis = kwargs.get("axis", args[1] if len(args) > 1 and func is not np.linalg.norm else None)
        if func is np.linalg.norm:
            axis = kwargs.get("axis", args[2] if len(args) > 2 else None)
        return ops.reduce(
            args[0], axis, bool(kwargs.get("keepdims", False)), curved=func not in _LINEAR_REDUCE
        )
    if func in _ELEMENTWISE:
        extra = [v for v in kwargs.values() if isinstance(v, ops.Tracer)]
        return ops.elementwise(*args, *extra, curved="all" if func is np.clip else "")
    if func is np.where and len(args) == 3:
        cond, a, b = args
        shape = np.broadcast_shapes(
            *(np.shape(v) if not isinstance(v, ops.Tracer) else v.shape for v in args)
        )
        return (
            ops.elementwise(np.zeros(shape), a, b)
            if _any_tracer(ops, a, b)
            else _constant_tracer(ops, shape, cond)
        )
    if func in _LIKE:
        return _empty_tracer(ops, args[0], kwargs.get("shape"))
    if func in (np.dot, np.matmul, np.inner) and len(args) == 2:
        return ops._matmul(*args)
    if func in (np.shape, np.ndim, np.size):
        return func(np.empty(args[0].shape, dtype=bool), *args[1:])
    if func is np.diff:
        return _diff(ops, args[0], *args[1:], **kwargs)
    raise ops.TraceError(f"f calls numpy.{getattr(func, '__name__', func)}, which the tracer does not follow")


def _any_tracer(ops: Any, *values: Any) -> bool:
    return any(isinstance(v, ops.Tracer) for v in values)


def _constant_tracer(ops: Any, shape: tuple[int, ...], like: Any) -> Any:
    return ops.Tracer(ops._empty(int(np.prod(shape, dtype=np.intp)), like.deps.shape[1]), shape)


def _empty_tracer(ops: Any, like: Any, shape: Any) -> Any:
    return _constant_tracer(ops, like.shape if shape is None else tuple(np.atleast_1d(shape)), like)


def _constant(func: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Padding with a constant pads positions with -1 (no dependence)."""
    if func is np.pad and kwargs.get("mode", "constant") == "constant":
        return {**kwargs, "constant_values": -1}
    return kwargs


def _move(ops: Any, arrays: list[Any], apply: Any) -> Any:
    """Run a moving function on positions: tracers' rows stacked, constants at -1."""
    tracers = [a for a in arrays if isinstance(a, ops.Tracer)]
    n = tracers[0].deps.shape[1]
    positions, offset = [], 0
    for a in arrays:
        if isinstance(a, ops.Tracer):
            positions.append(ops._positions(a.shape, offset))
            offset += a.size
        elif isinstance(a, np.ndarray) and a.dtype == object:
            raise ops.TraceError("f turned its argument into an array of objects (np.asarray)")
        else:
            positions.append(np.full(np.shape(a), -1, dtype=np.intp))
    stacked = sps.vstack([t.deps for t in tracers], format="csr") if len(tracers) > 1 else tracers[0].deps
    moved = np.asarray(apply(positions))
    if moved.dtype.kind not in "iu":
        raise ops.TraceError("a moving function gave non-integer positions")
    if len(arrays) == 1 and isinstance(arrays[0], ops.Tracer):
        return arrays[0]._view(moved)
    return ops.Tracer(ops._gather(stacked, moved) if moved.size else ops._empty(0, n), moved.shape)


def _diff(ops: Any, a: Any, n: int = 1, axis: int = -1, **kwargs: Any) -> Any:
    if kwargs:
        raise ops.TraceError("numpy.diff with prepend or append")
    for _ in range(n):
        ax = axis % a.ndim
        lead = (slice(None),) * ax
        a = ops.elementwise(a[lead + (slice(1, None),)], a[lead + (slice(None, -1),)])
    return a


class Pairs:
    """Records the coordinate pairs that curved operations combine: the Hessian's pattern.

    Used as a context manager around a trace; every elementwise operation that is not
    linear adds, for each element, all pairs of the coordinates that element depends
    on (a superset of the pairs of the Hessian of whatever f returns).
    """

    active: list[Pairs] = []

    def __init__(self, n: int) -> None:
        self.pattern = sps.csr_array((n, n), dtype=bool)

    def add(self, left: sps.csr_array, right: sps.csr_array) -> None:
        pairs = left.T @ right
        self.pattern = sps.csr_array(self.pattern + pairs + pairs.T, dtype=bool)

    def __enter__(self) -> Pairs:
        Pairs.active.append(self)
        return self

    def __exit__(self, *_: Any) -> None:
        Pairs.active.remove(self)


def _record(left: sps.csr_array, right: sps.csr_array | None = None) -> None:
    """Every element couples each coordinate of `left` with each of `right` (default: `left`)."""
    if Pairs.active:
        Pairs.active[-1].add(left, left if right is None else right)
