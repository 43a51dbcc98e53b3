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

from .complex_floor import phase, subnormal
from .stencils import Stencil, fornberg_weights

__all__ = ["Tables", "tables", "combine", "combine_parts"]

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
# Reductions as ufunc methods: the array methods add a Python-level call each.
_ALL, _ANY, _MAX = np.logical_and.reduce, np.logical_or.reduce, np.maximum.reduce


@dataclass(frozen=True, eq=False)
class Tables:
    """Everything about a stencil the model needs, computed once per stencil.

    Combinations are stacked so that one product and one running sum over the nodes
    give them all: ``signed`` holds the stencil's weights (row 0), the weights of each
    measured order ``n .. M-1`` (rows ``1 .. L``) and, for ``n >= 2``, those of the
    first derivative (the last row). Sums over the nodes run in node order (a running
    sum, not BLAS), so a column's bits do not depend on the other columns.
    """

    offsets: Array  # (K,) the nonzero offsets, in evaluation order
    orders: Array  # (L,) derivative orders measured: n .. M-1 (just n for complex)
    signed: Array  # (R, K, 1) value, measured orders and slope, as above
    coef_abs: Array  # (L, K, 1) |weights| of each measured order
    weights_abs: Array  # (K, 1) |weights| of the stencil
    centre_abs: Array  # (L, 1) |weight| of f(x) in each measured order
    powers: Array  # (L, 1) the orders as floats, for h ** orders
    floor_factor: float  # the rounding floor for rounding inside f, per unit of amplification (module notes)
    pair_ends: Array  # (2P,) rows of the lower orders of the growth-rate pairs, then the higher
    pair_powers: Array  # (P, 1) 1 / (order difference) of each pair
    middle: tuple[Array, Array]  # (P + 1,) positions of the two middle entries of a count
    parity_ends: Array  # (2, 2) rows (top - 2, top - 3) and (top, top - 1), for six orders or more
    extrapolate: tuple[tuple[int, float, int], ...]  # (row, growth factor, orders to go) per parity
    scramble_row: int  # row of order n + 1 if it is not among the top two (else 0)
    top_slice: slice  # rows of the (at most two) highest orders above n


@lru_cache(maxsize=256)
def tables(stencil: Stencil) -> Tables:
    """The model's tables for `stencil` (stencils are immutable and cached singletons)."""
    nonzero = stencil.offsets != 0
    offsets = stencil.offsets[nonzero]
    n, p = stencil.n, stencil.accuracy
    nodes = sorted(set(stencil.offsets.tolist()) | {0.0})
    top = len(nodes) - 1
    orders = [n] if stencil.is_complex else list(range(n, top + 1))
    L = len(orders)
    full: Array = np.array(fornberg_weights([float(o) for o in nodes], top))
    index = [nodes.index(float(o)) for o in offsets]
    coef = full[orders][:, index]
    weights = stencil.weights[nonzero]
    pairs = [(i, j) for i in range(L) for j in range(i + 1, L) if orders[j] >= top - 2]
    ntop = len([r for r in range(1, L) if orders[r] >= top - 1])
    extrapolate = []
    for row in sorted({L - 1, L - 2} - {-1}, reverse=True):
        factor = 1.0
        for k in range(orders[row], n + p):
            factor *= (k + 1) / k
        extrapolate.append((row, factor, n + p - orders[row]))
    rows = [weights, *coef] + ([full[1][index]] if n >= 2 else [])
    return Tables(
        offsets=offsets,
        orders=np.array(orders),
        signed=np.array(rows)[:, :, None],
        coef_abs=np.abs(coef)[:, :, None],
        weights_abs=np.abs(weights)[:, None],
        centre_abs=np.abs(full[orders][:, nodes.index(0.0)])[:, None],
        powers=np.array(orders, dtype=float)[:, None],
        floor_factor=2 * stencil.amplification,
        pair_ends=np.array([i for i, _ in pairs] + [j for _, j in pairs], dtype=np.intp),
        pair_powers=np.array([1.0 / (orders[j] - orders[i]) for i, j in pairs])[:, None],
        middle=(
            np.array([max(c - 1, 0) // 2 for c in range(len(pairs) + 1)], dtype=np.intp),
            np.array([c // 2 for c in range(len(pairs) + 1)], dtype=np.intp),
        ),
        parity_ends=np.array([[L - 3, L - 4], [L - 1, L - 2]], dtype=np.intp)
        if L >= 6
        else np.zeros((0, 2), dtype=np.intp),
        extrapolate=tuple(extrapolate),
        scramble_row=1 if L > 1 and orders[1] < top - 1 else 0,
        top_slice=slice(L - ntop, L),
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
    return combine_parts(stencil, values, f0, h, reach, eps, sum_columns)[:3]


def combine_parts(
    stencil: Stencil,
    values: Array,
    f0: Array,
    h: Array,
    reach: Array,
    eps: float,
    sum_columns: bool,
) -> tuple[Array, Array, Array, Array]:
    """:func:`combine` and, fourth, the truncation part of each error (the rest is rounding)."""
    t = tables(stencil)
    # Warnings are not errors here: NaN and inf are caught by the final checks.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if stencil.is_complex:
            value = _node_sum(t.signed[0], values) / h**stencil.n
            return _complex(t, stencil, values, value, np.abs(f0), h, reach, eps, sum_columns)
        return _real(t, stencil, values, f0, h, reach, eps, sum_columns)


def _node_sum(weights: Array, values: Array) -> Array:
    """``sum_k weights[..., k, :] values[:, k]`` over the nodes, in node order.

    `weights` is ``(K, 1)`` (one combination: result ``(ncols, m)``) or ``(R, K, 1)``
    (``R`` combinations: result ``(ncols, R, m)``). A running sum, not BLAS: a column
    gives the same bits whatever other columns it is computed with.
    """
    if weights.ndim == 3:
        values = values[:, None]  # (ncols, 1, K, m) against (R, K, 1)
    return _rows_sum(weights, values)


def _rows_sum(weights: Array, values: Array) -> Array:
    """:func:`_node_sum` with the nodes first: `values` ``(K, E)``, result ``(R, E)`` (or ``(E,)``)."""
    return np.add.accumulate(weights * values, axis=-2)[..., -1, :]


def _entries(a: Array, c: int, m: int) -> Array:
    """A ``(c, 1)`` or ``(c, m)`` array as ``(c * m,)``, one value per entry."""
    return a.reshape(-1) if a.shape[-1] == m else np.repeat(a.reshape(-1), m)


def _real(
    t: Tables,
    stencil: Stencil,
    values: Array,
    f0: Array,
    h: Array,
    reach: Array,
    eps: float,
    sum_columns: bool,
) -> tuple[Array, Array, Array, Array]:
    """:func:`combine_parts` for real stencils (under its `errstate`).

    The work is laid out entries last: ``(rows, E)`` for the ``E = ncols * m`` entries,
    so that nearly every operation is between arrays of one shape.
    """
    c, K, m = values.shape
    n, L = stencil.n, len(t.orders)
    V = values.transpose(1, 0, 2).reshape(K, c * m)  # (K, E)
    F0 = f0 if m == 1 else np.tile(f0, c)
    H, reach = _entries(h, c, m), _entries(reach, c, m)
    diffs = V - F0
    Hn = H if n == 1 else H**n
    sums = _rows_sum(t.signed, diffs)  # (R, E)
    value = sums[0] / Hn
    absD = np.abs(sums[1 : 1 + L])  # (L, E): h^o |f^(o)| + noise
    size = np.abs(value)
    slope = size if n == 1 else np.abs(sums[-1]) / H
    sensitivity = reach * slope
    sensitivity = np.where(sensitivity < np.inf, sensitivity, 0.0)  # NaN and inf: no floor
    # Rounding bound of each measured combination: eps |f_k| per value (worst case).
    absV = np.abs(V)
    absf0 = np.abs(F0)
    noise = eps * (_rows_sum(t.coef_abs, absV) + t.centre_abs * absf0)  # (L, E)
    if sum_columns:  # in column order
        total = np.add.accumulate(sensitivity.reshape(c, m), axis=0)[-1]
        bound = (noise[0].reshape(c, m) + eps * t.floor_factor * total).reshape(-1)
    else:
        bound = noise[0] + eps * t.floor_factor * sensitivity
    shrink = _shrink(t, absD, noise, V, absV, f0, absf0, eps) if t.scramble_row else None
    if shrink is not None:
        noise = shrink * noise
        bound = shrink * bound
    # The arithmetic of the combination itself rounds too, exact values or not.
    rounding = bound / Hn + eps * (_rows_sum(t.weights_abs, np.abs(diffs)) / Hn + size)
    truncation, modelled = _truncation(t, stencil, absD, noise, size, rounding, H, reach)
    out = (value, rounding + truncation, modelled, truncation)
    return tuple(a.reshape(c, m) for a in out)  # type: ignore[return-value]


def _shrink(
    t: Tables, absD: Array, noise: Array, V: Array, absV: Array, f0: Array, absf0: Array, eps: float
) -> Array | None:
    """Factor by which f's values are more accurate than modelled: 1 when unproven, None if nowhere.

    Values computed exactly (polynomials at dyadic points) carry short mantissas; their
    highest differences then show how small their noise really is. Rounded values are
    left alone: their errors may drift smoothly along the stencil, invisible to those
    differences. And the values must curve by many ulps, or all may round alike.
    Arrays are entries last (:func:`_real`); `f0` has f's shape ``(m,)``.
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
        short0 = m0 == np.rint(m0)
        if not short0.any():
            return None
        short0 = np.tile(short0, V.shape[1] // f0.size)
    mantissa = np.frexp(V)[0] * scale
    short = _ALL(mantissa == np.rint(mantissa), axis=0)
    if not _ANY(short):
        return None
    level = np.maximum(_MAX(absV, axis=0), absf0)
    proven = short & short0 & (absD[t.scramble_row] > SCRAMBLED * (eps * level))
    if not _ANY(proven):  # factors of 1 would change nothing
        return None
    seen = _MAX(absD[t.top_slice] / (noise[t.top_slice] + TINY), axis=0)
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
) -> tuple[Array, Array, Array, Array]:
    """The complex step: no subtraction, so rounding is not amplified; truncation modelled.

    A vector f's outputs share their terms: the floor is then ``eps`` times the largest
    output over the length scale; :mod:`.complex_floor` for the rest. ``h / reach`` is
    raised, not ``h``: a step near the largest float (log at 1e300) does not overflow.
    """
    hn = h**stencil.n
    rounding = _node_sum(t.weights_abs, eps * np.abs(values) + subnormal(values)) / hn + eps * np.abs(value)
    if stencil.n == 1:
        sensitivity = np.nan_to_num(reach * np.abs(value), posinf=0.0)
        if sum_columns:
            sensitivity = np.broadcast_to(np.cumsum(sensitivity, axis=0)[-1], value.shape)
        # Rounding inside f, unamplified: relative to its terms' (vector f: the column's) derivatives.
        rounding = rounding + eps * sensitivity / reach + phase(value, absf0, reach, eps)
        if value.shape[1] > 1:
            widest = np.maximum(np.abs(value).max(axis=1, keepdims=True), absf0.max() / reach)
            rounding = rounding + 8 * eps * widest
    drive = np.abs(value) * t.extrapolate[0][1]
    truncation = SAFETY_MODELLED * abs(stencil.error_coefficient) * (h / reach) ** stencil.accuracy * drive
    truncation = np.where(np.isfinite(truncation), truncation, np.inf)
    # Truncation is not measured: a step above eps of the length scale (a user's) leaves it unbounded.
    modelled = np.broadcast_to(h > eps * reach, value.shape)
    return value, rounding + truncation, modelled, truncation


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

    Arrays are entries last (:func:`_real`). Runs under the `errstate` of :func:`combine`.
    """
    # Orders innermost: NumPy's vector pow may round unlike its scalar pow (column bits).
    hpow = (h[:, None] ** t.powers.T).T  # (L, E)
    mags = absD / hpow
    noises = noise / hpow
    mags[0] = size
    noises[0] = rounding
    significant = mags > SIGNIFICANCE * noises
    rate = _median_rate(t, mags, significant)
    if t.parity_ends.size:
        # Long stencils: oscillating derivatives make the median lag behind the
        # top orders; the growth over two orders of each parity bounds it too.
        lo, hi = t.parity_ends
        pair = np.where(significant[lo] & significant[hi], np.sqrt(mags[hi] / mags[lo]), np.nan)
        rate = np.fmax(rate, np.fmax.reduce(pair, axis=0))
    measured = np.isfinite(rate) & (rate > 0)
    rate = np.where(measured, rate, 1.0 / reach)
    drive: Array | None = None
    for row, factor, steps in t.extrapolate:
        grown = np.maximum(mags[row], noises[row]) if row > 0 else mags[row]
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
    npairs = len(t.pair_powers)
    if not npairs:
        return np.full(mags.shape[1], np.nan)
    # One gather for both ends of every pair: (2P, E), lower orders first.
    sig = significant[t.pair_ends]
    mag = mags[t.pair_ends]
    both = sig[:npairs] & sig[npairs:]
    ratios = mag[npairs:] / mag[:npairs]
    rates = np.where(both, (ratios.T**t.pair_powers.T).T, np.nan)  # (P, E), pairs innermost as above
    if npairs == 1:
        return np.asarray(rates[0])
    ordered = np.sort(rates, axis=0)  # NaNs sort last
    count = np.add.reduce(both, axis=0, dtype=np.intp)
    # The mean of the two middle valid entries, picked by position.
    lower, upper = t.middle
    out = np.arange(count.size)
    median = ordered[lower[count], out] + ordered[upper[count], out]
    return np.where(count > 0, 0.5 * median, np.nan)
