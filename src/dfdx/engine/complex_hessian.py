"""Hessians by the complex step, for analytic f: two complex evaluations per line.

Along a real direction u, let ``g(t) = f(x + t u)``. With the two complex points
``t = +-1 + i``,

.. math::

    \\frac{\\operatorname{Im}[g(1 + i) - g(-1 + i)]}{2} = g''(0) - \\frac{g^{(6)}(0)}{90} + \\dots

since ``(1 + i)^k - (-1 + i)^k`` is real for every k but 2 and 6 below 10: a fourth-order
second derivative with no cancellation of f's value (only of its first derivatives, in
the imaginary parts). The same two values give the fourth derivative for free:
``Re[g(1 + i) + g(-1 + i)] - 2 g(0) = -g''''(0) / 3 + ...``.

Lines: ``u = h_i e_i`` for the diagonal, ``u = h_i e_i + h_j e_j`` for each pair, so that
``H_ij = (g''_ij - h_i^2 H_ii - h_j^2 H_jj) / (2 h_i h_j)``, as the real-step Hessian
does: ``n (n + 1)`` evaluations besides f(x). The steps ``h ~ eps**(1/5) max(1, |x|)``
(powers of two) balance the imaginary parts' rounding against the ``h^4`` truncation.
The error reported adds the rounding of the imaginary parts and a truncation error
modelled from the measured derivatives, ``g^(6)`` taken as the larger of
``g'''' |u / max(1, |x|)|^2`` and ``g''''^2 / g''`` (exact for an exponential along the
line): a model of f, hence ``ESTIMATED_ERROR``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._result import Status
from ..numerics.steps import absolute_steps
from .dispatch import Call

__all__ = ["hessian_by_complex_step", "LinePoints"]

Array = NDArray[Any]

#: Rounding in the imaginary parts, in units of eps times their size (a few operations).
ROUNDING_UNITS = 4.0
#: The sixth derivative is taken this much larger than its model: next to a pole at
#: distance d (g_k = k! / d^(k+1)), g6 / g4 = 30 / d^2 where g4 / g2 = 12 / d^2.
SIXTH_SAFETY = 4.0
#: The step relative to max(1, |x|), before rounding to a power of two.
RELATIVE_STEP = 2.0**-10


class LinePoints:
    """The points ``x + (-1 + i) u_k`` and ``x + (1 + i) u_k`` of the lines ``u_k`` (rows)."""

    def __init__(self, x: Array, lines: Array) -> None:
        self.x, self.lines = x, lines

    def __len__(self) -> int:
        return 2 * len(self.lines)

    def block(self, start: int, stop: int) -> Array:
        line, side = np.divmod(np.arange(start, stop), 2)
        u = self.lines[line]
        pts = self.x.reshape(1, -1) + ((2 * side - 1)[:, None] + 1j) * u
        return pts.reshape((stop - start, *self.x.shape))


def _lines(n: int, h: Array) -> tuple[Array, Array, Array]:
    """The diagonal lines, then one per pair ``i < j``; and the pairs' indices."""
    i, j = np.triu_indices(n, k=1)
    lines = np.zeros((n + len(i), n))
    lines[np.arange(n), np.arange(n)] = h
    rows = n + np.arange(len(i))
    lines[rows, i], lines[rows, j] = h[i], h[j]
    return lines, i, j


def hessian_by_complex_step(s: Call) -> tuple[Array, Array, Array, Array]:
    """Value, error, status ``(n, n, m)`` and steps ``(n,)`` of the Hessians of f's m outputs."""
    n, m = s.x.size, max(1, int(np.prod(s.ev.out_shape)))
    reach = np.maximum(1.0, np.abs(s.x.ravel()))
    h = s.step.ravel() if s.step is not None else absolute_steps(reach, RELATIVE_STEP)
    lines, i, j = _lines(n, h)
    values = s.ev(LinePoints(s.x, lines)).reshape(len(lines), 2, m)
    f0 = s.ev.f0.reshape(1, m).astype(np.float64)
    im, re = values.imag.astype(np.float64), values.real.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        second = (im[:, 1] - im[:, 0]) / 2
        fourth = np.abs(3 * (re[:, 0] + re[:, 1] - 2 * f0))
        # The sixth derivative from the scale on which the line varies: x's (max(1, |x|)),
        # or the one the second and fourth derivatives show (g4 / g2, exact for exp).
        scale2 = ((lines / reach) ** 2).sum(axis=1)[:, None]
        ratio = np.nan_to_num(fourth**2 / np.abs(second), posinf=0.0)
        sixth = SIXTH_SAFETY * np.maximum(fourth * scale2, ratio)
        # Rounding: of the imaginary parts themselves, and of the real terms of f they are
        # computed alongside (the perturbation u moves f's value by about |f| |u| / max(1, |x|)).
        rounding = ROUNDING_UNITS * (np.abs(im[:, 0]) + np.abs(im[:, 1])) / 2 + np.abs(f0) * np.sqrt(scale2)
        error = s.eps * rounding + sixth / 90
    finite = np.isfinite(values).all(axis=1) & np.isfinite(f0)
    return _assemble(n, m, h, i, j, second, error, finite)


def _assemble(
    n: int, m: int, h: Array, i: Array, j: Array, second: Array, error: Array, finite: Array
) -> tuple[Array, Array, Array, Array]:
    """The matrix from the lines' second derivatives: the diagonal, then each pair."""
    d, de, dfin = second[:n], error[:n], finite[:n]
    value, err = np.zeros((n, n, m)), np.zeros((n, n, m))
    k = np.arange(n)
    value[k, k], err[k, k] = d / (h**2)[:, None], de / (h**2)[:, None]
    p, pe, pfin = second[n:], error[n:], finite[n:]
    den = (2 * h[i] * h[j])[:, None]
    with np.errstate(invalid="ignore"):
        value[i, j] = value[j, i] = (p - d[i] - d[j]) / den
        err[i, j] = err[j, i] = (pe + de[i] + de[j]) / den
    ok = np.zeros((n, n, m), dtype=bool)
    ok[k, k] = dfin
    ok[i, j] = ok[j, i] = pfin & dfin[i] & dfin[j]
    value[~ok], err[~ok] = np.nan, np.inf
    status = np.where(ok, Status.ESTIMATED_ERROR.code, Status.NONFINITE.code).astype(np.int8)
    return value, err, status, np.asarray(h, dtype=np.float64)
