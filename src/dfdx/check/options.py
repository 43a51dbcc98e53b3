"""The options of :func:`dfdx.check_gradient` and :func:`dfdx.check_jacobian`, validated once.

Two kinds: how strict the check is (`tolerance_factor`, `rtol`, `atol`, `kinks`, `dtype`)
and how the numerical side is computed (`method`, `accuracy`, `step`, `adaptive`,
`max_steps`, `noise`, `progress`, `vectorized`, `workers`, `store`), which are passed on to the
public front-ends with the same meaning as there.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import as_accuracy, as_method, as_noise

__all__ = ["Options", "make_options"]


@dataclass(frozen=True)
class Options:
    mode: str
    directions: int
    seed: int | None
    tolerance_factor: float
    rtol: float
    atol: float
    kinks: str
    dtype: np.dtype[Any] | None
    method: str
    accuracy: int
    step: Any
    adaptive: bool
    max_steps: int | None
    noise: float | str | None
    progress: bool
    vectorized: bool
    workers: Any
    store: Any
    show: int

    @property
    def numerical(self) -> dict[str, Any]:
        """Keywords of the front-ends for the numerical side (adaptive, max_steps, noise, progress)."""
        out: dict[str, Any] = {}
        if self.adaptive:
            out["adaptive"] = True
            if self.max_steps is not None:
                out["max_steps"] = self.max_steps
        if self.noise is not None:
            out["noise"] = self.noise
        if self.progress:
            out["progress"] = True
        return out


def make_options(**o: Any) -> Options:
    if o["mode"] not in ("full", "directional"):
        raise ValueError(f"`mode` must be 'full' or 'directional', got {o['mode']!r}.")
    o["directions"] = _count(o["directions"], "directions", 1)
    o["show"] = _count(o["show"], "show", 0)
    if o["seed"] is not None:
        o["seed"] = _count(o["seed"], "seed", 0)
    for name in ("tolerance_factor", "rtol", "atol"):
        value = o[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(float(value))
            or value < 0
        ):
            raise ValueError(f"`{name}` must be a finite number >= 0, got {value!r}.")
        o[name] = float(value)
    if o["tolerance_factor"] == 0 and o["rtol"] == 0 and o["atol"] == 0:
        raise ValueError(
            "`tolerance_factor`=0 with `rtol`=`atol`=0 leaves a zero tolerance, which no "
            "numerical derivative can meet; give `rtol` or `atol`, or a positive `tolerance_factor`."
        )
    if o["kinks"] not in ("report", "accept"):
        raise ValueError(f"`kinks` must be 'report' or 'accept', got {o['kinks']!r}.")
    o["dtype"] = _dtype(o["dtype"])
    o["method"] = as_method(o["method"])
    o["accuracy"] = as_accuracy(o["accuracy"], o["method"])
    _numerical(o)
    return Options(**o)


def _numerical(o: dict[str, Any]) -> None:
    """Check `adaptive`, `max_steps`, `noise` and `progress` (in place)."""
    for flag in ("adaptive", "progress"):
        if not isinstance(o[flag], (bool, np.bool_)):
            raise TypeError(f"`{flag}` must be True or False, got {o[flag]!r:.60}.")
        o[flag] = bool(o[flag])
    if o["max_steps"] is not None:
        if not o["adaptive"]:
            raise ValueError("`max_steps` only applies to the adaptive mode; pass adaptive=True.")
        o["max_steps"] = _count(o["max_steps"], "max_steps", 3)
    o["noise"] = as_noise(o["noise"])


def _dtype(dtype: Any) -> np.dtype[Any] | None:
    if dtype is None:
        return None
    try:
        out: np.dtype[Any] = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"`dtype` must be None or a floating dtype, got {dtype!r}.") from None
    if out.kind != "f":
        raise ValueError(f"`dtype` must be a floating dtype (float32, float64), got {out}.")
    return out


def _count(value: Any, name: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise ValueError(f"`{name}` must be an integer >= {least}, got {value!r}.")
    return int(value)
