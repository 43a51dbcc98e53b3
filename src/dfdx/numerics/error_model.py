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
rate (the median of the rates between significant measured derivatives; with six
orders or more, at least the growth over two orders of each parity at the top). Odd or even
derivatives alone vanish at points of symmetry, so the highest measured order of each
parity is extrapolated and the larger result kept. Where no rate can be measured the
length scale is taken as ``max(1, |x|)`` and, if no derivative beyond order n was
measured at all, the entry is `modelled`, with a larger safety factor.
"""

from __future__ import annotations

import math
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
#: Exactly computed values: their rounding bound shrinks to this multiple of the
#: highest differences, when those are smaller...
NOISE_FACTOR = 10.0
#: ... provided the values curve by this many ulps over the stencil...
SCRAMBLED = 1024.0
#: ... and all of them end in this many zero bits (of the ``-log2(eps)``).
EXACT_BITS = 5
TINY = float(np.finfo(np.float64).tiny)


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
    positions: Array  # (P,) 0 .. P-1
    pair_ends: Array  # (2P,) the lower orders' rows of the pairs, then the higher ones'
    parity_ends: Array  # (2, 2) rows (top - 2, top - 3) and (top, top - 1), for six orders or more
    weights_abs: Array  # (K,) |weights|
    floor_factor: float  # 2 * amplification: the rounding floor for rounding inside f
    extrapolate: tuple[tuple[int, float], ...]  # (row, growth factor without the rate) per parity
    powers: Array  # (L,) for h ** orders
    top_rows: Array  # rows of the (at most two) highest orders above n
    scramble_row: int  # row of order n + 1 if it is not among them (else 0)
    centre_column: Array  # (L, 1) centre_abs as a column
    weights_column: Array  # (K, 1) weights as a column
    powers_3d: Array  # (1, L, 1) powers, to broadcast against (ncols, 1, m) steps
    extrapolate_steps: tuple[tuple[int, float, int], ...]  # extrapolate with n + p - order
    middle: tuple[Array, Array]  # (P + 1,) positions of the two middle entries of a count
    top_slice: slice  # top_rows as a slice (they are the last rows)
    coef_3d: Array  # (L, K, 1) coef, to sum over the nodes in order
    coef_abs_3d: Array  # (L, K, 1)
    first_column: Array  # (K, 1)
    weights_abs_column: Array  # (K, 1)


@lru_cache(maxsize=256)
def tables(stencil: Stencil) -> Tables:
    """The model's tables for `stencil` (stencils are immutable and cached singletons)."""
    nonzero = stencil.offsets != 0
    offsets = stencil.offsets[nonzero]
    n, p = stencil.n, stencil.accuracy
    nodes = sorted(set(stencil.offsets.tolist()) | {0.0})
    top = len(nodes) - 1
    orders = [n] if stencil.is_complex else list(range(n, top + 1))
    full: Array = np.array(fornberg_weights([float(o) for o in nodes], top))
    index = [nodes.index(float(o)) for o in offsets]
    centre = nodes.index(0.0)
    coef = full[orders][:, index]
    pairs = tuple(
        (i, j, 1.0 / (orders[j] - orders[i]))
        for i in range(len(orders))
        for j in range(i + 1, len(orders))
        if orders[j] >= top - 2
    )
    top_rows = [r for r in range(1, len(orders)) if orders[r] >= top - 1]
    assert top_rows == list(range(len(orders) - len(top_rows), len(orders)))
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
        positions=np.arange(len(pairs)),
        parity_ends=np.array(
            [[len(orders) - 3, len(orders) - 4], [len(orders) - 1, len(orders) - 2]], dtype=np.intp
        )
        if len(orders) >= 6
        else np.zeros((0, 2), dtype=np.intp),
        pair_ends=np.array([q[0] for q in pairs] + [q[1] for q in pairs], dtype=np.intp),
        weights_abs=np.abs(weights),
        floor_factor=2 * stencil.amplification,
        extrapolate=tuple(extrapolate),
        powers=np.array(orders, dtype=float),
        first=full[1][index] if top >= 1 else np.zeros(len(index)),
        scramble_row=1 if len(orders) > 1 and orders[1] < top - 1 else 0,
        top_rows=np.array(top_rows, dtype=np.intp),
        centre_column=np.abs(full[orders][:, centre])[:, None],
        weights_column=weights[:, None],
        powers_3d=np.array(orders, dtype=float)[None, :, None],
        extrapolate_steps=tuple((row, factor, n + p - orders[row]) for row, factor in extrapolate),
        top_slice=slice(len(orders) - len(top_rows), len(orders)),
        coef_3d=coef[:, :, None],
        coef_abs_3d=np.abs(coef)[:, :, None],
        first_column=(full[1][index] if top >= 1 else np.zeros(len(index)))[:, None],
        weights_abs_column=np.abs(weights)[:, None],
        middle=(
            np.array([max(c - 1, 0) // 2 for c in range(len(pairs) + 1)], dtype=np.intp),
            np.array([c // 2 for c in range(len(pairs) + 1)], dtype=np.intp),
        ),
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
        f(x). The complex step does not combine it (its centre carries no
        information) but uses its size for the rounding floor of a vector f.
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
    # Warnings are not errors here: NaN and inf are caught by the final checks.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if stencil.is_complex:
            value = _weighted_sum(t, values) / h**stencil.n
            return _complex(t, stencil, values, value, np.abs(f0), h, reach, eps, sum_columns)
        return _real(t, stencil, values, f0, h, reach, eps, sum_columns)


def _weighted_sum(t: Tables, diffs: Array) -> Array:
    """``sum_k w_k diffs_k``, shape ``(ncols, m)``."""
    return _node_sum(t.weights_column, diffs)


def _node_sum(weights: Array, values: Array) -> Array:
    """``sum_k weights[..., k, :] values[:, k]`` over the nodes, in node order.

    `weights` is ``(K, 1)`` (one combination: result ``(ncols, m)``) or ``(L, K, 1)``
    (``L`` combinations: result ``(ncols, L, m)``). A sum in a fixed order, not BLAS: a
    column gives the same bits whatever other columns it is computed with, and the
    same as the scalar model of :mod:`dfdx.numerics.error_scalar`.
    """
    if weights.ndim == 3:
        values = values[:, None]  # (ncols, 1, K, m) against (L, K, 1)
    terms = weights * values
    total = terms[..., 0, :]
    for k in range(1, weights.shape[-2]):
        total = total + terms[..., k, :]
    return total


def _real(
    t: Tables,
    stencil: Stencil,
    values: Array,
    f0: Array,
    h: Array,
    reach: Array,
    eps: float,
    sum_columns: bool,
) -> tuple[Array, Array, Array]:
    """:func:`combine` for real stencils (under its `errstate`)."""
    n = stencil.n
    diffs = values - f0
    hn = h if n == 1 else h**n
    value = _weighted_sum(t, diffs) / hn
    D = _node_sum(t.coef_3d, diffs)  # (ncols, L, m): h^o f^(o) + noise
    absD = np.abs(D)
    size = np.abs(value)
    slope = size if n == 1 else np.abs(_node_sum(t.first_column, diffs)) / h
    sensitivity = reach * slope
    sensitivity = np.where(sensitivity < np.inf, sensitivity, 0.0)  # NaN and inf: no floor
    if sum_columns:
        sensitivity = np.cumsum(sensitivity, axis=0)[-1]  # in column order, as the scalar model
    # Rounding bound of each measured combination: eps |f_k| per value (worst case).
    absvalues = np.abs(values)
    absf0 = np.abs(f0)
    noise = eps * (_node_sum(t.coef_abs_3d, absvalues) + t.centre_column * absf0)
    bound = noise[:, 0] + eps * t.floor_factor * sensitivity
    shrink = _shrink(t, absD, noise, values, absvalues, f0, absf0, eps) if t.scramble_row else None
    if shrink is not None:
        noise = shrink[:, None] * noise
        bound = shrink * bound
    # The arithmetic of the combination itself rounds too, exact values or not.
    rounding = bound / hn + eps * (_node_sum(t.weights_abs_column, np.abs(diffs)) / hn + size)
    truncation, modelled = _truncation(t, stencil, absD, noise, size, rounding, h, reach)
    return value, rounding + truncation, modelled


def _shrink(
    t: Tables, absD: Array, noise: Array, values: Array, absvalues: Array, f0: Array, absf0: Array, eps: float
) -> Array | None:
    """Factor by which f's values are more accurate than modelled: 1 when unproven, None if nowhere.

    Values computed exactly (polynomials at dyadic points) carry short mantissas; their
    highest differences then show how small their noise really is. Rounded values are
    left alone: their errors may drift smoothly along the stencil, invisible to those
    differences. And the values must curve by many ulps, or all may round alike.
    """
    scale = 2.0**-EXACT_BITS / eps  # mantissas of values with the last bits zero are integers
    # f(x) alone tells, at little cost, that f rounds.
    short0: Any
    if f0.size == 1:  # the same test in plain floats: numpy costs more on one number
        m = math.frexp(float(f0[0]))[0] * scale
        short0 = math.isinf(m) or (not math.isnan(m) and m.is_integer())
        if not short0:
            return None
    else:
        m0 = np.frexp(f0)[0] * scale
        short0 = m0 == np.round(m0)
        if not short0.any():
            return None
    mantissa = np.frexp(values)[0] * scale
    short = (mantissa == np.round(mantissa)).all(axis=1)
    if not short.any():
        return None
    level = np.maximum(absvalues.max(axis=1), absf0)
    proven = short & short0 & (absD[:, t.scramble_row] > SCRAMBLED * (eps * level))
    if not proven.any():  # factors of 1 would change nothing
        return None
    seen = (absD[:, t.top_slice] / (noise[:, t.top_slice] + TINY)).max(axis=1)
    return np.where(proven, np.minimum(NOISE_FACTOR * seen, 1.0), 1.0)


def _complex(
    t: Tables,
    stencil: Stencil,
    values: Array,
    value: Array,
    absf0: Array,
    h: Array,
    reach: Array,
    eps: float,
    sum_columns: bool,
) -> tuple[Array, Array, Array]:
    """The complex step: no subtraction, so rounding is not amplified; truncation modelled.

    For a vector f (a gradient function, say) the outputs share their terms, and a
    derivative entry near zero can carry the rounding of terms as large as the outputs
    themselves: the floor is then ``eps`` times the largest output over the length scale.
    """
    hn = h**stencil.n
    rounding = eps * (_node_sum(t.weights_abs_column, np.abs(values)) / hn + np.abs(value))
    if stencil.n == 1:
        sensitivity = np.nan_to_num(reach * np.abs(value), posinf=0.0)
        if sum_columns:
            sensitivity = np.broadcast_to(np.cumsum(sensitivity, axis=0)[-1], value.shape)
        # No subtraction: rounding inside f reaches the derivative unamplified,
        # relative to the derivatives of the terms of f and, for vector f whose
        # outputs share their terms, to the largest derivative of the column.
        rounding = rounding + eps * sensitivity / reach
        if value.shape[1] > 1:
            widest = np.maximum(np.abs(value).max(axis=1, keepdims=True), absf0.max() / reach)
            rounding = rounding + 8 * eps * widest
    mags = np.abs(value)[:, None]
    drive = mags[:, 0] * t.extrapolate[0][1] / reach**stencil.accuracy
    truncation = SAFETY_MODELLED * abs(stencil.error_coefficient) * h**stencil.accuracy * drive
    truncation = np.where(np.isfinite(truncation), truncation, np.inf)
    return value, rounding + truncation, np.zeros(value.shape, dtype=bool)


def _truncation(
    t: Tables,
    stencil: Stencil,
    absD: Array,
    noise: Array,
    size: Array,
    rounding: Array,
    h: Array,
    reach: Array,
) -> tuple[Array, Array]:
    """``safety * |C| h^p |f^(n+p)|`` with the derivative extrapolated (module notes).

    Runs under the `errstate` of :func:`combine`.
    """
    hpow = h[:, None, :] ** t.powers_3d  # (ncols, L, 1|m)
    mags = absD / hpow
    noises = noise / hpow
    mags[:, 0] = size
    noises[:, 0] = rounding
    significant = mags > SIGNIFICANCE * noises
    rate = _median_rate(t, mags, significant)
    if t.parity_ends.size:
        # Long stencils: oscillating derivatives make the median lag behind the
        # top orders; the growth over two orders of each parity bounds it too.
        lo, hi = t.parity_ends
        pair = np.where(significant[:, lo] & significant[:, hi], np.sqrt(mags[:, hi] / mags[:, lo]), np.nan)
        rate = np.fmax(rate, np.fmax.reduce(pair, axis=1))
    measured = np.isfinite(rate) & (rate > 0)
    rate = np.where(measured, rate, 1.0 / reach)
    drive: Array | None = None
    for row, factor, steps in t.extrapolate_steps:
        grown = np.maximum(mags[:, row], noises[:, row]) if row > 0 else mags[:, row]
        term = grown * factor * rate**steps
        # Terms are +0 or more (or NaN), so the first is its own maximum with zero.
        drive = term if drive is None else np.maximum(drive, term)
    assert drive is not None
    single = len(t.orders) == 1
    safety = SAFETY_MODELLED if single else SAFETY_MEASURED
    truncation = safety * abs(stencil.error_coefficient) * h**stencil.accuracy * drive
    truncation = np.where(np.isfinite(truncation), truncation, np.inf)
    modelled = ~measured if single else np.zeros(size.shape, dtype=bool)
    return truncation, modelled


def _median_rate(t: Tables, mags: Array, significant: Array) -> Array:
    """Median over the pairs of significant orders of their implied growth rate (NaN if none)."""
    if not t.pairs:
        return np.full(mags.shape[::2], np.nan)
    power = t.pair_index[2]
    npairs = len(power)
    # One gather for both ends of every pair: (ncols, 2P, m), lower orders first.
    sig = significant[:, t.pair_ends]
    mag = mags[:, t.pair_ends]
    both = sig[:, :npairs] & sig[:, npairs:]
    rates = np.where(
        both, (mag[:, npairs:] / mag[:, :npairs]) ** power[None, :, None], np.nan
    )  # (ncols, P, m)
    if npairs == 1:
        return rates[:, 0]
    ordered = np.sort(rates, axis=1)  # NaNs sort last
    count = both.sum(axis=1)  # (ncols, m)
    # The mean of the two middle valid entries, picked by position.
    lower, upper = t.middle
    col = np.arange(count.shape[0])[:, None]
    out = np.arange(count.shape[1])
    median = ordered[col, lower[count], out] + ordered[col, upper[count], out]
    return np.where(count > 0, 0.5 * median, np.nan)
