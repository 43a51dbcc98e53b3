"""Validation at the boundary: every argument is checked once, here, with a message
that names it and says what was expected."""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "as_function",
    "as_point",
    "as_method",
    "as_accuracy",
    "as_step",
    "as_flag",
    "as_bounds",
    "METHODS",
]

METHODS = ("central", "forward", "backward", "complex")
DEFAULT_ACCURACY = {"central": 4, "forward": 1, "backward": 1, "complex": 2}


def as_function(f: Any, name: str = "f") -> Callable[..., Any]:
    if not callable(f):
        raise TypeError(f"`{name}` must be a callable (a function of x), got {type(f).__name__}: {f!r:.60}.")
    return f  # type: ignore[no-any-return]


def as_point(x: Any, name: str = "x") -> NDArray[np.floating[Any]]:
    """A real floating array (ints become float64, float16 becomes float32), finite and non-empty.

    A masked array is refused when anything is masked (dfdx would differentiate at the
    hidden values), and read as its data otherwise.
    """
    if x is None:
        raise TypeError(f"`{name}` is None; give the point: a number or an array of numbers.")
    if isinstance(x, np.ma.MaskedArray):
        if np.ma.getmaskarray(x).any():
            where = [tuple(int(i) for i in ix) for ix in np.argwhere(np.ma.getmaskarray(x))[:5]]
            raise ValueError(
                f"`{name}` is a masked array with masked entries at {where}: dfdx needs a value "
                f"for every coordinate. Pass `{name}.filled(value)`, or only the unmasked "
                f"coordinates (`{name}.compressed()`) to a function of those."
            )
        x = np.ma.getdata(x)
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be a number or an array of numbers: {exc}") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(
            f"`{name}` must be real, got dtype {arr.dtype}. dfdx differentiates real functions; "
            "method='complex' adds the imaginary perturbation itself."
        )
    if kind == "b" or kind in "USVMm":
        raise TypeError(f"`{name}` must be numeric (a float or an array of floats), got dtype {arr.dtype}.")
    if kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"`{name}` must be numeric (a float or an array of floats); it holds objects "
                "that are not numbers, or sequences of different lengths."
            ) from None
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    elif arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    if arr.size == 0:
        raise ValueError(f"`{name}` is empty; give at least one coordinate.")
    if not np.isfinite(arr).all():
        bad = ~np.isfinite(arr)
        where = [tuple(int(i) for i in ix) for ix in np.argwhere(bad)[:5]]
        raise ValueError(f"`{name}` must be finite; it has NaN or inf at {where if arr.ndim else 'x'}.")
    return np.array(arr, copy=True)


def as_method(method: Any) -> str:
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {', '.join(map(repr, METHODS))}; got {method!r}.")
    return str(method)


def as_accuracy(accuracy: Any, method: str, n: int = 1) -> int:
    if accuracy is None:
        return DEFAULT_ACCURACY[method]
    if isinstance(accuracy, bool) or not isinstance(accuracy, numbers.Integral):
        raise TypeError(f"`accuracy` must be an integer (the stencil's order), got {accuracy!r}.")
    accuracy = int(accuracy)
    if method in ("central", "complex"):
        if accuracy < 2 or accuracy % 2:
            raise ValueError(
                f"`accuracy` must be an even integer >= 2 for method={method!r} (2, 4, 6, 8, ...), "
                f"got {accuracy}; odd orders need method='forward' or 'backward'."
            )
    elif accuracy < 1:
        raise ValueError(f"`accuracy` must be an integer >= 1 for method={method!r}, got {accuracy}.")
    if n + accuracy > 24:
        raise ValueError(
            f"`accuracy`={accuracy} with n={n} needs more precision than float64 has; "
            "keep n + accuracy <= 24."
        )
    return int(accuracy)


def as_order(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"`n` (the derivative order) must be an integer >= 1, got {n!r}.")
    return int(n)


def as_step(step: Any, shape: tuple[int, ...]) -> NDArray[np.float64] | None:
    """None, or a positive finite float or array broadcastable to `shape`."""
    if step is None:
        return None
    try:
        arr = np.asarray(step, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`step` must be None, a float or an array of floats, got {step!r:.60}.") from None
    if isinstance(step, bool):
        raise TypeError("`step` must be None, a float or an array of floats, got a bool.")
    try:
        arr = np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(
            f"`step` must be a float or an array of x's shape {shape}, got shape {arr.shape}."
        ) from None
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"`step` must be positive and finite, got {step!r:.60}; pass None for automatic steps."
        )
    return np.array(arr, dtype=np.float64)


def as_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False, got {value!r:.60}.")
    return bool(value)


def as_bounds(bounds: Any, x: NDArray[Any]) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """None, or ``(lower, upper)`` as float arrays of x's shape, with x inside.

    Three forms: a pair ``(lower, upper)`` of floats or arrays; SciPy's sequence of
    ``(lo, hi)`` pairs, one per coordinate (None for no bound); an object with ``lb``
    and ``ub`` (``scipy.optimize.Bounds``). A shape that reads both as a pair and as
    pairs per coordinate (two variables, ``[(0, 1), (5, 6)]``) is refused when both
    readings are boxes (lower < upper) and differ; x must lie in the box.
    """
    if bounds is None:
        return None
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        return _inside(x, *_box((bounds.lb, bounds.ub), x, "`bounds`"))
    if isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__"):
        raise ValueError(
            "`bounds` must be a pair (lower, upper), a sequence of (lo, hi) pairs, one per "
            f"coordinate, or scipy.optimize.Bounds (use -np.inf / np.inf for no bound), got {bounds!r:.60}."
        )
    readings: dict[str, Any] = {}
    errors: list[Exception] = []
    for name, candidate in (("pair", _as_pair(bounds)), ("pairs", _as_pairs(bounds, x))):
        if candidate is None:
            continue
        try:
            readings[name] = _box(candidate, x, "`bounds`")
        except (TypeError, ValueError) as exc:
            errors.append(exc)
    if len(readings) == 2 and not all(np.array_equal(a, b) for a, b in zip(*readings.values(), strict=True)):
        (lo1, hi1), (lo2, hi2) = readings["pair"], readings["pairs"]
        raise ValueError(
            f"`bounds` {_short(bounds)} reads two ways for x of shape {x.shape}: as (lower, upper), "
            f"lower = {_short(lo1)}, upper = {_short(hi1)}; or as one (lo, hi) pair per coordinate, "
            f"lower = {_short(lo2)}, upper = {_short(hi2)}. Say which: pass "
            "scipy.optimize.Bounds(lower, upper)."
        )
    if readings:
        return _inside(x, *next(iter(readings.values())))
    if errors:
        raise errors[0]
    raise ValueError(
        "`bounds` must be a pair (lower, upper) of floats or arrays of x's shape, or a sequence "
        f"of {x.size} (lo, hi) pairs, one per coordinate (use -np.inf / np.inf for no bound), "
        f"got {_short(bounds)}."
    )


def _short(value: Any) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_pair(bounds: Any) -> tuple[Any, Any] | None:
    """``(lower, upper)`` when `bounds` has two items, else None."""
    return (bounds[0], bounds[1]) if len(bounds) == 2 else None


def _as_pairs(bounds: Any, x: NDArray[Any]) -> tuple[Any, Any] | None:
    """SciPy's ``[(lo, hi), ...]``, one pair per coordinate, as ``(lower, upper)``; else None."""
    items = list(bounds)
    if len(items) != x.size or x.ndim > 1:
        return None
    if not all(hasattr(p, "__len__") and not isinstance(p, (str, bytes)) and len(p) == 2 for p in items):
        return None
    lower = [-np.inf if p[0] is None else p[0] for p in items]
    upper = [np.inf if p[1] is None else p[1] for p in items]
    try:
        return np.asarray(lower, dtype=np.float64).reshape(x.shape), np.asarray(
            upper, dtype=np.float64
        ).reshape(x.shape)
    except (TypeError, ValueError):
        return None


def _box(
    bounds: tuple[Any, Any], x: NDArray[Any], what: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(lower, upper)`` as float arrays of x's shape, with lower < upper."""
    pair = []
    for name, b in zip(("lower", "upper"), bounds, strict=True):
        try:
            arr = np.asarray(b, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{what} {name} must be a float or an array of floats, got {b!r:.60}.") from None
        try:
            arr = np.broadcast_to(arr, x.shape)
        except ValueError:
            raise ValueError(
                f"{what} {name} must be a float or an array of x's shape {x.shape}, got shape {arr.shape}."
            ) from None
        if np.isnan(arr).any():
            raise ValueError(f"{what} {name} has NaN; use -np.inf / np.inf for no bound.")
        pair.append(np.array(arr, dtype=np.float64))
    lower, upper = pair
    if np.any(lower >= upper):
        k = int(np.argmax((lower >= upper).ravel()))
        raise ValueError(
            f"{what} must have lower < upper everywhere; at index {k} lower = "
            f"{float(lower.ravel()[k])!r} >= upper = {float(upper.ravel()[k])!r}."
        )
    return lower, upper


def _inside(
    x: NDArray[Any], lower: NDArray[np.float64], upper: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    outside = (x < lower) | (x > upper)
    if outside.any():
        k = int(np.argmax(outside.ravel()))
        raise ValueError(
            f"`x` is outside `bounds` at index {k}: x = {float(x.ravel()[k])!r} not in "
            f"[{float(lower.ravel()[k])!r}, {float(upper.ravel()[k])!r}]. Move x into the box."
        )
    return lower, upper


#: Defaults of the adaptive mode: as accurate as the arithmetic allows, and enough
#: steps for the scale search to come down from a step of |x| to one of 1e-7 |x|.
DEFAULT_RTOL = 2.0**-50
DEFAULT_ATOL = 0.0
DEFAULT_MAX_STEPS = 16
MAX_STEPS_LIMIT = 64


def as_tolerances(rtol: Any, atol: Any, max_steps: Any, adaptive: bool) -> tuple[float, float, int]:
    """``(rtol, atol, max_steps)`` of the adaptive mode, defaults filled in."""
    if rtol is None and atol is None and max_steps is None:
        return DEFAULT_RTOL, DEFAULT_ATOL, DEFAULT_MAX_STEPS
    if not adaptive:
        for name, value in (("rtol", rtol), ("atol", atol), ("max_steps", max_steps)):
            if value is not None:
                raise ValueError(f"`{name}` only applies to the adaptive mode; pass adaptive=True.")
    values = []
    for name, value, default in (("rtol", rtol, DEFAULT_RTOL), ("atol", atol, DEFAULT_ATOL)):
        if value is None:
            values.append(default)
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"`{name}` must be a float >= 0, got {value!r:.60}.")
        number = float(value)
        if not np.isfinite(number) or number < 0:
            raise ValueError(f"`{name}` must be finite and >= 0, got {value!r}.")
        values.append(number)
    if rtol is not None and 0 < values[0] < 2.0**-52:
        raise ValueError(f"`rtol`={rtol!r} is below the float64 resolution 2**-52; use rtol >= 2.2e-16 or 0.")
    if max_steps is None:
        steps = DEFAULT_MAX_STEPS
    elif isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral):
        raise TypeError(f"`max_steps` must be an integer, got {max_steps!r:.60}.")
    elif not 3 <= int(max_steps) <= MAX_STEPS_LIMIT:
        raise ValueError(
            f"`max_steps` must be between 3 (the fewest steps that give an error estimate) and "
            f"{MAX_STEPS_LIMIT}, got {max_steps}."
        )
    else:
        steps = int(max_steps)
    return values[0], values[1], steps


def as_noise(noise: Any) -> float | str | None:
    """None, 'auto', or a finite absolute noise level >= 0."""
    if noise is None:
        return None
    if isinstance(noise, str) and noise == "auto":
        return "auto"
    if isinstance(noise, str):
        raise ValueError(f"`noise` must be None, a float or 'auto', got {noise!r}.")
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
        raise TypeError(
            f"`noise` must be None, a float (the absolute noise level of f) or 'auto', got {noise!r:.60}."
        )
    level = float(noise)
    if not np.isfinite(level) or level < 0:
        raise ValueError(
            f"`noise` must be a finite absolute noise level >= 0 (the standard deviation of f's "
            f"noise), got {noise!r}."
        )
    return level


def as_kwargs(kwargs: Any, name: str = "kwargs") -> dict[str, Any] | None:
    """None, or a mapping of keyword names to values for f."""
    if kwargs is None:
        return None
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise TypeError(
            f"`{name}` must be a dict of keyword arguments for f (names to values), got {kwargs!r:.60}."
        )
    return dict(kwargs) or None


def as_worker_count(workers: Any) -> int | None:
    """The size of the process pool that an integer `workers` asks for, as SciPy reads it."""
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral):
        return None
    count = int(workers)
    if count == -1:
        return os.cpu_count() or 1
    if count < 1:
        raise ValueError(
            f"`workers` must be a positive number of processes, or -1 for one per CPU, got {count}; "
            "pass None (the default) to evaluate f serially here."
        )
    return count


def as_max_evals(max_evals: Any) -> int | None:
    """None, or a positive integer: the most evaluations of f one call may use."""
    if max_evals is None:
        return None
    if isinstance(max_evals, bool) or not isinstance(max_evals, numbers.Integral) or max_evals < 1:
        raise ValueError(
            f"`max_evals` must be a positive integer (the most evaluations of f, f(x) included), "
            f"got {max_evals!r:.40}."
        )
    return int(max_evals)
