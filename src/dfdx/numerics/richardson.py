"""Richardson extrapolation tableaux and their error estimates. Pure: f is never called.

A difference quotient at step ``h`` has an error expansion in powers of ``h``,

.. math::

    D(h) = f^{(n)}(x) + c_1 h^{p} + c_2 h^{p + s} + c_3 h^{p + 2 s} + \\dots

with ``p`` the stencil's accuracy and ``s = 2`` for symmetric rules (central
differences, the complex step) or ``s = 1`` for one-sided ones. On a geometric
sequence of steps ``h_l = h_0 / r^l`` the tableau (Richardson 1911; Ridders 1982)

.. math::

    T_{l,0} = D(h_l), \\qquad
    T_{l,m} = T_{l,m-1} + \\frac{T_{l,m-1} - T_{l-1,m-1}}{r^{q_m} - 1},
    \\quad q_m = p + (m - 1) s,

removes one term of the expansion per column: ``T_{l,m}`` has error
``O(h_l^{p + m s})``.

Error estimates. Two estimates of the truncation error of ``T_{l,m}`` come from
the tableau itself:

- *same order*: two entries of the same order at consecutive steps differ by
  ``(r^q - 1)`` times the error of the later one (``q = p + m s``), so
  ``|T_{l,m} - T_{l-1,m}| / (r^q - 1)`` estimates it; this is tight once the
  expansion is asymptotic;
- *Ridders*: the distance to the lower-order neighbours,
  ``max(|T_{l,m} - T_{l,m-1}|, |T_{l,m} - T_{l-1,m-1}|)``, which is about the
  error of the lower order and so an upper bound when the expansion holds.

Rounding does not follow the expansion: each entry is a fixed linear combination
``T_{l,m} = sum_k C_{l,m,k} D(h_k)``, so its rounding error is bounded by
``sum_k |C_{l,m,k}| R_k`` with ``R_k`` the rounding error of ``D(h_k)``.

References
----------
L. F. Richardson, "The approximate arithmetical solution by finite differences of
physical problems...", Phil. Trans. R. Soc. A 210 (1911), 307-357.
C. J. F. Ridders, "Accurate computation of F'(x) and F'(x)F''(x)", Adv. Eng.
Software 4(2) (1982), 75-76.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "tableau",
    "coefficients",
    "abs_coefficients",
    "same_order_error",
    "ridders_error",
    "expansion_spacing",
    "next_row",
    "row_truncation",
    "row_changes",
    "row_errors",
    "noise_weights",
]

Array = NDArray[Any]


def expansion_spacing(kind: str) -> int:
    """``s``: the spacing of the powers of h in the error expansion of a stencil kind.

    Examples
    --------
    >>> expansion_spacing("central"), expansion_spacing("forward")
    (2, 1)
    """
    return 2 if kind in ("central", "complex") else 1


def _factor(ratio: ArrayLike, q: float) -> Array:
    """``1 / (r^q - 1)``, the weight of one Richardson step."""
    return 1.0 / (np.asarray(ratio, dtype=np.float64) ** q - 1.0)


def tableau(estimates: ArrayLike, ratio: ArrayLike, accuracy: int, spacing: int) -> Array:
    """The Richardson tableau of `estimates` ``D(h_0), D(h_1), ...``.

    Parameters
    ----------
    estimates : array_like, shape ``(L, ...)``
        Difference quotients at steps ``h_l = h_0 / ratio**l``. NaN entries spread
        to every entry that uses them.
    ratio : array_like
        ``h_{l-1} / h_l > 1``, broadcastable against ``estimates[0]``.
    accuracy, spacing : int
        ``p`` and ``s`` of the error expansion (see the module notes).

    Returns
    -------
    ndarray, shape ``(L, L, ...)``
        ``T[l, m]`` for ``m <= l``; NaN above the diagonal.

    Examples
    --------
    Central differences of exp at 0 with steps 0.5 and 0.25:

    >>> import numpy as np
    >>> d = [np.sinh(h) / h for h in (0.5, 0.25)]
    >>> t = tableau(d, 2.0, 2, 2)
    >>> bool(abs(t[1, 1] - 1) < 2e-4 < abs(t[1, 0] - 1))
    True
    """
    D = np.asarray(estimates, dtype=np.result_type(np.asarray(estimates).dtype, np.float64))
    L = D.shape[0]
    T = np.full((L, L, *D.shape[1:]), np.nan, dtype=D.dtype)
    T[:, 0] = D
    for m in range(1, L):
        a = _factor(ratio, accuracy + (m - 1) * spacing)
        T[m:, m] = T[m:, m - 1] + a * (T[m:, m - 1] - T[m - 1 : -1, m - 1])
    return T


def coefficients(L: int, ratio: ArrayLike, accuracy: int, spacing: int) -> Array:
    """``C[l, m, k]``: the weight of ``D(h_k)`` in ``T[l, m]`` (zero where unused).

    Examples
    --------
    >>> c = coefficients(2, 2.0, 2, 2)
    >>> c[1, 1].tolist()   # (4 D(h/2) - D(h)) / 3
    [-0.3333333333333333, 1.3333333333333333]
    """
    r = np.asarray(ratio, dtype=np.float64)
    C = np.zeros((L, L, L, *r.shape))
    for k in range(L):
        C[k, 0, k] = 1.0
    for m in range(1, L):
        a = _factor(r, accuracy + (m - 1) * spacing)
        C[m:, m] = (1 + a) * C[m:, m - 1] - a * C[m - 1 : -1, m - 1]
    return C


def same_order_error(T: Array, ratio: ArrayLike, accuracy: int, spacing: int) -> Array:
    """``|T[l, m] - T[l-1, m]| / (r^q - 1)`` with ``q = p + m s``; NaN where undefined.

    Examples
    --------
    >>> import numpy as np
    >>> d = [np.sinh(h) / h for h in (0.5, 0.25, 0.125)]
    >>> t = tableau(d, 2.0, 2, 2)
    >>> e = same_order_error(t, 2.0, 2, 2)
    >>> bool(0.5 < e[2, 1] / abs(t[2, 1] - 1) < 2)
    True
    """
    out = np.full(T.shape, np.nan)
    for m in range(T.shape[1]):
        a = _factor(ratio, accuracy + m * spacing)
        out[m + 1 :, m] = np.abs(T[m + 1 :, m] - T[m:-1, m]) * a
    return out


def ridders_error(T: Array) -> Array:
    """``max(|T[l, m] - T[l, m-1]|, |T[l, m] - T[l-1, m-1]|)``; NaN where undefined.

    Examples
    --------
    >>> import numpy as np
    >>> d = [np.sinh(h) / h for h in (0.5, 0.25)]
    >>> t = tableau(d, 2.0, 2, 2)
    >>> bool(ridders_error(t)[1, 1] > abs(t[1, 1] - 1))
    True
    """
    out = np.full(T.shape, np.nan)
    for m in range(1, T.shape[1]):
        out[m:, m] = np.maximum(np.abs(T[m:, m] - T[m:, m - 1]), np.abs(T[m:, m] - T[m - 1 : -1, m - 1]))
    return out


@lru_cache(maxsize=128)
def abs_coefficients(L: int, ratio: float, accuracy: int, spacing: int) -> Array:
    """``|coefficients(L, ratio, accuracy, spacing)|``, cached (the rounding weights)."""
    return np.abs(coefficients(L, ratio, accuracy, spacing))


@lru_cache(maxsize=512)
def _weight(ratio: float, q: int) -> float:
    return 1.0 / (ratio**q - 1.0)


@lru_cache(maxsize=512)
def _weights(length: int, ratio: float, accuracy: int, spacing: int) -> Array:
    """``_weight(ratio, accuracy + m spacing)`` for ``m < length`` (read-only)."""
    q = np.array([_weight(ratio, accuracy + m * spacing) for m in range(length)])
    q.setflags(write=False)
    return q


@lru_cache(maxsize=512)
def _weight_tuple(length: int, ratio: float, accuracy: int, spacing: int) -> tuple[float, ...]:
    return tuple(_weights(length, ratio, accuracy, spacing).tolist())


# -- one row at a time: what an adaptive driver needs after each new step --------------


def next_row(D: Array, prev: Array | None, ratio: float, accuracy: int, spacing: int) -> Array:
    """Row ``l`` of the tableau, ``T[l, 0..l]``, from ``D(h_l)`` and row ``l - 1``.

    `prev` holds ``T[l-1, 0..l-1]`` (None for the first row); NaN entries spread.

    Examples
    --------
    >>> import numpy as np
    >>> d = [np.sinh(h) / h for h in (0.5, 0.25, 0.125)]
    >>> row = None
    >>> for D in d:
    ...     row = next_row(np.array(D), row, 2.0, 2, 2)
    >>> bool(np.allclose(row, tableau(d, 2.0, 2, 2)[2], rtol=1e-15))
    True
    """
    L = 1 if prev is None else len(prev) + 1
    T = np.empty((L, *np.shape(D)))
    T[0] = D
    if prev is not None:
        for m, w in enumerate(_weight_tuple(L - 1, ratio, accuracy, spacing), start=1):
            T[m] = T[m - 1] + w * (T[m - 1] - prev[m - 1])
    return T


def row_truncation(Tl: Array, Tp: Array, ratio: float, accuracy: int, spacing: int, safety: float) -> Array:
    """Truncation estimate of every entry of a row: same-order where it exists, else Ridders.

    `Tl` is row ``l`` and `Tp` row ``l - 1`` padded with NaN to the same length. The
    same-order estimate (times `safety`) is floored at a fiftieth of the entry's last
    correction, which guards against two entries agreeing by accident before the
    expansion is asymptotic. Order 0 is never a candidate (infinite estimate).

    Examples
    --------
    >>> import numpy as np
    >>> d = [np.sinh(h) / h for h in (0.5, 0.25, 0.125)]
    >>> t = tableau(d, 2.0, 2, 2)
    >>> e = row_truncation(t[2], t[1], 2.0, 2, 2, 1.0)
    >>> bool(np.isinf(e[0]) and e[1] >= abs(t[2, 1] - 1) / 2)
    True
    """
    L = len(Tl)
    q = _weights(L, ratio, accuracy, spacing).reshape((-1,) + (1,) * (Tl.ndim - 1))
    same = safety * np.abs(Tl - Tp) * q
    ridders = np.empty(Tl.shape)
    lower = np.empty(Tl.shape)
    ridders[0], lower[0] = np.nan, np.inf
    if L > 1:
        step = np.abs(Tl[1:] - Tl[:-1])
        np.maximum(step, np.abs(Tl[1:] - Tp[:-1]), out=ridders[1:])
        np.multiply(0.02, step, out=lower[1:])
    out: Array = np.where(np.isnan(same), ridders, np.maximum(same, lower))
    return out


def row_changes(Tl: Array, Tp: Array, Tpp: Array) -> Array:
    """The largest change over one step of ``T[., m]`` and ``T[., m-1]``, in rows l and l - 1.

    In the asymptotic regime these changes are truncation (small) plus the rounding the
    values actually carry; they are the measured counterpart of a rounding bound.
    """

    def spread(a: Array, b: Array) -> Array:
        d = np.abs(a - b)
        out: Array = np.empty(d.shape)
        out[0] = d[0]
        np.fmax(d[1:], d[:-1], out=out[1:])
        return out

    result: Array = np.fmax(spread(Tl, Tp), spread(Tp, Tpp))
    return result


def row_errors(
    Tl: Array, Tp: Array, ratio: float, accuracy: int, spacing: int, safety: float
) -> tuple[Array, Array]:
    """:func:`row_truncation` and the row's own half of :func:`row_changes`, in one pass.

    ``row_changes(Tl, Tp, Tpp)`` is ``fmax(b, a)`` with ``a`` the second result here for
    rows ``(Tp, Tpp)`` (the previous row's, padded with NaN) and ``b`` this row's: an
    adaptive driver keeps the previous result instead of computing it again.

    Examples
    --------
    >>> import numpy as np
    >>> d = [np.sinh(h) / h for h in (0.5, 0.25, 0.125)]
    >>> t = tableau(d, 2.0, 2, 2)
    >>> trunc, now = row_errors(t[2], t[1], 2.0, 2, 2, 2.0)
    >>> _, before = row_errors(t[1], t[0], 2.0, 2, 2, 2.0)
    >>> before = np.append(before[:2], np.nan)
    >>> bool(np.array_equal(trunc, row_truncation(t[2], t[1], 2.0, 2, 2, 2.0), equal_nan=True))
    True
    >>> bool(np.array_equal(np.fmax(now, before), row_changes(t[2], t[1], t[0]), equal_nan=True))
    True
    """
    L = len(Tl)
    q = _weights(L, ratio, accuracy, spacing).reshape((-1,) + (1,) * (Tl.ndim - 1))
    d = np.abs(Tl - Tp)
    same = safety * d * q
    ridders, lower, changes = np.empty(Tl.shape), np.empty(Tl.shape), np.empty(Tl.shape)
    ridders[0], lower[0], changes[0] = np.nan, np.inf, d[0]
    if L > 1:
        step = np.abs(Tl[1:] - Tl[:-1])
        np.maximum(step, np.abs(Tl[1:] - Tp[:-1]), out=ridders[1:])
        np.multiply(0.02, step, out=lower[1:])
        np.fmax(d[1:], d[:-1], out=changes[1:])
    trunc: Array = np.where(np.isnan(same), ridders, np.maximum(same, lower))
    return trunc, changes


def noise_weights(nodes: ArrayLike) -> Array:
    """Weights of the highest divided difference on `nodes`, scaled to unit Euclidean norm.

    Applied to values of f at ``x + t_i h``, the combination annihilates every polynomial
    of degree below ``len(nodes) - 1``; independent noise of standard deviation sigma in the
    values gives a result of standard deviation sigma, while f's smooth part contributes
    about ``h^k f^(k)`` (k = ``len(nodes) - 1``), which vanishes fast as h shrinks. Its
    magnitude is therefore a measurement of f's noise (rounding inside f included) once
    h is small, and an upper bound on it before.

    Examples
    --------
    >>> import numpy as np
    >>> a = noise_weights([0.0, 1.0, 2.0])
    >>> bool(np.allclose(a, np.array([1.0, -2.0, 1.0]) / np.sqrt(6)))
    True
    """
    t = np.asarray(nodes, dtype=np.float64)
    diff = t[:, None] - t[None, :]
    np.fill_diagonal(diff, 1.0)
    w = 1.0 / np.prod(diff, axis=1)
    out: Array = w / np.sqrt(np.sum(w * w))
    return out
