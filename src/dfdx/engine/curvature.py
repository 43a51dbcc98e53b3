"""What f's second differences say: its noise, its kinks, and a check's truncation.

Pure arithmetic on the values of f that the fixed-step verification
(:mod:`dfdx.engine.verify`) has already computed: the stencil's and its check's second
differences ``f(a) - 2 f(b) + f(c)`` on three nodes one step apart. Curvature makes them
grow like ``h^2``, noise leaves them the same at any step, a kink makes them grow like
``h``.

Every function here runs under the caller's ``np.errstate(all="ignore")``
(:func:`dfdx.engine.verify.verified_step`): NaN and inf are the estimates' to carry.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..evaluation.evaluator import Evaluator
from ..numerics.error_model import tables
from ..numerics.stencils import Stencil

__all__ = ["second_differences", "kinks", "noise_level", "check_truncation", "finite"]

Array = NDArray[Any]

#: f's noise as measured from two second differences, times this, counts in the bars.
NOISE_SAFETY = 3.0
#: ... where it stands this far above the rounding bound of the second differences.
NOISE_FLOOR = 16.0
#: ... and below this fraction of |f(x)|.
NOISE_MAX = 1e-3
#: A second difference is measured when it stands this far above its rounding bound.
KINK_SIGNIFICANCE = 64.0
#: Exponents of the step between which the second difference shrinks like a kink's (h^1)
#: or a cusp's (sqrt|x|: h^0.5), and how closely two pairs of steps must agree on it.
KINK_LOW, KINK_EXPONENT, KINK_AGREEMENT = 0.25, 1.5, 0.3


#: Nodes of the second difference each kind of stencil shares with its check.
_SECOND = {"central": (-1.0, 0.0, 1.0), "forward": (0.0, 1.0, 2.0), "backward": (-2.0, -1.0, 0.0)}


def finite(a: Array, nan: float = 0.0, posinf: float | None = None) -> Array:
    """:func:`numpy.nan_to_num` of a float array, skipped (the array itself) where all is finite."""
    if np.isfinite(a).all():
        return a
    return np.asarray(np.nan_to_num(a, nan=nan, posinf=posinf))


def second_differences(
    ev: Evaluator, stencil: Stencil, values: Array, spread: float = 1.0
) -> tuple[Array, Array]:
    """``f(a) - 2 f(b) + f(c)`` on the stencil's three nodes ``a, b, c`` `spread` steps
    apart, per entry, and its rounding bound (NaN where the stencil lacks them)."""
    where = _nodes(stencil, spread)
    if where is None:
        shape = (values.shape[0], values.shape[2])
        return np.full(shape, np.nan), np.full(shape, np.inf)
    f0 = ev.f0.reshape(-1).astype(np.float64)
    a, b, c = (f0 if k < 0 else values[:, k].real for k in where)
    second = a - 2 * b + c
    bound = 2.2e-16 * (np.abs(a) + 2 * np.abs(b) + np.abs(c))
    return np.asarray(second), np.asarray(bound)


@lru_cache(maxsize=256)
def _nodes(stencil: Stencil, spread: float) -> tuple[int, int, int] | None:
    """Where the second difference's nodes sit among the stencil's values (-1: f(x)), or None."""
    offsets = tables(stencil).offsets.tolist()
    nodes = tuple(spread * o for o in _SECOND.get(stencil.kind, ()))
    if not nodes or any(o != 0 and o not in offsets for o in nodes):
        return None
    a, b, c = (-1 if o == 0 else offsets.index(o) for o in nodes)
    return a, b, c


def kinks(second: tuple[Array, ...], steps: tuple[Array, Array]) -> Array:
    """Entries whose second difference shrinks like ``h^q``, ``q`` well below 2 (a kink: 1).

    Three second differences (at the check's step, the stencil's and twice it) must give
    the same ``q``: noise, which also makes second differences of any size, does not.
    """
    s1, b1, s2, b2, s3 = second
    h1, h2 = steps[0][:, None], steps[1][:, None]
    measured = (np.abs(s1) > KINK_SIGNIFICANCE * b1) & (np.abs(s2) > KINK_SIGNIFICANCE * b2)
    near = np.log(s1 / s2) / np.log(h1 / h2)
    far = np.log(s3 / s1) / np.log(2.0)
    same = (s1 * s2 > 0) & (np.abs(near - far) < KINK_AGREEMENT)
    # Without a third difference (second-order stencils) only a clean kink, h^1, is read.
    alone = np.isnan(s3) & (s1 * s2 > 0) & (np.abs(near - 1.0) < KINK_AGREEMENT / 2)
    return np.asarray(measured & (same & (near > KINK_LOW) & (near < KINK_EXPONENT) | alone))


def noise_level(second: tuple[Array, ...], ratio: Array, central: bool, level: Array) -> Array:
    """f's own noise per entry, times NOISE_SAFETY, from the second differences (0 if not seen).

    `second` holds the stencil's second difference and its rounding bound, the check's
    and its bound, and the stencil's at twice its step; `ratio` is the check's step over
    the stencil's. Curvature grows like h^2 and noise does not, so what the check's
    second difference does not share with the stencil's (scaled to its step) is noise --
    unless it exceeds NOISE_MAX of ``|f(x)|`` (`level`): then f varies on a scale the steps
    do not resolve, which no error bar can stand for.
    """
    # The stencil's curvature, its h^4 term removed with the difference at 2h if it has one.
    # (Central differences expand in h^2, h^4; one-sided ones in h^2, h^3.)
    extrapolated = (16 * second[0] - second[4]) / 12 if central else (8 * second[0] - second[4]) / 4
    curvature = np.where(np.isnan(second[4]), second[0], extrapolated)
    sigma = finite(np.abs(second[2] - curvature * ratio**2), nan=0.0)
    # Only where the stencil's own second differences grow like h^2 from h to 2h: then
    # the curvature is resolved and what the check's does not share is noise.
    # (Without a difference at 2h, curvature cannot be told from noise: none is read.)
    resolved = np.abs(second[4] / second[0] - 4.0) < 1.2
    # Plain rounding is modelled already, and the stencil's higher-order terms (what
    # separates its differences at h and 2h from h^2 growth) are not noise.
    higher = finite(np.abs(second[4] - 4 * second[0]), nan=0.0) * ratio**2
    above = sigma > NOISE_FLOOR * (second[1] * ratio**2 + second[3]) + higher
    above &= sigma <= NOISE_MAX * level
    return np.asarray(np.where(resolved & above, NOISE_SAFETY * sigma, 0.0))


def check_truncation(
    stencil: Stencil, check: Stencil, values: Array, ev: Evaluator, h1: Array, h2: Array
) -> Array:
    """The check's truncation error from the derivative that drives it, as the stencil measures it.

    A low-order check measures too few orders to see its own truncation where the even
    or odd derivatives vanish (x^3 at 0); the stencil's values measure more.
    """
    t = tables(stencil)
    order = check.n + check.accuracy
    row = _order_row(stencil, order)
    if row < 0:
        return np.zeros((values.shape[0], values.shape[2]))
    diffs = values.real - ev.f0.reshape(-1).astype(np.float64)
    hh1, hh2 = np.reshape(h1, (-1, 1)), np.reshape(h2, (-1, 1))
    if hh1.shape[0] != values.shape[0]:  # one column: steps per element, one per output
        hh1, hh2 = hh1.reshape(1, -1), hh2.reshape(1, -1)
    derivative = np.abs((t.signed[1 + row] * diffs).sum(axis=1)) / hh1**order
    bound = 3.0 * abs(check.error_coefficient) * hh2**check.accuracy * derivative
    return finite(np.asarray(bound), nan=0.0, posinf=0.0)


@lru_cache(maxsize=256)
def _order_row(stencil: Stencil, order: int) -> int:
    """The row of `order` among the orders the stencil measures (-1 if it does not)."""
    rows = np.flatnonzero(tables(stencil).orders == order)
    return int(rows[0]) if rows.size else -1
