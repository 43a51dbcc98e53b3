"""The fixed-step error model: combination of stencil values and the error of each entry.

Pure numerics: it sees the values of f at the stencil points, never f. Arrays are laid
out as ``(ncols, K, m)``: columns, nonzero stencil nodes, flattened outputs of f.

The error of an entry is rounding plus truncation.

Rounding: each value of f carries a relative error of about ``eps``, amplified by
``sum |w_k f_k| / h^n``; and f computed in floating point is f at a point perturbed by
about ``eps`` relative in every coordinate, which changes it by
``eps * sum_j |x_j| |df/dx_j|`` and so catches cancellation inside f that ``eps |f|``
misses.

Truncation: ``|C| h^p |f^(n+p)|``. That derivative is not measured by the stencil, so it
is extrapolated from the derivatives the same values do measure (orders ``n`` to ``M-1``
on ``M`` nodes, the centre included), each bounded below by its own rounding noise: the
derivatives of a function with a singularity at distance ``d`` grow like ``m! / d^m``,
so each further order multiplies by about ``(m + 1) / m`` times the measured growth
rate (the median of the rates between significant measured derivatives). Odd or even
derivatives alone vanish at points of symmetry, so the highest measured order of each
parity is extrapolated and the larger result kept. Where no rate can be measured the
length scale is taken as ``max(1, |x|)`` and, if no derivative beyond order n was
measured at all, the entry is `modelled`, with a larger safety factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .stencils import Stencil, fornberg_weights

__all__ = ["Tables", "tables", "combine"]

Array = NDArray[Any]

#: Safety factors on the extrapolated truncation term: measured, and modelled.
SAFETY_MEASURED = 3.0
SAFETY_MODELLED = 10.0
#: A measured derivative is significant when it stands this far above its noise.
SIGNIFICANCE = 4.0


@dataclass(frozen=True, eq=False)
class Tables:
    """Everything about a stencil the model needs, computed once per stencil."""

    offsets: Array  # (K,) the nonzero offsets, in evaluation order
    weights: Array  # (K,) weights of the nonzero offsets
    centre_weight: float  # weight of f(x) (0 for odd derivatives)
    orders: Array  # (L,) derivative orders measured: n .. M-1 (just n for complex)
    coef: Array  # (L, K) weights of each measured order on the nonzero nodes
    coef_abs: Array  # (L, K)
    centre_abs: Array  # (L,) |weight| of f(x) in each order
    first: Array  # (K,) first-derivative weights on the nonzero nodes (the slope for n >= 2)
    pairs: tuple[tuple[int, int, float], ...]  # (i, j, 1/(o_j - o_i)) for the growth rates
    pair_index: tuple[Array, Array, Array]  # the same as three arrays
    extrapolate: tuple[tuple[int, float], ...]  # (row, growth factor without the rate) per parity
    powers: Array  # (L,) for h ** orders


@lru_cache(maxsize=256)
def tables(stencil: Stencil) -> Tables:
    """The model's tables for `stencil` (stencils are immutable and cached singletons)."""
    nonzero = stencil.offsets != 0
    offsets = stencil.offsets[nonzero]
    n, p = stencil.n, stencil.accuracy
    nodes = sorted(set(stencil.offsets.tolist()) | {0.0})
    top = len(nodes) - 1
    orders = [n] if stencil.is_complex else list(range(n, top + 1))
    full = np.array(fornberg_weights([float(o) for o in nodes], top))
    index = [nodes.index(float(o)) for o in offsets]
    centre = nodes.index(0.0)
    coef = full[orders][:, index]
    pairs = tuple(
        (i, j, 1.0 / (orders[j] - orders[i]))
        for i in range(len(orders))
        for j in range(i + 1, len(orders))
        if orders[j] >= top - 2
    )
    extrapolate = []
    for row in sorted({len(orders) - 1, len(orders) - 2} - {-1}, reverse=True):
        factor = 1.0
        for k in range(orders[row], n + p):
            factor *= (k + 1) / k
        extrapolate.append((row, factor))
    weights = stencil.weights[nonzero]
    centre_weight = float(stencil.weights[~nonzero].sum()) if (~nonzero).any() else 0.0
    return Tables(
        offsets=offsets,
        weights=weights,
        centre_weight=centre_weight,
        orders=np.array(orders),
        coef=coef,
        coef_abs=np.abs(coef),
        centre_abs=np.abs(full[orders][:, centre]),
        pairs=pairs,
        pair_index=(
            np.array([q[0] for q in pairs], dtype=np.intp),
            np.array([q[1] for q in pairs], dtype=np.intp),
            np.array([q[2] for q in pairs], dtype=float),
        ),
        extrapolate=tuple(extrapolate),
        powers=np.array(orders, dtype=float),
        first=full[1][index] if top >= 1 else np.zeros(len(index)),
    )


def combine(
    stencil: Stencil,
    values: Array,
    f0: Array,
    h: Array,
    reach: Array,
    eps: float,
    sum_columns: bool,
) -> tuple[Array, Array, Array]:
    """Derivative, error estimate and `modelled` flag of every entry.

    Parameters
    ----------
    stencil : Stencil
    values : ndarray, shape (ncols, K, m)
        f at the nonzero nodes (imaginary parts already taken for the complex step).
    f0 : ndarray, shape (m,)
        f(x) (zero for the complex step, whose centre carries no information).
    h : ndarray, shape (ncols, 1) or (ncols, m)
        Steps.
    reach : ndarray, same shape as `h`
        ``max(1, |x|)`` along each column: length scale for the model and ``|x|`` for
        the rounding floor.
    eps : float
        Relative accuracy of f's values.
    sum_columns : bool
        True when the columns are the coordinates of one point (gradients and
        Jacobians): the rounding floor then sums over them.

    Returns
    -------
    value, error, modelled : ndarray, shape (ncols, m)
    """
    t = tables(stencil)
    n, p = stencil.n, stencil.accuracy
    diffs = values - f0
    absf = np.abs(values)
    absf0 = np.abs(f0)
    hn = h**n
    # A sum in a fixed order (not BLAS), so a column gives the same bits whatever
    # other columns it is computed with.
    total = t.weights[0] * diffs[:, 0]
    for k in range(1, len(t.weights)):
        total = total + t.weights[k] * diffs[:, k]
    value = total / hn
    rounding = eps * ((np.abs(t.weights) @ absf + abs(t.centre_weight) * absf0) / hn + np.abs(value))
    # Rounding of the point through f: the slope is the derivative itself for n = 1,
    # and the measured first derivative for n >= 2.
    if n == 1 or not stencil.is_complex:
        if n == 1:
            slope = np.abs(value)
        else:
            slope = np.abs(t.first @ diffs) / h
        sensitivity = np.nan_to_num(reach * slope, posinf=0.0)
        if sum_columns:
            sensitivity = np.broadcast_to(sensitivity.sum(axis=0), value.shape)
        if stencil.is_complex:
            # No subtraction: rounding inside f reaches the derivative unamplified,
            # relative to the derivatives of the terms of f and, for vector f whose
            # outputs share their terms, to the largest derivative of the column.
            rounding = rounding + eps * sensitivity / reach
            if value.shape[1] > 1:
                rounding = rounding + 4 * eps * np.abs(value).max(axis=1, keepdims=True)
        else:
            rounding = rounding + 2 * eps * sensitivity * stencil.amplification / hn
    truncation, modelled = _truncation(t, stencil, diffs, absf, absf0, value, rounding, h, reach, eps)
    return value, rounding + truncation, modelled


def _truncation(
    t: Tables,
    stencil: Stencil,
    diffs: Array,
    absf: Array,
    absf0: Array,
    value: Array,
    rounding: Array,
    h: Array,
    reach: Array,
    eps: float,
) -> tuple[Array, Array]:
    """``safety * |C| h^p |f^(n+p)|`` with the derivative extrapolated (module notes)."""
    n, p = stencil.n, stencil.accuracy
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        hpow = h[:, None, :] ** t.powers[None, :, None]  # (ncols, L, 1|m)
        mags = np.abs(np.matmul(t.coef, diffs)) / hpow  # (ncols, L, m)
        noises = eps * (np.matmul(t.coef_abs, absf) + t.centre_abs[:, None] * absf0) / hpow
        mags[:, 0] = np.abs(value)
        noises[:, 0] = rounding
        significant = mags > SIGNIFICANCE * noises
        rate = _median_rate(t, mags, significant)
        measured = np.isfinite(rate) & (rate > 0)
        rate = np.where(measured, rate, 1.0 / reach)
        drive = np.zeros(value.shape)
        for row, factor in t.extrapolate:
            grown = np.maximum(mags[:, row], noises[:, row]) if row > 0 else mags[:, row]
            steps = n + p - int(t.orders[row])
            drive = np.maximum(drive, grown * factor * rate**steps)
        single = len(t.orders) == 1
        safety = SAFETY_MODELLED if single else SAFETY_MEASURED
        truncation = safety * abs(stencil.error_coefficient) * h**p * drive
    truncation = np.where(np.isfinite(truncation), truncation, np.inf)
    modelled = ~measured if single and not stencil.is_complex else np.zeros(value.shape, dtype=bool)
    return truncation, modelled


def _median_rate(t: Tables, mags: Array, significant: Array) -> Array:
    """Median over the pairs of significant orders of their implied growth rate (NaN if none)."""
    if not t.pairs:
        return np.full(mags.shape[::2], np.nan)
    i, j, power = t.pair_index
    rates = (mags[:, j] / mags[:, i]) ** power[None, :, None]  # (ncols, P, m)
    rates[~(significant[:, i] & significant[:, j])] = np.nan
    if len(power) == 1:
        return rates[:, 0]
    ordered = np.sort(rates, axis=1)  # NaNs sort last
    count = len(power) - np.isnan(rates).sum(axis=1, keepdims=True)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0), axis=1)
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0), axis=1)
    return np.where(count > 0, 0.5 * (low + high), np.nan)[:, 0]
