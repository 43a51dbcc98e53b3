"""The one place that calls the user's function.

Every evaluation of ``f`` in dfdx goes through :class:`Evaluator`: serial calls,
vectorized batches and parallel workers alike, so that all three give the same
numbers. It also validates what ``f`` returns (numbers, one shape everywhere, real
unless the complex step is used) and attaches the offending point to exceptions.

Points come as a :class:`PointSet`, which builds them block by block, so that a
large problem never holds every stencil point in memory at once.
"""

from __future__ import annotations

import concurrent.futures
import sys
from typing import Any, Callable, Iterable, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["Evaluator", "PointSet", "format_point"]

#: Upper bound on the size of one block of points, in bytes.
BLOCK_BYTES = 32 * 2**20


class PointSet(Protocol):
    """Points to evaluate, built on demand in blocks of shape ``(m, *x.shape)``."""

    def __len__(self) -> int: ...

    def block(self, start: int, stop: int) -> NDArray[Any]: ...


def format_point(point: Any, limit: int = 8) -> str:
    """A short text form of a point for error messages."""
    arr = np.asarray(point)
    if arr.ndim == 0:
        item = arr[()]
        return repr(item.item() if isinstance(item, np.generic) else item)
    return np.array2string(
        arr, separator=", ", threshold=limit, edgeitems=3, formatter={"all": lambda v: repr(v.item() if isinstance(v, np.generic) else v)}
    )


def _annotate(exc: BaseException, point: Any) -> None:
    """Put the point that raised into the exception's message, keeping its type."""
    where = f"(dfdx: raised by f at x = {format_point(point)})"
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]} {where}",) + exc.args[1:]
    elif not exc.args:
        exc.args = (where,)
    elif sys.version_info >= (3, 11):
        exc.add_note(where)


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
        `f` takes a batch ``x.shape + (k,)`` and returns ``out_shape + (k,)``.
    workers : map-like or Executor, optional
        Where to run non-vectorized evaluations.
    f0 : array_like, optional
        ``f(x)`` if the caller has it; otherwise it is computed once here.
    args : tuple
        Extra positional arguments of `f`.
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
    ) -> None:
        self.f = f
        self.x = x
        self.args = args
        self.complex_points = complex_points
        self.vectorized = vectorized
        self.workers = workers
        self.nfev = 0
        self.callbacks: list[Callable[[int], None]] = []
        if f0 is None:
            batch = x[..., None] if vectorized else x.copy()
            raw = self._call_one(batch, x)
            self.nfev += 1
            value = np.asarray(raw)
            if vectorized:
                value = self._unbatch(value, 1, batch_shape=None)[0]
        else:
            value = np.asarray(f0)
        self._check_first(value)
        self.f0: NDArray[Any] = value
        self.out_shape: tuple[int, ...] = value.shape

    # -- validation -----------------------------------------------------------------
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
        if value.shape != self.out_shape:
            raise ValueError(
                f"f returned shape {value.shape} at x = {format_point(point)}, but shape "
                f"{self.out_shape} at the point of differentiation; f must return the same "
                "shape at every point."
            )
        if value.dtype.kind not in "biufc":
            raise TypeError(
                f"f returned {_describe(value)} at x = {format_point(point)}; it must return numbers."
            )
        if value.dtype.kind == "c" and not self.complex_points:
            raise TypeError(
                f"f returned complex values at the real point x = {format_point(point)}; "
                "dfdx differentiates real functions: return the real part."
            )
        if self.complex_points and value.dtype.kind != "c":
            raise TypeError(
                "method='complex' needs f to carry the imaginary part through, but f returned "
                f"real values at the complex point x = {format_point(point)}. f must be written "
                "with complex-safe operations (no abs, np.real, float(), math.*); "
                "otherwise use method='central'."
            )

    # -- calling f ------------------------------------------------------------------
    def _call_one(self, arg: Any, point: Any) -> Any:
        try:
            return self.f(arg, *self.args)
        except Exception as exc:
            _annotate(exc, point)
            raise

    def _unbatch(self, value: NDArray[Any], k: int, batch_shape: Any) -> NDArray[Any]:
        """Move the batch axis of a vectorized output to the front, checking its length."""
        if value.ndim == 0 or value.shape[-1] != k:
            expected = "out_shape + (k,)" if batch_shape is None else f"{batch_shape + (k,)}"
            raise ValueError(
                f"vectorized f was given a batch of {k} point(s) (array of shape "
                f"x.shape + ({k},)) and returned shape {value.shape}; expected {expected}, "
                "with the batch on the last axis."
            )
        return np.moveaxis(value, -1, 0)

    def __call__(self, points: PointSet) -> NDArray[Any]:
        """Evaluate f at every point of `points`; returns ``(len(points), *out_shape)``."""
        total = len(points)
        dtype = np.result_type(self.f0.dtype, np.float64 if self.f0.dtype.kind in "biu" else self.f0.dtype)
        if self.complex_points:
            dtype = np.result_type(dtype, np.complex64)
        out = np.empty((total, *self.out_shape), dtype=dtype)
        if total == 0:
            return out
        per_point = max(1, self.x.size) * (16 if self.complex_points else 8)
        step = max(1, BLOCK_BYTES // per_point)
        for start in range(0, total, step):
            stop = min(total, start + step)
            block = points.block(start, stop)
            out[start:stop] = self._evaluate_block(block)
            self.nfev += stop - start
            for callback in self.callbacks:
                callback(stop - start)
        return out

    def _evaluate_block(self, block: NDArray[Any]) -> NDArray[Any]:
        if self.vectorized:
            batch = np.moveaxis(block, 0, -1)
            value = np.asarray(self._call_one(batch, block[0]))
            value = self._unbatch(value, len(block), self.out_shape)
            self._check(value[0], block[0])
            return value
        scalar = self.x.ndim == 0
        args = [p[()] if scalar else p for p in block]
        if self.workers is None:
            results: Iterable[Any] = (self._call_one(a, a) for a in args)
        else:
            results = self._map(args)
        values = []
        for a, raw in zip(args, results):
            value = np.asarray(raw)
            if value.shape != self.out_shape or value.dtype.kind not in "fc":
                self._check(value, a)
            elif (value.dtype.kind == "c") != self.complex_points:
                self._check(value, a)
            values.append(value)
        return np.stack(values)

    def _map(self, args: list[Any]) -> Iterable[Any]:
        call = _Call(self.f, self.args)
        if isinstance(self.workers, concurrent.futures.Executor):
            return list(self.workers.map(call, args))
        return list(self.workers(call, args))


class _Call:
    """Picklable ``f(x, *args)`` that tags exceptions with the point (for process pools)."""

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.f = f
        self.args = args

    def __call__(self, point: Any) -> Any:
        try:
            return self.f(point, *self.args)
        except Exception as exc:
            _annotate(exc, point)
            raise


def _describe(value: NDArray[Any]) -> str:
    if value.dtype.kind in "USO":
        return f"a value of dtype {value.dtype} ({format_point(value)})"
    return f"dtype {value.dtype}"
