"""dfdx: derivatives of code you cannot differentiate by hand, with honest error estimates.

Front-ends take ``f`` and ``x`` first and options by keyword, and all return a
:class:`Result` (``value``, ``error``, ``step``, ``nfev``, ``status``, ``message``,
``method``)::

    >>> import dfdx
    >>> res = dfdx.gradient(lambda w: (2*w[0] + 3*w[1] - 5)**2 + (w[0] - w[1] - 1)**2, [1.0, 1.0])
    >>> res.value
    array([-2.,  2.])
"""

from ._api import derivative, directional, gradient, hessian, jac, jacobian
from ._result import DifferentiationError, Provenance, Result, Sparsity, Status
from .check import CheckReport, assert_gradient, check_gradient, check_jacobian
from .evaluation.pools import WorkerError
from .evaluation.store import Store, StoreError
from .noise import NoiseLevel, noise_level
from .optimize import BudgetExhausted, Objective, as_linear_operator

__all__ = [
    "derivative",
    "gradient",
    "jacobian",
    "hessian",
    "directional",
    "jac",
    "Result",
    "Sparsity",
    "Status",
    "DifferentiationError",
    "WorkerError",
    "Store",
    "StoreError",
    "Provenance",
    "check_gradient",
    "check_jacobian",
    "assert_gradient",
    "CheckReport",
    "noise_level",
    "NoiseLevel",
    "Objective",
    "BudgetExhausted",
    "as_linear_operator",
]

__version__ = "0.1.0"
