"""The options of an Objective: which are dfdx.jacobian's, and the default stencil."""

from __future__ import annotations

import inspect
from typing import Any

from .._api import jacobian

__all__ = ["DEFAULT_STENCIL", "EVALUATION_OPTIONS", "check_options"]

#: The derivative of an optimizer's objective when no `method` is given: central
#: differences of order 2, 2 n evaluations beyond the shared f(x), as many as SciPy's
#: '3-point' (``benchmarks/bench_optimizers.py`` measures the choices).
DEFAULT_STENCIL: dict[str, Any] = {"method": "central", "accuracy": 2}

#: Options of the front-ends that say how f is evaluated; Hessians use them too.
EVALUATION_OPTIONS = ("vectorized", "workers", "bounds", "progress")


def check_options(options: dict[str, Any], budget: int | None) -> dict[str, Any]:
    """The options for dfdx.jacobian, the default stencil filled in when no method is given."""
    allowed = set(inspect.signature(jacobian).parameters) - {"f", "x", "f0", "args", "kwargs"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(
            f"Objective got unknown option(s) {', '.join(map(repr, unknown))}; it takes those of "
            f"dfdx.jacobian: {', '.join(sorted(allowed))}."
        )
    if budget is not None and options.get("workers") is not None:
        raise ValueError(
            "`budget` counts evaluations as they are made in this process, and `workers` makes "
            "them elsewhere: drop one of them (obj.nfev still counts every evaluation with workers)."
        )
    if "method" not in options:
        return {**DEFAULT_STENCIL, **options}
    return options
