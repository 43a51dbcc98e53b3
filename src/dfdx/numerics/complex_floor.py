"""Rounding the complex step's one evaluation cannot see in its imaginary part.

The complex step ``Im f(x + ih) / h`` subtracts nothing, so its rounding is that of f's
own arithmetic. Two parts of it are not proportional to the derivative itself:

* f's argument is rounded inside f (``sin(2 pi t / 86400)`` at ``t = 1.7e9``): the
  phase shifts by ``eps |x| w``, an error ``eps |x| |f''|`` in the derivative;
* an imaginary part ``h f'`` in the subnormals (``exp(-700)``) is rounded to their
  fixed spacing, not relatively.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]

# Allowed for where f turns through more than this across |x| (|x| |f'| / |f|: radians
# of an oscillation, e-folds of an exponential); below it, a polynomial's k-fold is
# within the bar already, and widening it doubles the bank's median over-estimate.
TURNS = 100.0
# Near a root of f, f'/f sees the root, not a frequency: the turns are capped, so the
# widest bar is 10 eps 1e8 = 2e-7 of f' (sin at pi), at the cost of one random case.
MAX_TURNS = 1e8
# Ulps of the subnormal spacing allowed per node.
SUBNORMAL_ULPS = 4
# f'^2 / |f| is w^2 |f| cot^2: a model of |f''|, widened as the modelled truncation is.
PHASE_SAFETY = 10.0


def phase(value: Array, absf0: Array, reach: Array, eps: float) -> Array:
    """``eps |x| |f''|`` where f turns more than ``TURNS`` across ``|x|``; ``|f''|`` seen as ``f'^2 / |f|``.

    For ``A sin(w x)``, ``f'^2 / |f|`` is ``w^2 |f| cot^2``: the frequency seen from the
    one value and the one derivative. `value` is ``(ncols, m)``, `absf0` ``(m,)`` and
    `reach` ``max(1, |x|)`` per column; within ``|x| <= 1`` the argument's rounding is
    below ``eps`` and ``f'/f`` would only see roots of f.
    """
    ratio = np.nan_to_num(np.abs(value) / np.where(absf0 > 0, absf0, np.inf), posinf=0.0)
    turns = np.minimum(reach * ratio, MAX_TURNS)
    return np.where((turns > TURNS) & (reach > 1.0), PHASE_SAFETY * eps * turns * np.abs(value), 0.0)


def subnormal(values: Array) -> Array:
    """The absolute rounding of each imaginary part: a few subnormal spacings of its dtype."""
    return np.full_like(values, SUBNORMAL_ULPS * float(np.finfo(values.dtype).smallest_subnormal))
