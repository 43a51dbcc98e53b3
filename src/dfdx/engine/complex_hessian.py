"""Hessians by the complex step, for analytic f: two complex evaluations per entry.

For a pair ``i <= j`` and a step h, f is evaluated at ``x + h (i e_i + e_j)`` and
``x + h (i e_i - e_j)`` (Lai and Crassidis's formula):

.. math::

    H_{ij} \\approx \\frac{\\operatorname{Im}[f(x + h(i e_i + e_j)) - f(x + h(i e_i - e_j))]}{2 h_i h_j},

whose truncation error ``(h_j^2 f_{ijjj} - h_i^2 f_{iiij}) / 6`` vanishes on the
diagonal of a function whose fourth derivatives along the axes are equal, and for
every polynomial of degree three. The imaginary parts carry no subtractive
cancellation of f's value, only of its first derivatives, so the step balances
``eps |f_i| / h`` against ``h^2 |f''''|``: ``h ~ eps**(1/3) max(1, |x|)`` (a power
of two). ``n (n + 1)`` evaluations in all, f(x) itself not needed. The error reported is
the rounding error of the two imaginary parts and, the step being chosen to balance
them, a truncation error of half that: a model of f, hence ``ESTIMATED_ERROR``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._result import Status
from ..numerics.steps import absolute_steps
from .dispatch import Call

__all__ = ["hessian_by_complex_step", "PairPoints"]

Array = NDArray[Any]

#: Rounding in the imaginary parts, in units of eps times their size (a few operations).
ROUNDING_UNITS = 4.0


class PairPoints:
    """The points ``x + h_i i e_i + sign h_j e_j`` (sign -1, then +1) of the pairs ``(i, j)``."""

    def __init__(self, x: Array, i: Array, j: Array, h: Array) -> None:
        self.x, self.i, self.j, self.h = x, i, j, h

    def __len__(self) -> int:
        return 2 * len(self.i)

    def block(self, start: int, stop: int) -> Array:
        index = np.arange(start, stop)
        pair, side = np.divmod(index, 2)
        pts = np.repeat(self.x.reshape(1, -1).astype(np.complex128), stop - start, axis=0)
        rows = np.arange(stop - start)
        pts[rows, self.i[pair]] += 1j * self.h[self.i[pair]]
        pts[rows, self.j[pair]] += (2 * side - 1) * self.h[self.j[pair]]
        return pts.reshape((stop - start, *self.x.shape))


def hessian_by_complex_step(s: Call) -> tuple[Array, Array, Array, Array]:
    """Value, error, status ``(n, n, m)`` and steps ``(n,)`` of the Hessians of f's m outputs."""
    n, m = s.x.size, max(1, int(np.prod(s.ev.out_shape)))
    reach = np.maximum(1.0, np.abs(s.x.ravel()))
    h = s.step.ravel() if s.step is not None else absolute_steps(reach, float(s.eps) ** (1 / 3))
    i, j = np.triu_indices(n)
    values = s.ev(PairPoints(s.x, i, j, h)).reshape(len(i), 2, m)
    im = values.imag.astype(np.float64)
    den = (2 * h[i] * h[j])[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        pair_value = (im[:, 1] - im[:, 0]) / den
        rounding = ROUNDING_UNITS * s.eps * (np.abs(im[:, 0]) + np.abs(im[:, 1])) / den
    finite = np.isfinite(values).all(axis=1)
    value, error = np.zeros((n, n, m)), np.zeros((n, n, m))
    status = np.full((n, n, m), Status.ESTIMATED_ERROR.code, dtype=np.int8)
    value[i, j] = value[j, i] = np.where(finite, pair_value, np.nan)
    error[i, j] = error[j, i] = np.where(finite, 1.5 * rounding, np.inf)
    codes = np.where(finite, Status.ESTIMATED_ERROR.code, Status.NONFINITE.code).astype(np.int8)
    status[i, j] = status[j, i] = codes
    return value, error, status, np.asarray(h, dtype=np.float64)
