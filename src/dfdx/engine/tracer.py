"""Dependency tracing: f run once on an array of index sets instead of numbers.

A :class:`Tracer` stands for an array of x's shape whose every element carries the set
of coordinates of x it depends on, stored as the rows of a boolean sparse matrix (one
row per element, one column per coordinate of x). NumPy hands it every ufunc
(``__array_ufunc__``) and the array functions it knows (``__array_function__``):
an elementwise operation takes the union of its operands' sets, indexing and the
functions that only move elements (``reshape``, ``concatenate``, ``roll``, ``pad`` ...)
move the sets, and a reduction or a product with a constant matrix unions the sets it
combines. The sets f returns are the Jacobian's pattern over every x at once, so a
vectorized residual on a million variables is traced in about the time of a few
evaluations, where probing would cost one evaluation per variable.

Anything the tracer cannot follow -- ``float(x[0])``, ``if x[0] > 0``, ``np.asarray``,
a function it does not know, writing into a NumPy array -- raises :class:`TraceError`
(or whatever f raises), and the caller probes f with numbers instead. The union is a
superset of the true pattern unless f hides a dependence from NumPy (the caller checks
the result).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import scipy.sparse as sps  # type: ignore[import-untyped]
from numpy.typing import NDArray

from .tracer_functions import Pairs, _record, dispatch

__all__ = ["Tracer", "TraceError", "Pairs", "trace_input"]

Array = NDArray[Any]


class TraceError(TypeError):
    """f did something with its argument that dependency tracing cannot follow."""


def trace_input(size: int, shape: tuple[int, ...]) -> Tracer:
    """The tracer of x itself: element i depends on coordinate i."""
    return Tracer(sps.identity(size, dtype=bool, format="csr"), shape)


def _empty(rows: int, n: int) -> sps.csr_array:
    return sps.csr_array((rows, n), dtype=bool)


def _gather(deps: sps.csr_array, index: Array) -> sps.csr_array:
    """Rows `index` of `deps` (-1: no dependence)."""
    flat = np.asarray(index, dtype=np.intp).ravel()
    if flat.size and flat.min() < 0:
        deps = sps.vstack([deps, _empty(1, deps.shape[1])], format="csr")
        flat = np.where(flat < 0, deps.shape[0] - 1, flat)
    return sps.csr_array(deps[flat])


def _positions(shape: tuple[int, ...], offset: int = 0) -> Array:
    return np.arange(offset, offset + int(np.prod(shape, dtype=np.intp)), dtype=np.intp).reshape(shape)


def _ufunc(ufunc: Any, reflected: bool = False, inplace: bool = False) -> Any:
    """An operator method that runs NumPy's `ufunc` (so its curvature is known).

    In place, the tracer's own sets are replaced (and its root's, for a view).
    """

    def method(self: Tracer, *other: Any) -> Any:
        inputs = (*other, self) if reflected else (self, *other)
        result = self.__array_ufunc__(ufunc, "__call__", *inputs)
        if inplace:
            self._write(_positions(self.shape), _deps_of(result, self.shape, self._n()))
            return self
        return result

    return method


#: Ufuncs linear in all their operands, and ufuncs whose derivative is zero: neither
#: couples two coordinates in a second derivative.
_LINEAR = {np.add, np.subtract, np.negative, np.positive, np.conjugate}
_FLAT = {
    np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal, np.floor, np.ceil,
    np.trunc, np.rint, np.sign, np.isfinite, np.isnan, np.isinf, np.signbit, np.floor_divide,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
}  # fmt: skip


def _linear(ufunc: Any, inputs: tuple[Any, ...]) -> bool:
    """Whether `ufunc` on `inputs` has no second derivative coupling coordinates."""
    if ufunc in _LINEAR or ufunc in _FLAT:
        return True
    if ufunc is np.multiply:
        return sum(isinstance(i, Tracer) for i in inputs) == 1
    if ufunc is np.true_divide:
        return not isinstance(inputs[1], Tracer)
    return False


class Tracer:
    """An array of dependency sets (see the module docstring)."""

    __array_priority__ = 1e6
    __hash__ = None  # type: ignore[assignment]
    dtype = np.dtype(np.float64)

    def __init__(
        self,
        deps: sps.csr_array,
        shape: tuple[int, ...],
        root: Tracer | None = None,
        rows: Array | None = None,
    ):
        self.deps = deps
        self.shape = tuple(int(s) for s in shape)
        #: A view (an index or slice of another tracer) writes through to its root's rows.
        self._root, self._rows = root, rows

    # -- array attributes -----------------------------------------------------------
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.intp)))
    T = property(lambda self: self.transpose())

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"Tracer(shape={self.shape})"

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise TraceError("f turns its argument into numbers (float, int, bool, np.asarray) or branches on it")

    __float__ = __int__ = __bool__ = __index__ = __complex__ = tolist = item = _refuse

    def __array__(self, dtype: Any = None, copy: Any = None) -> Array:
        """A 0-d object array holding the tracer: NumPy cannot make numbers of it, and a SciPy
        sparse matrix, given one, hands ``A @ tracer`` to :meth:`__rmatmul__`. Used as an
        operand anywhere else it raises :class:`TraceError` (see :func:`_deps_of`)."""
        if dtype is not None and np.dtype(dtype) != object:
            self._refuse()
        held = np.empty((), dtype=object)
        held[()] = self
        return held

    # -- making new tracers ---------------------------------------------------------
    def _n(self) -> int:
        return int(self.deps.shape[1])

    def _like(self, shape: tuple[int, ...]) -> Tracer:
        return Tracer(_empty(int(np.prod(shape, dtype=np.intp)), self._n()), shape)

    def _view(self, index: Array, in_order: bool = False) -> Tracer:
        """The elements at `index` (positions in this tracer); `in_order`: all of them, in order."""
        root = self if self._root is None else self._root
        base = self._rows if self._rows is not None else _positions(self.shape)
        deps = self.deps if in_order else _gather(self.deps, index)
        return Tracer(deps, index.shape, root, base.ravel()[index.ravel()].reshape(index.shape))

    def _write(self, index: Array, deps: sps.csr_array) -> None:
        """Replace the sets of the elements `index` (and of the root's, for a view)."""
        flat = np.asarray(index, dtype=np.intp).ravel()
        stacked = sps.vstack([self.deps, deps], format="csr")
        pick = np.arange(self.deps.shape[0], dtype=np.intp)
        pick[flat] = self.deps.shape[0] + np.arange(flat.size)
        self.deps = sps.csr_array(stacked[pick])
        if self._root is not None and self._rows is not None:
            self._root._write(self._rows.ravel()[flat], deps)

    def __getitem__(self, key: Any) -> Tracer:
        if any(isinstance(k, Tracer) for k in (key if isinstance(key, tuple) else (key,))):
            raise TraceError("f indexes with a mask or indices computed from x")
        return self._view(_positions(self.shape)[key])

    def __setitem__(self, key: Any, value: Any) -> None:
        index = _positions(self.shape)[key]
        self._write(index, _deps_of(value, index.shape, self._n()))

    # -- NumPy protocols ------------------------------------------------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if kwargs.get("out") is not None:
            raise TraceError(f"f writes a ufunc's result into an array (out= of numpy.{ufunc.__name__})")
        if method == "__call__":
            if ufunc is np.matmul:
                return _matmul(*inputs)
            curved = "" if _linear(ufunc, inputs) else "cross" if ufunc is np.multiply else "all"
            result = elementwise(*inputs, curved=curved)
            return result if ufunc.nout == 1 else tuple(elementwise(*inputs) for _ in range(ufunc.nout))
        if method == "reduce":
            axis, keep = kwargs.get("axis", 0), bool(kwargs.get("keepdims", False))
            return reduce(inputs[0], axis, keep, curved=ufunc is not np.add)
        raise TraceError(f"numpy.{ufunc.__name__}.{method}")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return dispatch(func, args, kwargs, sys.modules[__name__])

    # -- methods of ndarray ---------------------------------------------------------
    def reshape(self, *shape: Any, order: str = "C") -> Tracer:
        if order != "C":
            raise TraceError("reshape with order other than 'C'")
        new = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return self._view(_positions(self.shape).reshape(new), in_order=True)

    def transpose(self, *axes: Any) -> Tracer:
        return self._view(_positions(self.shape).transpose(*axes))

    def ravel(self, order: str = "C") -> Tracer:
        return self.reshape(-1, order=order)

    def swapaxes(self, a: int, b: int) -> Tracer:
        return self._view(_positions(self.shape).swapaxes(a, b))

    def squeeze(self, axis: Any = None) -> Tracer:
        return self._view(_positions(self.shape).squeeze(axis))

    def copy(self, order: str = "C") -> Tracer:
        return Tracer(self.deps.copy(), self.shape)

    flatten = copy

    def astype(self, dtype: Any, copy: bool = True) -> Tracer:
        return self.copy()

    def sum(self, axis: Any = None, keepdims: bool = False, **_: Any) -> Tracer:
        return reduce(self, axis, keepdims)

    mean = sum

    def prod(self, axis: Any = None, keepdims: bool = False, **_: Any) -> Tracer:
        return reduce(self, axis, keepdims, curved=True)  # a product: all pairs of the factors

    max = min = any = all = prod

    def dot(self, other: Any) -> Tracer:
        return _matmul(self, other)

    def _unary(self) -> Tracer:
        return elementwise(self)

    __add__, __radd__ = _ufunc(np.add), _ufunc(np.add, True)
    __sub__, __rsub__ = _ufunc(np.subtract), _ufunc(np.subtract, True)
    __mul__, __rmul__ = _ufunc(np.multiply), _ufunc(np.multiply, True)
    __truediv__, __rtruediv__ = _ufunc(np.true_divide), _ufunc(np.true_divide, True)
    __floordiv__, __rfloordiv__ = _ufunc(np.floor_divide), _ufunc(np.floor_divide, True)
    __mod__, __rmod__ = _ufunc(np.remainder), _ufunc(np.remainder, True)
    __pow__, __rpow__ = _ufunc(np.power), _ufunc(np.power, True)
    __lt__, __le__, __gt__, __ge__ = (
        _ufunc(np.less),
        _ufunc(np.less_equal),
        _ufunc(np.greater),
        _ufunc(np.greater_equal),
    )
    __eq__, __ne__ = _ufunc(np.equal), _ufunc(np.not_equal)
    __iadd__, __isub__ = _ufunc(np.add, inplace=True), _ufunc(np.subtract, inplace=True)
    __imul__, __itruediv__ = _ufunc(np.multiply, inplace=True), _ufunc(np.true_divide, inplace=True)
    __ipow__ = _ufunc(np.power, inplace=True)
    __neg__ = __pos__ = _unary
    __abs__ = _ufunc(np.absolute)

    def __matmul__(self, other: Any) -> Tracer:
        return _matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tracer:
        return _matmul(other, self)


def _n_of(*operands: Any) -> int:
    return next(int(o.deps.shape[1]) for o in operands if isinstance(o, Tracer))


def _no_objects(value: Any) -> None:
    """An object array may hold tracers (``np.asarray`` of one): its sets cannot be followed."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        raise TraceError("f turned its argument into an array of objects (np.asarray)")


def _deps_of(value: Any, shape: tuple[int, ...], n: int) -> sps.csr_array:
    """The sets of `value` broadcast to `shape` (a constant depends on nothing)."""
    size = int(np.prod(shape, dtype=np.intp))
    if not isinstance(value, Tracer):
        _no_objects(value)
        np.broadcast_shapes(np.shape(value), shape)  # the error NumPy would raise
        return _empty(size, n)
    if value.shape == tuple(shape):
        return value.deps
    return _gather(value.deps, np.broadcast_to(_positions(value.shape), shape))


def elementwise(*operands: Any, curved: str = "") -> Tracer:
    """The union of the operands' sets, broadcast as NumPy would.

    `curved` records the pairs the operation couples: ``'all'`` (a curved function of
    its operands), ``'cross'`` (a product: one coordinate from each factor).
    """
    n = _n_of(*operands)
    for o in operands:
        _no_objects(o)
    shape = np.broadcast_shapes(*(o.shape if isinstance(o, Tracer) else np.shape(o) for o in operands))
    deps = [_deps_of(o, shape, n) for o in operands if isinstance(o, Tracer)]
    total = deps[0]
    for d in deps[1:]:
        total = total + d
    total = sps.csr_array(total, dtype=bool)
    if curved == "cross" and len(deps) == 2:
        _record(deps[0], deps[1])
    elif curved:
        _record(total)
    return Tracer(total, shape)


def reduce(t: Tracer, axis: Any, keepdims: bool, curved: bool = False) -> Tracer:
    """The union over `axis` (None: all), as ``sum``, ``max`` or ``prod`` would combine."""
    if not isinstance(t, Tracer):
        raise TraceError("a reduction of a constant with a tracer")
    axes = tuple(range(t.ndim)) if axis is None else tuple(np.atleast_1d(axis).tolist())
    axes = tuple(a % t.ndim for a in axes) if t.ndim else ()
    kept = [d for a, d in enumerate(t.shape) if a not in axes]
    pos = np.moveaxis(_positions(t.shape), axes, tuple(range(-len(axes), 0))) if axes else _positions(t.shape)
    pos = pos.reshape(int(np.prod(kept, dtype=np.intp)), -1)
    combine = sps.csr_array(
        (np.ones(pos.size, dtype=bool), (np.repeat(np.arange(pos.shape[0]), pos.shape[1]), pos.ravel())),
        shape=(pos.shape[0], t.deps.shape[0]),
    )
    shape = tuple(1 if a in axes else d for a, d in enumerate(t.shape)) if keepdims else tuple(kept)
    deps = sps.csr_array(combine @ t.deps, dtype=bool)
    if curved:
        _record(deps)
    return Tracer(deps, shape)


def _mask(operand: Any) -> tuple[sps.csr_array, tuple[int, ...]]:
    """Which entries of a matrix operand may be nonzero, as a 2-D sparse array."""
    shape = operand.shape if isinstance(operand, Tracer) else np.shape(operand)
    if len(shape) > 2:
        raise TraceError("a product of arrays of more than two dimensions")
    grid = (1, shape[0]) if len(shape) == 1 else shape
    if isinstance(operand, Tracer):
        return sps.csr_array(np.ones(grid, dtype=bool)), shape
    _no_objects(operand)
    dense = sps.issparse(operand)
    values = operand if dense else np.asarray(operand).reshape(grid)
    return sps.csr_array(values, dtype=bool).reshape(grid), shape


def _matmul(a: Any, b: Any) -> Tracer:
    """``a @ b`` with at least one tracer: entry (i, j) depends on a's row i and b's column j."""
    n = _n_of(a, b)
    ma, sa = _mask(a)
    mb, sb = _mask(b)
    if len(sb) == 1:
        mb = sps.csr_array(mb.T)
    rows, inner, cols = ma.shape[0], ma.shape[1], mb.shape[1]
    if mb.shape[0] != inner:
        raise ValueError(f"matmul: shapes {sa} and {sb} do not align")
    total = _empty(rows * cols, n)
    if isinstance(a, Tracer):
        spread = sps.kron(sps.identity(rows, dtype=bool), mb.T, format="csr")
        total = total + spread @ a.deps.reshape(rows * inner, n)
    if isinstance(b, Tracer):
        spread = sps.kron(ma, sps.identity(cols, dtype=bool), format="csr")
        total = total + spread @ b.deps.reshape(inner * cols, n)
    shape = tuple(d for d, keep in ((rows, len(sa) == 2), (cols, len(sb) == 2)) if keep)
    total = sps.csr_array(total, dtype=bool)
    if isinstance(a, Tracer) and isinstance(b, Tracer):
        _record(total)
    return Tracer(total, shape)
