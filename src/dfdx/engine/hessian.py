"""Hessians: from f alone by second differences, or from a gradient by first differences.

From f alone, with steps ``h_i``, the diagonal is the second derivative along each
axis and the off-diagonal entry comes from the second derivative along the pair's
diagonal ``d = h_i e_i + h_j e_j``:

.. math::

    \\frac{d^2}{dt^2} f(x + t d) \\Big|_{t=0} = h_i^2 H_{ii} + 2 h_i h_j H_{ij} + h_j^2 H_{jj},

so ``H_ij`` follows from one more second difference per pair, symmetric by
construction. Each pair's line costs the points of a stencil; a rule of order six
along it would need six (``6 n + 3 n (n - 1)`` in all, 331 for n = 10), so the pairs
keep the order-4 rule (offsets +-1, +-2) and accuracy comes from the steps:

1. A scout along every axis: the order-6 rule (offsets +-1, +-2, +-3) at a long step
   ``H = max(1, |x_i|) / 2`` (``6 n`` points). Its seven values also give the sixth
   derivative along the axis at that scale.
2. Where that derivative is lost in rounding, f is a polynomial of degree five or less
   along the axis as far as can be seen: the scout's value is the diagonal entry and H
   stays the step. Elsewhere the step balances the order-4 truncation error
   ``h^4 |f^(6)| / 90`` against rounding, and the diagonal entry is done again there
   (at most ``4 n`` points).
3. A pair of two such polynomial axes is differenced at their long steps with one more
   point on its line (offset 3), whose fifth difference sees a term of degree five or
   six across the two axes (``x_i^3 x_j^3``); if it does, the pair is done again at
   the default steps. A pair of a polynomial axis and another takes the finer of
   their two steps; a pair of two other axes, half their steps (see ``_assemble``).

For n = 10 this is 281 to 286 evaluations (``1 + 10 n + 2 n (n - 1)`` less four per
polynomial axis plus one per pair of them), and four more for each pair whose check
fails. With user steps, bounds that leave no room for the scout, the adaptive
or noisy modes, other stencils, or f failing at a scout point, the default steps
``~ eps**(1/6) max(1, |x|)`` serve for every entry (``4 n + 2 n (n - 1)`` points).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._result import Status
from ..numerics.error_model import SAFETY_MEASURED, SIGNIFICANCE, combine, tables
from ..numerics.stencils import central, fornberg_weights
from ..numerics.steps import absolute_steps
from .bounds import longest_step, rooms
from .dispatch import Call
from .fixed import Estimate, entry_status
from .layouts import Axes, Directions, Layout

__all__ = [
    "hessian_from_f",
    "hessian_diagonal",
    "pair_entries",
    "hessian_of_vector_f",
    "hessian_from_gradient",
    "PAIR_CHUNK",
]

Array = NDArray[Any]

#: Pairs laid out at once: bounds the memory of the pair directions (PAIR_CHUNK x n).
PAIR_CHUNK = 4096
#: The scout: order-6 second differences along the axes at this step relative to max(1, |x|).
SCOUT = central(2, 6)
SCOUT_RELATIVE = 0.5
#: Weights of the sixth derivative on the scout's nodes -3 .. 3 (times H^6).
_SIXTH = {-3: 1.0, -2: -6.0, -1: 15.0, 1: 15.0, 2: -6.0, 3: 1.0}
#: The check of a pair's line at long steps: offsets, the order-4 second difference on
#: -2 .. 2 and the fifth difference on -2 .. 3 (weights of the nonzero offsets).
CHECK_OFFSETS = np.array([-2.0, -1.0, 1.0, 2.0, 3.0])
_CHECK_D2 = np.array([-1 / 12, 4 / 3, 4 / 3, -1 / 12, 0.0])
_CHECK_D5 = np.array([float(w) for k, w in enumerate(fornberg_weights([-2, -1, 0, 1, 2, 3], 5)[5]) if k != 2])
_CHECK_RATIO = abs(float(_CHECK_D2 @ CHECK_OFFSETS**6) / float(_CHECK_D5 @ CHECK_OFFSETS**6))
#: A pair's line between two non-polynomial axes is differenced at this fraction of the
#: axes' steps (see `_assemble`).
LINE_SCALE = 0.5
#: The measured sixth derivative is taken this much larger when sizing the steps.
STEP_SAFETY = 2.0


def _pair_index(n: int) -> tuple[Array, Array]:
    i, j = np.triu_indices(n, k=1)
    return i.astype(np.intp), j.astype(np.intp)


def hessian_from_f(s: Call) -> tuple[Array, Array, Array, Array]:
    """Value, error, entry status ``(n, n)`` and steps ``(n,)`` of the Hessian of f.

    `s` is the validated call (:class:`dfdx.engine.dispatch.Call`) with a second-derivative stencil.
    """
    diag, h, flat, small, scale = hessian_diagonal(s)
    return _assemble(s, h, flat, small, diag, scale)


def hessian_diagonal(s: Call) -> tuple[tuple[Array, Array, Array], Array, Array, Array, float]:
    """The diagonal (value, error, status), the steps, the polynomial axes, the default
    steps and the scale of the pairs' steps (see :func:`pair_entries`)."""
    n = s.x.size
    diag_layout = Axes(s.x, np.arange(n))
    small = s.steps(diag_layout)
    scout = _scout(s, diag_layout, small) if _scouting_applies(s) else None
    if scout is None:
        diag, h = s.run(diag_layout, h=small)
        d_value, d_error = diag.value.reshape(n), diag.error.reshape(n)
        d_status = entry_status(diag).reshape(n)
        flat = np.zeros(n, dtype=bool)
    else:
        d_value, d_error, d_status, h = _diagonal_after_scout(s, diag_layout, scout)
        flat = scout[2] >= scout[1]
    # The pairs take the steps the diagonal ended with: where a bound or a domain hole
    # shrank a step, f varies on that shorter scale along the pair's diagonal too.
    # Only steps the scout sized for the order-4 rule are halved on the pairs' lines.
    scale = 1.0 if scout is None else LINE_SCALE
    return (d_value, d_error, d_status), np.asarray(h), flat, small, scale


def _assemble(
    s: Call, h: Array, flat: Array, small: Array, diag: tuple[Array, Array, Array], scale: float
) -> tuple[Array, Array, Array, Array]:
    """The full matrix: the diagonal given, each pair from its second difference (:func:`pair_entries`)."""
    d_value, d_error, d_status = diag
    n = s.x.size
    value = np.zeros((n, n))
    error = np.zeros((n, n))
    status = np.zeros((n, n), dtype=np.int8)
    value[np.diag_indices(n)] = d_value
    error[np.diag_indices(n)] = d_error
    status[np.diag_indices(n)] = d_status
    i_all, j_all = _pair_index(n)
    for start in range(0, len(i_all), PAIR_CHUNK):
        i, j = i_all[start : start + PAIR_CHUNK], j_all[start : start + PAIR_CHUNK]
        v, e, worst = pair_entries(s, h, flat, small, diag, scale, i, j)
        value[i, j] = value[j, i] = v
        error[i, j] = error[j, i] = e
        status[i, j] = status[j, i] = worst
    return value, error, status, np.asarray(h)


def pair_entries(
    s: Call,
    h: Array,
    flat: Array,
    small: Array,
    diag: tuple[Array, Array, Array],
    scale: float,
    i: Array,
    j: Array,
) -> tuple[Array, Array, Array]:
    """``H_ij`` for the pairs ``(i, j)``: value, error and status code, one second difference each.

    A pair of two axes along which f looked polynomial keeps their long steps, checked
    by one more point on its line; a pair of one such axis and another shares the
    finer of their two steps (relative to x), since a long step along a polynomial axis
    says nothing about how f varies across the other; the other pairs take the steps
    the diagonal ended with, times `scale`: one half where the scout sized them for
    the order-4 rule. Why half: each axis step balances rounding ``a / h^2`` against
    truncation ``b h^4`` (so ``a = 2 b``). Along ``t (h_i e_i + h_j e_j)`` the
    sixth derivative may reach ``2^6`` times the axes' (a ridge ``phi(w . x)`` with
    ``w_i h_i = w_j h_j`` does), while rounding enters ``H_ij`` halved (divided by
    ``2 h_i h_j``): ``a / (2 t^2) + 64 b t^4`` is least at ``t = 128^(-1/6) ~ 0.45``.
    """
    d_value, d_error, d_status = diag
    reach = np.maximum(1.0, np.abs(s.x.ravel()))
    both = flat[i] & flat[j]
    mixed = flat[i] != flat[j]
    fine = np.minimum(h[i] / reach[i], h[j] / reach[j])
    line = np.where(flat[i] | flat[j], 1.0, scale)
    hi = np.where(mixed, absolute_steps(fine * reach[i], 1.0), line * h[i])
    hj = np.where(mixed, absolute_steps(fine * reach[j], 1.0), line * h[j])
    g, g_err = np.empty(len(i)), np.empty(len(i))
    sign, p_status = np.ones(len(i)), np.zeros(len(i), dtype=np.int8)
    if both.any():
        k = np.flatnonzero(both)
        g[k], g_err[k], ok = _checked_pairs(s, i[k], j[k], hi[k], hj[k])
        p_status[k] = Status.SUCCESS.code
        # A line whose check sees terms beyond degree five: the default steps.
        hi[k[~ok]], hj[k[~ok]] = small[i[k[~ok]]], small[j[k[~ok]]]
        both[k[~ok]] = False
    rest = np.flatnonzero(~both)
    if rest.size:
        pair, sign[rest] = _pairs(s, i[rest], j[rest], hi[rest], hj[rest])
        g[rest], g_err[rest] = pair.value.reshape(-1), pair.error.reshape(-1)
        p_status[rest] = entry_status(pair).reshape(-1)
    with np.errstate(invalid="ignore"):
        v = (g - hi**2 * d_value[i] - hj**2 * d_value[j]) / (2 * sign * hi * hj)
        e = (g_err + hi**2 * d_error[i] + hj**2 * d_error[j]) / (2 * hi * hj)
    return v, e, np.maximum(p_status, np.maximum(d_status[i], d_status[j]))


def _checked_pairs(s: Call, i: Array, j: Array, hi: Array, hj: Array) -> tuple[Array, Array, Array]:
    """Second differences along ``h_i e_i + h_j e_j`` at long steps, and whether they hold.

    The order-4 rule on offsets -2 .. 2 is exact for polynomials of degree five; the
    fifth difference on -2 .. 3 (one more point) sees a term of degree five or six
    (its nodes are not symmetric). Where that difference is lost in rounding, the
    line's truncation error is bounded by what a degree-six term hidden in rounding
    would make; elsewhere ``ok`` is False and the pair is done again at short steps.
    """
    layout = _diagonals(s.x, i, j, hi, hj, np.ones(len(i)))
    values = s.ev(layout.points(np.ones(len(i)), CHECK_OFFSETS)).reshape(len(i), -1)
    values = values.astype(np.float64)
    f0 = float(s.ev.f0.reshape(-1)[0])
    diffs = values - f0
    g = diffs @ _CHECK_D2
    fmax = np.maximum(np.abs(values).max(axis=1), abs(f0))
    rounding = 2 * s.eps * fmax * (np.abs(_CHECK_D2).sum() + 2.5)
    fifth = np.abs(diffs @ _CHECK_D5)
    noise5 = s.eps * fmax * (np.abs(_CHECK_D5).sum() + abs(_CHECK_D5.sum()))
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values).all(axis=1) & (fifth <= SIGNIFICANCE * noise5)
        # A degree-six term c t^6 moves the fifth difference by c K6 and the second by
        # c K2; K2 / K6 is the ratio below.
        truncation = SAFETY_MEASURED * _CHECK_RATIO * np.maximum(fifth, SIGNIFICANCE * noise5)
    return g, rounding + truncation, ok


def _scouting_applies(s: Call) -> bool:
    """The scout runs for automatic fixed steps of the default central order-4 rule."""
    return (
        s.step is None
        and not s.adaptive
        and s.noise is None
        and s.stencil is central(2, 4)
        and s.x.dtype == np.float64
        and (s.max_evals is None or s.max_evals >= _scouted_most(s.x.size))
    )


def _scouted_most(n: int) -> int:
    """The most evaluations the scouted Hessian takes (``max_evals`` below it: no scout)."""
    return 1 + 10 * n + 9 * (n * (n - 1) // 2)


def _scout(s: Call, layout: Layout, small: Array) -> tuple[Estimate, Array, Array] | None:
    """Order-6 second differences along the axes at a long step ``H``, and the steps.

    The same seven values give the sixth derivative along each axis at the scale H.
    Where it is lost in rounding, f is a polynomial of degree five or less along the
    axis as far as can be seen, the order-6 estimate at H is (nearly) exact and H is
    kept for the pairs; elsewhere the step balances the order-4 truncation error
    ``h^4 |f^(6)| / 90`` against rounding. Returns the estimate at H, H, and the steps,
    or None where the box leaves no room for H (then the default steps are used).
    """
    n = layout.ncols
    big = absolute_steps(layout.reach, SCOUT_RELATIVE)
    if s.bounds is not None:
        minus, plus = rooms(layout, *s.bounds)
        with np.errstate(divide="ignore"):
            room = np.exp2(np.floor(np.log2(np.minimum(minus, plus) / 3)))
        big = np.minimum(big, room)
        if np.any(~(big >= 4 * small)):
            return None
    t = tables(SCOUT)
    try:
        # A probe far from x may leave f's domain; f's complaints there (warnings,
        # exceptions) only mean that the default, short steps are to be used.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            values = s.ev(layout.points(big, t.offsets))
    except Exception:
        return None
    values = values.reshape(n, len(t.offsets), -1).astype(np.float64)
    f0 = s.ev.f0.reshape(-1).astype(np.float64)
    if not (np.isfinite(values).all() and np.isfinite(f0).all()):
        return None  # a domain hole: the engine's default path knows how to step around it
    hh, reach = big[:, None], layout.reach[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        value, error, modelled = combine(SCOUT, values, f0, hh, reach, s.eps, True)
    est = Estimate(
        value=value.reshape(n),
        error=error.reshape(n),
        nonfinite=np.zeros(n, dtype=bool),
        modelled=modelled.reshape(n),
    )
    w6 = np.array([_SIXTH[int(o)] for o in t.offsets])
    d6 = np.abs((values[:, :, 0] - f0[0]) @ w6) / big**6
    scale = np.maximum(np.abs(values[:, :, 0]).max(axis=1), abs(f0[0]))
    noise6 = s.eps * np.abs(w6).sum() * 2 * scale / big**6
    flat = d6 <= SIGNIFICANCE * noise6
    rule = s.stencil
    with np.errstate(divide="ignore"):
        best = (
            s.eps * scale * rule.amplification / (2 * abs(rule.error_coefficient) * STEP_SAFETY * d6)
        ) ** (1 / 6)
    h = np.where(flat, big, np.clip(absolute_steps(best, 1.0), small / 8, big))
    return est, big, h


def _diagonal_after_scout(
    s: Call, layout: Layout, scout: tuple[Estimate, Array, Array]
) -> tuple[Array, Array, Array, Array]:
    """The diagonal: the scout's where its step is kept, a second difference elsewhere."""
    est, big, h = scout
    value, error = est.value.copy(), est.error.copy()
    status = entry_status(est)
    redo = np.flatnonzero(h < big)
    if redo.size:
        part, used = s.run(layout.subset(redo), h=h[redo])
        value[redo], error[redo] = part.value.reshape(-1), part.error.reshape(-1)
        status[redo] = entry_status(part).reshape(-1)
        h = h.copy()
        h[redo] = used
    return value, error, status, h


def _pairs(s: Call, i: Array, j: Array, hi: Array, hj: Array) -> tuple[Estimate, Array]:
    """Second derivatives along ``h_i e_i + sign h_j e_j`` with unit step in t.

    The sign is +1 unless a bounding box leaves more room along the other diagonal
    (x in a corner of the box); it is returned per pair.
    """
    sign = np.ones(len(i))
    if s.bounds is not None:
        room = [
            longest_step(s.stencil, *rooms(_diagonals(s.x, i, j, hi, hj, sg), *s.bounds))
            for sg in (sign, -sign)
        ]
        sign = np.where(room[1] > room[0], -1.0, 1.0)
    layout = _diagonals(s.x, i, j, hi, hj, sign)
    est, _ = s.run(layout, h=np.ones(len(i)))
    return est, sign


def _diagonals(x: Array, i: Array, j: Array, hi: Array, hj: Array, sign: Array) -> Layout:
    directions = np.zeros((len(i), x.size))
    rows = np.arange(len(i))
    directions[rows, i] = hi
    directions[rows, j] = sign * hj
    return Directions(x, directions)


def hessian_of_vector_f(s: Call) -> tuple[Array, Array, Array, Array]:
    """Value, error, status ``(n, n, m)`` and steps ``(n,)`` of the Hessians of f's m outputs.

    Every output is differenced on the same points (the default steps, no scout: its
    choice of steps is made per axis for one output), the pairs as for a scalar f.
    """
    n, m = s.x.size, max(1, int(np.prod(s.ev.out_shape)))
    layout = Axes(s.x, np.arange(n))
    diag, h = s.run(layout, h=s.steps(layout))
    d_value, d_error = diag.value.reshape(n, m), diag.error.reshape(n, m)
    d_status = entry_status(diag).reshape(n, m)
    value, error = np.zeros((n, n, m)), np.zeros((n, n, m))
    status = np.zeros((n, n, m), dtype=np.int8)
    k = np.arange(n)
    value[k, k], error[k, k], status[k, k] = d_value, d_error, d_status
    i, j = _pair_index(n)
    for start in range(0, len(i), PAIR_CHUNK):
        ii, jj = i[start : start + PAIR_CHUNK], j[start : start + PAIR_CHUNK]
        hi, hj = h[ii], h[jj]
        pair, sign = _pairs(s, ii, jj, hi, hj)
        g, g_err = pair.value.reshape(-1, m), pair.error.reshape(-1, m)
        a, b, den = (hi**2)[:, None], (hj**2)[:, None], (2 * hi * hj)[:, None]
        with np.errstate(invalid="ignore"):
            v = (g - a * d_value[ii] - b * d_value[jj]) / (sign[:, None] * den)
            e = (g_err + a * d_error[ii] + b * d_error[jj]) / den
        value[ii, jj] = value[jj, ii] = v
        error[ii, jj] = error[jj, ii] = e
        p_status = entry_status(pair).reshape(-1, m)
        status[ii, jj] = status[jj, ii] = np.maximum(p_status, np.maximum(d_status[ii], d_status[jj]))
    return value, error, status, np.asarray(h)


def hessian_from_gradient(s: Call) -> tuple[Array, Array, Array, Array]:
    """Symmetrised Jacobian of the gradient ``s.f`` and its error.

    The error of ``(J + J^T) / 2`` is the mean of the two entries' errors, but never
    less than half their disagreement, which the symmetrisation removes.
    """
    n = s.x.size
    if s.ev.out_shape != s.x.shape:
        raise ValueError(
            f"`grad` must return an array of x's shape {s.x.shape} (the gradient), but "
            f"grad(x) has shape {s.ev.out_shape}."
        )
    est, h = s.run(Axes(s.x, np.arange(n)))
    # est rows are columns j (d/dx_j), entries the gradient components i.
    jac = est.value.reshape(n, n).T
    err = est.error.reshape(n, n).T
    value = (jac + jac.T) / 2
    with np.errstate(invalid="ignore"):
        error = np.maximum((err + err.T) / 2, np.abs(jac - jac.T) / 2)
    st = entry_status(est).reshape(n, n).T
    status = np.maximum(st, st.T)
    return value, error, status, np.asarray(h)
