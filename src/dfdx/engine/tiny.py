"""Gradients in a few variables, without NumPy's cost per call.

For a scalar f of a handful of variables NumPy's microsecond per operation, not f,
is what a gradient costs: the fixed-step path makes some hundred array operations on
arrays of a few numbers. Here the same steps, the same points and the same model
(:mod:`dfdx.numerics.error_scalar`) run on Python floats and give the same bits. Whatever
this route does not cover -- other layouts, options or dtypes, f not finite at a
point -- goes the general way, without evaluating any point twice.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..evaluation.evaluator import Evaluator
from ..numerics.error_model import tables
from ..numerics.error_scalar import Unsupported, combine_axes, combine_complex_axes, supports
from ..numerics.stencils import Stencil
from ..numerics.steps import relative_step
from .bounds import run_planned
from .fixed import Estimate, estimate_values
from .layouts import Axes

__all__ = ["TINY_COLUMNS", "applies", "tiny_axes"]

#: Up to this many variables a gradient takes this route: below it NumPy's cost per
#: operation outweighs the work (measured in benchmarks/bench_gradient.py).
TINY_COLUMNS = 16

Array = NDArray[Any]


def applies(ev: Evaluator, x: Array, stencil: Stencil) -> bool:
    """Whether :func:`tiny_axes` can take the gradient of ``ev.f`` at x with `stencil`."""
    return (
        x.size <= TINY_COLUMNS
        and not ev.out_shape
        and supports(stencil)
        and x.dtype == np.float64
        and ev.f0.dtype == np.float64
        and ev.pool is None
        and not ev.vectorized
        and ev.progress is None
        and not ev.callbacks
    )


def tiny_axes(
    ev: Evaluator, x: Array, stencil: Stencil, step: Array | None, eps: float
) -> tuple[Estimate, Array]:
    """The fixed-step estimate along every axis of x and the steps, as the general path gives them.

    `step` is the user's (shape of x) or None for automatic steps; the caller has
    checked :func:`applies` and that there are no bounds.
    """
    flat = x.ravel().tolist()
    n = len(flat)
    reach = [max(1.0, abs(v)) for v in flat]
    if step is None:
        relative = relative_step(stencil, eps)
        # absolute_steps: the power of two at or below relative * reach.
        h = [math.ldexp(0.5, math.frexp(relative * r)[1]) for r in reach]
    else:
        h = step.ravel().tolist()
    offsets = _offsets(stencil)
    K = len(offsets)
    imaginary = stencil.is_complex
    block = np.empty((n * K, n), dtype=complex if imaginary else float)
    block[...] = x.ravel()
    for j in range(n):
        for k, o in enumerate(offsets):
            block[j * K + k, j] = flat[j] + 1j * (h[j] * o) if imaginary else flat[j] + h[j] * o
    listed = ev.scalars(block.reshape((n * K, *x.shape)))
    f0 = float(ev.f0)
    rows = [listed[j * K : (j + 1) * K] for j in range(n)]
    # A sum is finite only if every term is (or it overflows: then the general way).
    total = f0 + sum(listed)
    if math.isfinite(total.real) and math.isfinite(total.imag):
        try:
            if imaginary:
                imag = [[v.imag for v in row] for row in rows]
                value, error, modelled = combine_complex_axes(stencil, imag, h, reach, eps)
            else:
                value, error, modelled = combine_axes(stencil, rows, f0, h, reach, eps)
        except (Unsupported, ZeroDivisionError):  # where NumPy makes inf or NaN: its way
            pass
        else:
            est = Estimate(
                value=np.array(value),
                error=np.array(error),
                nonfinite=np.zeros(n, dtype=bool),
                modelled=np.array(modelled),
                clean=not any(modelled),
            )
            return est, np.array(h)
    layout = Axes(x, np.arange(n))
    steps = np.array(h)
    first = estimate_values(ev, layout, stencil, np.array(rows)[:, :, None], steps, eps)
    return run_planned(ev, layout, stencil, steps, eps, first=first)


@lru_cache(maxsize=64)
def _offsets(stencil: Stencil) -> tuple[float, ...]:
    return tuple(tables(stencil).offsets.tolist())
