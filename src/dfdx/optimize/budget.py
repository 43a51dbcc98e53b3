"""The evaluation budget of an :class:`~dfdx.optimize.objective.Objective`: the guard and the exception."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from scipy.optimize import OptimizeResult  # type: ignore[import-untyped]

__all__ = ["BudgetExhausted", "OutOfBudget", "Guard", "as_budget"]


class BudgetExhausted(RuntimeError):
    """Raised by an :class:`Objective` when the next evaluation would exceed its budget.

    f was called at most ``budget`` times. ``x`` and ``fun`` are the best point the
    optimizer was given a value at (lowest f, or lowest ``sum(f**2) / 2`` for a vector f),
    None if there is none; :meth:`result` packs them as an ``OptimizeResult``.

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> obj = dfdx.Objective(lambda x: x @ x, budget=7, method="central", accuracy=2)
    >>> obj.fun(np.array([1.0, 2.0])), obj.jac(np.array([1.0, 2.0])), obj.nfev  # 1 + 2 n
    (5.0, array([2., 4.]), 5)
    >>> obj.fun(np.array([0.5, 0.0]))
    0.25
    >>> try:
    ...     obj.jac(np.array([0.5, 0.0]))  # needs 4 more evaluations, 1 is left
    ... except dfdx.BudgetExhausted as stop:
    ...     print(stop.nfev, stop.x, stop.fun, stop.result().success)
    6 [0.5 0. ] 0.25 False
    """

    def __init__(self, budget: int, nfev: int, x: NDArray[Any] | None, fun: Any) -> None:
        super().__init__(
            f"the budget of {budget} evaluations of f is exhausted ({nfev} made; the next step "
            "needs more). The best point so far is in .x and .fun, or .result()."
        )
        self.budget, self.nfev, self.x, self.fun = budget, nfev, x, fun

    def result(self) -> OptimizeResult:
        """The best point so far as a ``scipy.optimize.OptimizeResult`` (``success=False``)."""
        from scipy.optimize import OptimizeResult

        return OptimizeResult(
            x=self.x, fun=self.fun, nfev=self.nfev, success=False, status=-1, message=str(self)
        )


class OutOfBudget(Exception):
    """Raised by :class:`Guard` inside dfdx; the Objective turns it into BudgetExhausted."""


class Guard:
    """f, refusing any evaluation beyond `left` (counted in this process)."""

    def __init__(self, f: Callable[..., Any], left: int, vectorized: bool) -> None:
        self.f, self.left, self.vectorized, self.used = f, left, vectorized, 0

    def __call__(self, x: NDArray[Any], *args: Any) -> Any:
        k = x.shape[-1] if self.vectorized else 1
        if self.used + k > self.left:
            raise OutOfBudget
        self.used += k
        return self.f(x, *args)


def as_budget(budget: Any) -> int | None:
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"`budget` must be a positive integer (evaluations of f), got {budget!r}.")
    return int(budget)
