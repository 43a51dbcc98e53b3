"""Step-size rules. Pure functions: no function of the user's is called here.

The error of a stencil at step ``h`` is modelled as truncation plus rounding,

.. math::

    E(h) = |C| h^p |f^{(n+p)}| + \\varepsilon S |f| / h^n ,

with ``C`` the stencil's error coefficient, ``p`` its accuracy, ``S = sum |w_k|``
and ``eps`` the unit round-off of the arithmetic (or the relative noise of ``f``).
With derivatives of the size of ``f`` on the scale ``max(1, |x|)`` the minimum is at

.. math::

    h^* = \\left(\\frac{n \\varepsilon S}{p |C|}\\right)^{1/(n+p)} \\max(1, |x|).

Steps are then rounded down to a power of two so that ``x + o_k h`` is exact for the
small integer offsets of the stencils, whatever ``x``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .stencils import Stencil

__all__ = [
    "unit_roundoff",
    "relative_step",
    "absolute_steps",
    "noise_optimal_step",
    "power_of_two_below",
    "near_the_edge",
    "COMPLEX_STEP",
]

#: Relative step of the complex step: there is no subtraction, so it only has to make
#: ``h**2 f'''/6`` negligible; a power of two keeps ``x + i h`` exact.
COMPLEX_STEP = 2.0**-66


def unit_roundoff(*dtypes: np.dtype | type) -> float:
    """Machine epsilon of the coarsest of the floating dtypes given (float64 if none are floating).

    Examples
    --------
    >>> unit_roundoff(np.float64, np.float32) == float(np.finfo(np.float32).eps)
    True
    """
    return _coarsest(dtypes)


@lru_cache(maxsize=64)
def _coarsest(dtypes: tuple[np.dtype | type, ...]) -> float:
    # Cached on the dtypes themselves: every call of the front-ends asks once.
    return max((_eps_of(np.dtype(d)) for d in dtypes), default=_eps_of(np.dtype(np.float64)))


@lru_cache(maxsize=64)
def _eps_of(dtype: np.dtype) -> float:
    return float(np.finfo(dtype if dtype.kind in "fc" else np.float64).eps)


@lru_cache(maxsize=512)
def relative_step(stencil: Stencil, eps: float) -> float:
    """Optimal step, relative to ``max(1, |x|)``, for `stencil` at relative error level `eps`.

    For derivatives of order ``n >= 2`` the rule's assumption that ``f^(n+p)`` is as
    large as f is too kind: derivatives grow like ``m! / d^m``, which makes the step too
    long. It is shortened by ``(n + p)!^(1/(n+p)) / 1.5`` (2 for ``n + p = 6``), which is
    more accurate on the problem bank and keeps the error estimates covering there.

    Examples
    --------
    >>> from dfdx.stencils import central
    >>> bool(abs(relative_step(central(1, 2), 2.0**-52) / 8.7e-6 - 1) < 0.01)
    True
    """
    if stencil.is_complex:
        return COMPLEX_STEP
    n, p = stencil.n, stencil.accuracy
    ratio = n * eps * stencil.amplification / (p * abs(stencil.error_coefficient))
    step = float(ratio ** (1.0 / (n + p)))
    if n >= 2:
        step /= math.factorial(n + p) ** (1.0 / (n + p)) / 1.5
    return step


def noise_optimal_step(stencil: Stencil, noise: float, scale_derivative: float) -> float:
    """Absolute step minimising ``|C| h^p D + noise * S / h^n`` where ``D = |f^(n+p)|``.

    With ``noise`` the absolute noise level of ``f`` (standard deviation) and ``D`` an
    estimate of the magnitude of the derivative that drives the truncation error.
    For the forward difference this is ``h = 2 sqrt(noise / |f''|)``; Moré and Wild's
    ``8**(1/4) sqrt(noise/|f''|)`` differs only by accounting for independent errors.
    """
    n, p = stencil.n, stencil.accuracy
    ratio = n * noise * stencil.amplification / (p * abs(stencil.error_coefficient) * scale_derivative)
    return float(ratio ** (1.0 / (n + p)))


def absolute_steps(scale: ArrayLike, relative: float) -> NDArray[np.float64]:
    """``relative * scale`` elementwise, rounded down to a power of two.

    `scale` is the length scale of each column, normally ``max(1, |x|)``. Rounding
    down keeps the truncation error, which has to be estimated, below the rounding
    error, which is known.

    Examples
    --------
    >>> absolute_steps([1.0, 3.0, 1000.0], 2.0**-10)
    array([0.00097656, 0.00195312, 0.5       ])
    """
    h = relative * np.asarray(scale, dtype=np.float64)
    # 2 ** (e - 1) for h = m 2**e with 1/2 <= m < 1: exact, where a logarithm may round up.
    return np.ldexp(0.5, np.frexp(h)[1])


def power_of_two_below(step: NDArray[np.float64]) -> NDArray[np.float64]:
    """The power of two at or below each positive step (0 where the step is not positive)."""
    with np.errstate(divide="ignore"):
        return np.where(step > 0, np.exp2(np.floor(np.log2(np.where(step > 0, step, 1.0)))), 0.0)


def near_the_edge(
    candidates: list[Stencil],
    choice: NDArray[Any],
    step: NDArray[Any],
    minus: NDArray[Any],
    plus: NDArray[Any],
) -> NDArray[Any]:
    """One-sided stencils reaching no further than a quarter of the room on the side they avoid:
    f is often singular at a bound (log, sqrt at 0), which a longer step cannot tell. At the
    bound itself (no room) the step is kept."""
    behind = np.array([max(0.0, float(-s.offsets.min())) for s in candidates])[choice]
    far = np.array([float(np.abs(s.offsets).max()) for s in candidates])[choice]
    blocked = np.where(behind == 0, minus, plus)  # a forward stencil avoids the side behind
    near = np.array([s.kind != "central" for s in candidates])[choice] & (blocked > 0) & np.isfinite(blocked)
    return np.asarray(np.minimum(step, np.where(near, power_of_two_below(blocked / (4 * far)), np.inf)))
