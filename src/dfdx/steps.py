"""Step-size rules. Pure functions: no function of the user's is called here.

The public home of :mod:`dfdx.numerics.steps`, where the implementation lives.
"""

from .numerics.steps import (
    COMPLEX_STEP,
    absolute_steps,
    noise_optimal_step,
    relative_step,
    unit_roundoff,
)

__all__ = [
    "unit_roundoff",
    "relative_step",
    "absolute_steps",
    "noise_optimal_step",
    "COMPLEX_STEP",
]
