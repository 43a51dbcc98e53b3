"""Richardson extrapolation tableaux and their error estimates. Pure: f is never called.

The public home of :mod:`dfdx.numerics.richardson`, where the implementation lives.
"""

from .numerics.richardson import (
    abs_coefficients,
    coefficients,
    expansion_spacing,
    next_row,
    ridders_error,
    row_changes,
    row_errors,
    row_truncation,
    same_order_error,
    tableau,
)

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
]
