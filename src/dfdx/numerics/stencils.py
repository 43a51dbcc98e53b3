"""Finite-difference stencils: weights for any derivative order and any offsets.

Everything here is pure: no function of the user's is ever called. A stencil is a
set of offsets ``o_k`` (in units of the step ``h``) and weights ``w_k`` such that

.. math::

    f^{(n)}(x) \\approx \\frac{1}{h^n} \\sum_k w_k f(x + o_k h)

with a leading truncation error ``C h^p f^{(n+p)}(x)``; ``p`` is the stencil's
``accuracy`` and ``C`` its ``error_coefficient``.

The complex step is a stencil too, with imaginary offsets: ``f'(x) \\approx
\\operatorname{Im} \\sum_k w_k f(x + i o_k h) / h``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, cached_property
from typing import Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Stencil",
    "fornberg_weights",
    "central",
    "forward",
    "backward",
    "complex_step",
    "make_stencil",
]

Number = TypeVar("Number", float, Fraction)

Kind = Literal["central", "forward", "backward", "complex"]


def fornberg_weights(offsets: Sequence[Number], order: int, x0: Number | int = 0) -> list[list[Number]]:
    """Weights of every derivative up to `order` on arbitrary `offsets` (Fornberg, 1988).

    Parameters
    ----------
    offsets : sequence of float or Fraction
        Distinct grid points. With :class:`fractions.Fraction` inputs the arithmetic
        is exact, which is how the tests compare against textbook tables.
    order : int
        Highest derivative order wanted, ``0 <= order < len(offsets)``.
    x0 : number, optional
        Point at which the derivatives are approximated.

    Returns
    -------
    list of list
        ``c[m][k]`` is the weight of ``f(offsets[k])`` in the ``m``-th derivative,
        for unit spacing.

    Notes
    -----
    The recursion builds the Lagrange interpolant one node at a time and reads off
    the derivatives of its basis polynomials at ``x0``; it is numerically stable for
    the small stencils used here and exact on rationals.

    References
    ----------
    B. Fornberg, "Generation of finite difference formulas on arbitrarily spaced
    grids", Math. Comp. 51 (1988), 699-706.

    Examples
    --------
    >>> from fractions import Fraction
    >>> [str(w) for w in fornberg_weights([Fraction(-1), Fraction(0), Fraction(1)], 2)[2]]
    ['1', '-2', '1']
    """
    npts = len(offsets)
    if not 0 <= order < npts:
        raise ValueError(f"`order` must be in [0, {npts - 1}] for {npts} offsets, got {order}.")
    if len(set(offsets)) != npts:
        raise ValueError("`offsets` must be distinct.")
    zero = offsets[0] - offsets[0]
    one = zero + 1
    c = [[zero] * npts for _ in range(order + 1)]
    c[0][0] = one
    c1 = one
    c4 = offsets[0] - x0
    for i in range(1, npts):
        mn = min(i, order)
        c2 = one
        c5 = c4
        c4 = offsets[i] - x0
        for j in range(i):
            c3 = offsets[i] - offsets[j]
            c2 = c2 * c3
            if j == i - 1:
                for m in range(mn, 0, -1):
                    c[m][i] = c1 * (m * c[m - 1][i - 1] - c5 * c[m][i - 1]) / c2
                c[0][i] = -c1 * c5 * c[0][i - 1] / c2
            for m in range(mn, 0, -1):
                c[m][j] = (c4 * c[m][j] - m * c[m - 1][j]) / c3
            c[0][j] = c4 * c[0][j] / c3
        c1 = c2
    return c


@dataclass(frozen=True, eq=False)
class Stencil:
    """A finite-difference (or complex-step) rule for the `n`-th derivative.

    Attributes
    ----------
    offsets : ndarray
        Offsets in units of the step, without the zero offset when its weight is 0.
    weights : ndarray
        Weights for unit step; divide the sum by ``h**n``.
    n : int
        Derivative order.
    accuracy : int
        Order ``p`` of the truncation error ``C h**p f^(n+p)``.
    error_coefficient : float
        The constant ``C``.
    kind : str
        ``"central"``, ``"forward"``, ``"backward"``, ``"complex"`` or ``"custom"``.
    """

    offsets: NDArray[np.float64]
    weights: NDArray[np.float64]
    n: int
    accuracy: int
    error_coefficient: float
    kind: str

    @property
    def is_complex(self) -> bool:
        """True for complex-step rules (imaginary offsets, imaginary part taken)."""
        return self.kind == "complex"

    @property
    def uses_center(self) -> bool:
        """True when ``f(x)`` itself carries a nonzero weight."""
        return bool(np.any(self.offsets == 0))

    @property
    def nfev(self) -> int:
        """Evaluations per direction, not counting ``f(x)``."""
        return int(np.count_nonzero(self.offsets))

    @cached_property
    def amplification(self) -> float:
        """``sum |w_k|``: how much the rule amplifies rounding errors of ``f``."""
        return float(np.abs(self.weights).sum())

    def __repr__(self) -> str:
        return (
            f"Stencil({self.kind}, n={self.n}, accuracy={self.accuracy}, "
            f"offsets={self.offsets.tolist()}, weights={np.round(self.weights, 12).tolist()})"
        )


def _from_offsets(offsets: Sequence[int], n: int, kind: str) -> Stencil:
    exact = [Fraction(o) for o in offsets]
    w = fornberg_weights(exact, n)[n]
    keep = [k for k in range(len(exact)) if w[k] != 0]
    # The leading error term is the first moment beyond n that does not vanish:
    # sum_k w_k o_k^m / m! multiplies h^(m-n) f^(m).
    m = n + 1
    while True:
        moment = sum(w[k] * exact[k] ** m for k in keep) / math.factorial(m)
        if moment != 0:
            break
        m += 1
    return Stencil(
        offsets=np.array([float(exact[k]) for k in keep]),
        weights=np.array([float(w[k]) for k in keep]),
        n=n,
        accuracy=m - n,
        error_coefficient=float(moment),
        kind=kind,
    )


@cache
def central(n: int = 1, accuracy: int = 2) -> Stencil:
    """Central stencil for the `n`-th derivative of even order `accuracy`.

    Examples
    --------
    >>> central(1, 4).weights * 12
    array([ 1., -8.,  8., -1.])
    """
    _check(n, accuracy)
    if accuracy % 2:
        raise ValueError(f"`accuracy` must be even for method='central', got {accuracy}; use 2, 4, 6 or 8.")
    radius = (n + 1) // 2 - 1 + accuracy // 2
    return _from_offsets(range(-radius, radius + 1), n, "central")


@cache
def forward(n: int = 1, accuracy: int = 1) -> Stencil:
    """One-sided stencil on offsets ``0, 1, ..., n + accuracy - 1``.

    Examples
    --------
    >>> forward(1, 1).weights
    array([-1.,  1.])
    """
    _check(n, accuracy)
    return _from_offsets(range(n + accuracy), n, "forward")


@cache
def backward(n: int = 1, accuracy: int = 1) -> Stencil:
    """Mirror image of :func:`forward`: offsets ``0, -1, ..., -(n + accuracy - 1)``."""
    _check(n, accuracy)
    return _from_offsets([-k for k in range(n + accuracy)], n, "backward")


@cache
def complex_step(accuracy: int = 2) -> Stencil:
    """Complex-step rule for the first derivative, ``Im f(x + i h) / h`` and its extrapolations.

    ``Im f(x + i t) = sum over odd m of (-1)^((m-1)/2) f^(m)(x) t^m / m!``, so
    imaginary offsets ``1, ..., accuracy/2`` can cancel the odd terms up to order
    ``accuracy``. There is no subtraction of nearby values, hence no cancellation.

    Examples
    --------
    >>> complex_step(2).weights
    array([1.])
    """
    _check(1, accuracy)
    if accuracy % 2:
        raise ValueError(f"`accuracy` must be even for method='complex', got {accuracy}; use 2, 4, 6 or 8.")
    q = accuracy // 2
    exact = [Fraction(k) for k in range(1, q + 1)]
    odd = [2 * i + 1 for i in range(q + 1)]

    def moment(m: int, k: Fraction) -> Fraction:
        return Fraction((-1) ** ((m - 1) // 2)) * k**m / math.factorial(m)

    matrix = [[moment(m, k) for k in exact] for m in odd[:q]]
    rhs = [Fraction(int(m == 1)) for m in odd[:q]]
    w = _solve_exact(matrix, rhs)
    leading = sum(wk * moment(odd[q], k) for wk, k in zip(w, exact))
    return Stencil(
        offsets=np.array([float(k) for k in exact]),
        weights=np.array([float(v) for v in w]),
        n=1,
        accuracy=accuracy,
        error_coefficient=float(leading),
        kind="complex",
    )


def make_stencil(kind: str, n: int, accuracy: int) -> Stencil:
    """The stencil of a method name (``central``, ``forward``, ``backward``, ``complex``)."""
    if kind == "central":
        return central(n, accuracy)
    if kind == "forward":
        return forward(n, accuracy)
    if kind == "backward":
        return backward(n, accuracy)
    if kind == "complex":
        if n != 1:
            raise ValueError(
                f"method='complex' gives first derivatives only, got n={n}; "
                "use method='central' for higher derivatives."
            )
        return complex_step(accuracy)
    raise ValueError(f"`method` must be one of 'central', 'forward', 'backward', 'complex', got {kind!r}.")


def _check(n: int, accuracy: int) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"`n` (the derivative order) must be an integer >= 1, got {n!r}.")
    if not isinstance(accuracy, (int, np.integer)) or isinstance(accuracy, bool) or accuracy < 1:
        raise ValueError(f"`accuracy` must be an integer >= 1, got {accuracy!r}.")
    if n + accuracy > 24:
        raise ValueError(
            f"n + accuracy = {n + accuracy} is beyond what double precision can resolve; "
            "keep n + accuracy <= 24."
        )


def _solve_exact(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """Gauss-Jordan elimination on rationals (tiny systems only)."""
    size = len(rhs)
    aug = [row[:] + [b] for row, b in zip(matrix, rhs)]
    for col in range(size):
        pivot = next(r for r in range(col, size) if aug[r][col] != 0)
        aug[col], aug[pivot] = aug[pivot], aug[col]
        for r in range(size):
            if r != col and aug[r][col] != 0:
                factor = aug[r][col] / aug[col][col]
                aug[r] = [a - factor * b for a, b in zip(aug[r], aug[col])]
    return [aug[r][size] / aug[r][r] for r in range(size)]
