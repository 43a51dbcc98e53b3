"""Checks on what f returns: numbers, one shape everywhere (f(x)'s), real unless the points are complex."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .work import format_point

__all__ = ["Checks", "as_array", "check_first", "describe"]


class Checks:
    """The checks of every value of f, against f(x)'s shape, for real or complex points."""

    def __init__(self, out_shape: tuple[int, ...], complex_points: bool) -> None:
        self.out_shape = out_shape
        self.complex_points = complex_points
        self.kind = "c" if complex_points else "f"

    def take(self, raw: Any, point: Any) -> NDArray[Any]:
        """Check one value of f (returned at `point`) and return it as an array."""
        if type(raw) is np.ndarray and raw.shape == self.out_shape and raw.dtype.kind == self.kind:
            return raw
        value = as_array(raw, point)
        self.check(value, point)
        return value

    def take_batch(self, raw: Any, k: int) -> NDArray[Any]:
        """Check the value of a vectorized call on `k` points; returns it batch axis first."""
        if type(raw) is np.ndarray and raw.dtype.kind == self.kind and raw.shape == self.out_shape + (k,):
            # The common case, checked as fully as below: the batch axis moved to the front.
            return raw if raw.ndim == 1 else raw.transpose(raw.ndim - 1, *range(raw.ndim - 1))
        value = as_array(raw, None)
        expected = self.out_shape
        if value.shape != expected + (k,):
            raise ValueError(
                f"vectorized f was given a batch of {k} points and returned shape {value.shape}; "
                f"f(x) has shape {expected}, so the expected shape is f(x).shape + (k,) = "
                f"{expected + (k,)} (the points are stacked on the last axis of f's argument)."
            )
        batch = np.moveaxis(value, -1, 0)
        self.check(batch[0], f"a batch of {len(batch)} points")
        return batch

    def check(self, value: NDArray[Any], point: Any) -> None:
        where = point if isinstance(point, str) else f"x = {format_point(point)}"
        if value.shape != self.out_shape:
            raise ValueError(
                f"f returned shape {value.shape} at {where}, but shape "
                f"{self.out_shape} at the point of differentiation; f must return the same "
                "shape at every point."
            )
        if value.dtype.kind not in "biufc":
            raise TypeError(f"f returned {describe(value)} at {where}; it must return numbers.")
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


def check_first(value: NDArray[Any]) -> None:
    """f(x) must be real numbers."""
    if value.dtype.kind not in "biufc":
        raise TypeError(
            f"f must return numbers (a float or an array of floats), but f(x) returned "
            f"{describe(value)}. Return a float or a NumPy array of floats."
        )
    if value.dtype.kind == "c":
        raise TypeError(
            "f returned complex values at a real point x. dfdx differentiates real "
            "functions: return the real part, or split f into real and imaginary parts."
        )


def as_array(raw: Any, point: Any, name: str = "f") -> NDArray[Any]:
    """`raw` as an array, or a TypeError saying what f (or `f0`) gave."""
    try:
        return np.asarray(raw)
    except (TypeError, ValueError):
        what = "`f0` was given as" if name == "f0" else "f returned"
        where = "" if point is None or name == "f0" else f" at x = {format_point(point)}"
        raise TypeError(
            f"{what} {raw!r:.80}{where}, which is not a float or an array of numbers "
            "of one shape (a list of mixed shapes?)."
        ) from None


def describe(value: NDArray[Any]) -> str:
    """The kind of a value that is not numbers, for messages."""
    if value.dtype.kind in "USO":
        return f"a value of dtype {value.dtype} ({format_point(value)})"
    return f"dtype {value.dtype}"
