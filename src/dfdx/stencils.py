"""Finite-difference stencils: weights for any derivative order and any offsets.

The public home of :mod:`dfdx.numerics.stencils`, where the implementation lives.
"""

from .numerics.stencils import (
    Stencil,
    backward,
    central,
    complex_step,
    fornberg_weights,
    forward,
    make_stencil,
)

__all__ = [
    "Stencil",
    "fornberg_weights",
    "central",
    "forward",
    "backward",
    "complex_step",
    "make_stencil",
]
