"""The steps a verified fixed-step derivative takes: the check's stencil and steps, realised.

:mod:`dfdx.engine.verify` differentiates each unit with a stencil and a low-order check;
here is which check, at which step, and the steps as the grid of floats realises them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..numerics.stencils import Stencil, make_stencil
from ..numerics.steps import relative_step
from .layouts import Axes, Elementwise, Layout

__all__ = ["check_stencil", "check_steps", "realised", "CHECK_RATIO", "CHECK_FLOOR"]

Array = NDArray[Any]

#: The check's step is at most this fraction of the stencil's...
CHECK_RATIO = 1.0 / 8
#: ... and at least this fraction (far above the spacing of floats near x).
CHECK_FLOOR = 2.0**-24


def check_stencil(stencil: Stencil) -> Stencil:
    """The low-order stencil of the same kind and order that checks `stencil`."""
    accuracy = 1 if stencil.kind in ("forward", "backward") and stencil.accuracy == 1 else 2
    return make_stencil(stencil.kind, stencil.n, accuracy)


def realised(layout: Layout, h: Array) -> Array:
    """The steps as they fall on the grid of floats: ``(x + h) - x`` along each unit.

    A step too short to move x is replaced by the shortest that moves it by 2^12 ulps.
    """
    h = np.asarray(h, dtype=np.float64)
    if isinstance(layout, Axes):
        x = layout.x.ravel().astype(np.float64)[layout.columns]
    elif isinstance(layout, Elementwise):
        x = layout.x.ravel().astype(np.float64)
    else:
        return h
    flat = h.ravel()
    moved = np.abs((x + flat) - x)
    shortest = np.ldexp(1.0, np.frexp(np.maximum(np.abs(x), 2.0**-1000))[1] - 40)
    out = np.where(moved >= shortest * 2.0**-28, moved, np.maximum(shortest, moved))
    return np.asarray(out.reshape(h.shape))


def check_steps(layout: Layout, stencil: Stencil, check: Stencil, h: Array, eps: float) -> Array:
    """The check's steps: optimal for its stencil at the rounding level ``eps max(1, |x|)``
    (f's values carry the rounding of x itself), within the ratios to the stencil's."""
    if check is stencil:  # a ratio that no later round's step meets (no point twice)
        return np.asarray(h * CHECK_RATIO)
    levels = eps * np.maximum(1.0, layout.magnitude().ravel())
    if levels.size <= 16:  # a few look-ups in relative_step's cache cost less than np.unique
        base = np.array([relative_step(check, e) for e in levels.tolist()])
    else:
        distinct, where = np.unique(levels, return_inverse=True)
        base = np.array([relative_step(check, float(e)) for e in distinct])[where]
    step = np.minimum(np.maximum(base, h * CHECK_FLOOR), h * CHECK_RATIO)  # np.clip, in fewer calls
    return np.asarray(np.ldexp(0.5, np.frexp(step)[1]))
