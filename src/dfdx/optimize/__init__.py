"""dfdx inside SciPy: optimizers (:class:`Objective`) and Krylov solvers (:func:`as_linear_operator`).

See docs/optimizers.md for a recipe of each.
"""

from .budget import BudgetExhausted
from .objective import Objective
from .operator import as_linear_operator

__all__ = ["Objective", "BudgetExhausted", "as_linear_operator"]
