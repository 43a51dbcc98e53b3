"""Hessians: from f alone by second differences, or from a gradient by first differences.

From f alone, with steps ``h_i`` sized for second derivatives, the diagonal is the
second derivative along each axis and the off-diagonal entry comes from the second
derivative along the pair's diagonal ``d = h_i e_i + h_j e_j``:

.. math::

    \\frac{d^2}{dt^2} f(x + t d) \\Big|_{t=0} = h_i^2 H_{ii} + 2 h_i h_j H_{ij} + h_j^2 H_{jj},

so ``H_ij`` follows from one more second difference per pair. With the default
fourth-order central stencil (offsets ±1, ±2) this costs ``4 n + 4 n (n - 1) / 2``
evaluations beyond ``f(x)`` (221 for n = 10), every entry of order four, and the
result is symmetric by construction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._bounds import longest_step, rooms
from ._engine import Estimate, Layout, entry_status

__all__ = ["hessian_from_f", "hessian_from_gradient", "PAIR_CHUNK"]

Array = NDArray[Any]

#: Pairs laid out at once: bounds the memory of the pair directions (PAIR_CHUNK x n).
PAIR_CHUNK = 4096


def _pair_index(n: int) -> tuple[Array, Array]:
    i, j = np.triu_indices(n, k=1)
    return i.astype(np.intp), j.astype(np.intp)


def hessian_from_f(s: Any) -> tuple[Array, Array, Array, Array]:
    """Value, error, entry status ``(n, n)`` and steps ``(n,)`` of the Hessian of f.

    `s` is the validated call (:class:`dfdx._api._Setup`) with a second-derivative stencil.
    """
    n = s.x.size
    diag_layout = Layout(s.x, "axes", columns=np.arange(n))
    h = s.steps(diag_layout)
    diag, used = s.run(diag_layout, h=h)
    # The pairs take the steps the diagonal ended with: where a bound or a domain hole
    # shrank a step, f varies on that shorter scale along the pair's diagonal too.
    h = used
    value = np.zeros((n, n))
    error = np.zeros((n, n))
    status = np.empty((n, n), dtype=object)
    d_value, d_error = diag.value.reshape(n), diag.error.reshape(n)
    d_status = entry_status(diag).reshape(n)
    value[np.diag_indices(n)] = d_value
    error[np.diag_indices(n)] = d_error
    status[np.diag_indices(n)] = d_status
    i_all, j_all = _pair_index(n)
    for start in range(0, len(i_all), PAIR_CHUNK):
        i, j = i_all[start:start + PAIR_CHUNK], j_all[start:start + PAIR_CHUNK]
        pair, sign = _pairs(s, i, j, h)
        g, g_err = pair.value.reshape(-1), pair.error.reshape(-1)
        hi, hj = h[i], h[j]
        with np.errstate(invalid="ignore"):
            v = (g - hi**2 * d_value[i] - hj**2 * d_value[j]) / (2 * sign * hi * hj)
            e = (g_err + hi**2 * d_error[i] + hj**2 * d_error[j]) / (2 * hi * hj)
        p_status = entry_status(pair).reshape(-1)
        worst = [max((a, b, c), key=lambda t: t.severity) for a, b, c in
                 zip(p_status, d_status[i], d_status[j], strict=True)]
        value[i, j] = value[j, i] = v
        error[i, j] = error[j, i] = e
        for a, b, st in zip(i, j, worst, strict=True):
            status[a, b] = status[b, a] = st
    return value, error, status, np.asarray(used)


def _pairs(s: Any, i: Array, j: Array, h: Array) -> tuple[Estimate, Array]:
    """Second derivatives along ``h_i e_i + sign h_j e_j`` with unit step in t.

    The sign is +1 unless a bounding box leaves more room along the other diagonal
    (x in a corner of the box); it is returned per pair.
    """
    sign = np.ones(len(i))
    if s.bounds is not None:
        room = [longest_step(s.stencil, *rooms(_diagonals(s.x, i, j, h, sg), *s.bounds))
                for sg in (sign, -sign)]
        sign = np.where(room[1] > room[0], -1.0, 1.0)
    layout = _diagonals(s.x, i, j, h, sign)
    est, _ = s.run(layout, h=np.ones(len(i)))
    return est, sign


def _diagonals(x: Array, i: Array, j: Array, h: Array, sign: Array) -> Layout:
    directions = np.zeros((len(i), x.size))
    rows = np.arange(len(i))
    directions[rows, i] = h[i]
    directions[rows, j] = sign * h[j]
    return Layout(x, "directions", directions=directions)


def hessian_from_gradient(s: Any) -> tuple[Array, Array, Array, Array]:
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
    est, h = s.run(Layout(s.x, "axes", columns=np.arange(n)))
    # est rows are columns j (d/dx_j), entries the gradient components i.
    jac = est.value.reshape(n, n).T
    err = est.error.reshape(n, n).T
    value = (jac + jac.T) / 2
    with np.errstate(invalid="ignore"):
        error = np.maximum((err + err.T) / 2, np.abs(jac - jac.T) / 2)
    st = entry_status(est).reshape(n, n).T
    status = np.where(
        np.vectorize(lambda a, b: a.severity >= b.severity, otypes=[bool])(st, st.T), st, st.T
    )
    return value, error, status, np.asarray(h)
