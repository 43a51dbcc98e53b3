"""f for SciPy's optimizers: value and derivative from one set of evaluations, counted.

:class:`Objective` wraps f for ``scipy.optimize``: ``minimize(obj, x0, jac=True)`` gets
f(x) and its gradient together, f(x) shared with the gradient's stencil, and every
evaluation of f (the optimizer's and dfdx's) is counted in ``obj.nfev`` and may be
capped by ``budget=``. ``obj.hessp`` and ``obj.hess`` serve the trust-region and
Newton-CG methods. Derivatives come from the public front-ends; f(x) itself is computed
by the evaluator, as everywhere in dfdx.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _validate as v
from .._api import directional, hessian, jacobian
from .._result import Result
from ..engine.dispatch import unchecked
from ..evaluation.evaluator import Evaluator
from .budget import BudgetExhausted, Guard, OutOfBudget, as_budget
from .options import EVALUATION_OPTIONS, check_options

__all__ = ["Objective", "BudgetExhausted"]

#: Points whose value (and derivative) an Objective remembers: the optimizer's current
#: point and the two points of a Hessian-vector product, with one to spare.
CACHE_SIZE = 4


@dataclass
class _Entry:
    """A point the Objective has evaluated: f(x), and the derivative once taken."""

    point: NDArray[Any]
    args: tuple[Any, ...]
    value: NDArray[Any]
    derivative: Any = None
    error: Any = None

    def matches(self, point: NDArray[Any], args: tuple[Any, ...]) -> bool:
        same_args = len(args) == len(self.args) and all(a is b for a, b in zip(args, self.args))
        return same_args and point.shape == self.point.shape and point.tobytes() == self.point.tobytes()


class Objective:
    """f for ``scipy.optimize``: value and derivative from one set of evaluations, counted.

    ``minimize(obj, x0, jac=True)`` receives ``(f(x), gradient)`` from each call, the
    gradient's stencil sharing f(x). ``obj.fun`` and ``obj.jac`` give the two separately
    (``least_squares(obj.fun, x0, jac=obj.jac)``); a derivative at a point whose value was
    just computed reuses it. ``obj.hessp`` and ``obj.hess`` serve ``hessp=`` and ``hess=``.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)``: a scalar (``minimize``) or an array (``least_squares``,
        ``root``).
    args : tuple, optional
        Extra positional arguments of f, used when the optimizer passes none; when it
        passes ``args`` (``minimize(..., args=a)``) those win.
    kwargs : dict, optional
        Keyword arguments of f.
    budget : int, optional
        Most evaluations of f in all (see Notes). An evaluation beyond it is not made:
        :class:`BudgetExhausted` is raised instead, carrying the best point so far. A
        fixed-step derivative that would not fit is not started (its cost is that of the
        previous one); an adaptive one stops at the budget. Not combined with `workers`.
    **options
        Options of :func:`dfdx.jacobian` for the derivative (`method`, `accuracy`,
        `step`, `bounds`, `sparsity`, ...). Without `method`: central differences of
        order 2 (`accuracy` 2 unless given), 2 n evaluations beyond the shared f(x), as
        many as SciPy's '3-point'. ``method='complex'`` costs n for an analytic f, with
        the accuracy of an exact gradient. `vectorized`, `workers`, `bounds` and
        `progress` also apply to Hessians and Hessian-vector products.

    Attributes
    ----------
    method : str
        The stencil of the derivatives.
    nfev : int
        Evaluations of f made so far, every one counted once: each value the optimizer
        asked for, each stencil point of each derivative (Hessians and Hessian-vector
        products included), a vectorized batch counting its points. A value asked for
        again at the same point (and the f(x) a derivative shares) is not recomputed.
    njev, nhev : int
        Gradients (or Jacobians) and Hessians (or Hessian-vector products) computed.

    Methods
    -------
    __call__(x, *args)
        ``(f(x), derivative)``, for ``jac=True``.
    fun(x, *args)
        f(x) alone, a float for a scalar f (``fun=`` of ``least_squares``).
    jac(x, *args)
        The gradient or Jacobian, sharing the f(x) of the last calls (``jac=``).
    hessp(x, p, *args)
        Hessian times p, a central difference of two gradients along p (``hessp=``).
    hess(x, *args)
        The Hessian by :func:`dfdx.hessian` from f alone, f(x) shared (``hess=``).

    Raises
    ------
    TypeError
        For an option dfdx.jacobian does not take.
    ValueError
        For a `budget` that is not a positive integer, or `budget` with `workers`.

    Notes
    -----
    An optimizer needs a few correct digits of the gradient, not thirteen: on the 36
    runs of ``benchmarks/bench_optimizers.py`` central differences of order 2 succeed
    wherever the analytic gradient does, with 0.99 of SciPy 3-point's evaluations;
    forward differences (8 digits) fail the badly scaled problems, and dfdx's default
    order 4 costs twice as much for no more successes.

    SciPy's own ``nfev`` (``maxfun``, ``maxfev``) counts calls of the function it was
    given: with ``jac=True`` each call is f(x) plus a gradient. ``obj.nfev`` is the cost
    in evaluations of f; ``budget`` caps it exactly: f is never called more than
    ``budget`` times.

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> from scipy.optimize import minimize, rosen
    >>> obj = dfdx.Objective(rosen)
    >>> sol = minimize(obj, [-1.2, 1.0], jac=True, method="BFGS")
    >>> bool(np.allclose(sol.x, [1.0, 1.0], atol=1e-5)), obj.nfev == sol.nfev * (1 + 2 * 2)
    (True, True)

    With a budget, the best point so far when it runs out:

    >>> obj = dfdx.Objective(rosen, budget=100)
    >>> try:
    ...     sol = minimize(obj, [-1.2, 1.0], jac=True, method="BFGS")
    ... except dfdx.BudgetExhausted as stop:
    ...     sol = stop.result()
    >>> obj.nfev <= 100, sol.success
    (True, False)
    """

    def __init__(
        self,
        f: Callable[..., Any],
        *,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        budget: int | None = None,
        check: bool = False,
        **options: Any,
    ) -> None:
        v.as_function(f)
        self.check = v.as_flag(check, "check")
        self.f: Callable[..., Any] = functools.partial(f, **kwargs) if kwargs else f
        self.args = args if isinstance(args, tuple) else (args,)
        self.budget = as_budget(budget)
        self.options = check_options(options, self.budget)
        #: The stencil of the derivatives.
        self.method: str = self.options["method"]
        self.evaluation = {k: self.options[k] for k in EVALUATION_OPTIONS if k in self.options}
        self.nfev = self.njev = self.nhev = 0
        self._cost: dict[Any, int] = {}  # evaluations of a fixed-step derivative, once known
        self._cache: list[_Entry] = []
        self._best: tuple[float, NDArray[Any], Any] | None = None

    def __repr__(self) -> str:
        name = getattr(self.f, "__name__", type(self.f).__name__)
        budget = "" if self.budget is None else f", budget={self.budget}"
        return (
            f"Objective({name}, method={self.method!r}{budget}, nfev={self.nfev}, "
            f"njev={self.njev}, nhev={self.nhev})"
        )

    def __call__(self, x: ArrayLike, *args: Any) -> tuple[Any, Any]:
        """``(f(x), derivative)``, for ``jac=True``.

        Examples
        --------
        >>> import numpy as np, dfdx
        >>> obj = dfdx.Objective(lambda x: x[0] ** 2 + 3 * x[1])
        >>> value, grad = obj(np.array([1.0, 2.0]))  # f(x) shared with the stencil
        >>> value, np.round(grad, 9), obj.nfev, obj.method
        (7.0, array([2., 3.]), 5, 'central')
        """
        entry = self._entry(x, args)
        return self._value(entry), self._derivative(entry)

    def fun(self, x: ArrayLike, *args: Any) -> Any:
        """f(x): a float for a scalar f, else an array (remembered for the derivative).

        Examples
        --------
        >>> import numpy as np, dfdx
        >>> obj = dfdx.Objective(lambda x: np.array([x[0] * x[1], x[0] - 1]))
        >>> obj.fun(np.array([2.0, 3.0])), obj.nfev
        (array([6., 1.]), 1)
        """
        return self._value(self._entry(x, args))

    def jac(self, x: ArrayLike, *args: Any) -> Any:
        """The gradient (scalar f) or Jacobian at x, sharing f(x) with :meth:`fun`.

        Examples
        --------
        >>> import numpy as np, dfdx
        >>> obj = dfdx.Objective(lambda x: np.array([x[0] * x[1], x[0] - 1]))
        >>> _ = obj.fun(np.array([2.0, 3.0]))
        >>> np.round(obj.jac(np.array([2.0, 3.0])), 9), obj.nfev  # 1 + 2 n: f(x) shared
        (array([[3., 2.],
               [1., 0.]]), 5)
        """
        return self._derivative(self._entry(x, args))

    def hessp(self, x: ArrayLike, p: ArrayLike, *args: Any) -> NDArray[Any]:
        """Hessian times `p`: the derivative of the gradient along `p` (for ``hessp=``).

        A central difference of two gradients at ``x ± t p``: ``2 (2 n + 1)`` evaluations
        by default, ``2 (n + 1)`` with forward differences. The step grows with
        the relative error of the gradients themselves (their error estimate), as the cube
        root: the difference then loses about a third of the gradients' digits.

        Examples
        --------
        >>> import numpy as np, dfdx
        >>> from scipy.optimize import rosen, rosen_hess
        >>> obj = dfdx.Objective(rosen, method="central")
        >>> x, p = np.array([-1.2, 1.0, 0.5]), np.array([1.0, 0.0, -1.0])
        >>> bool(np.allclose(obj.hessp(x, p), rosen_hess(x) @ p, rtol=1e-5))
        True
        """
        entry = self._scalar(x, args, "hessp")
        g0 = self._derivative(entry)
        direction = np.asarray(p, dtype=np.float64).reshape(entry.point.shape)
        if not np.any(direction):
            return np.zeros(entry.point.shape)
        scale = max(1.0, float(np.max(np.abs(entry.point))))
        size = float(np.max(np.abs(g0)))
        relative = float(np.max(entry.error)) / size if size > 0 else 1.0
        relative = (
            min(max(relative, float(np.finfo(np.float64).eps)), 1e-6) if np.isfinite(relative) else 1e-6
        )
        step = scale * relative ** (1 / 3)
        res = directional(self.jac, entry.point, direction, accuracy=2, step=step, f0=g0, args=entry.args)
        self.nhev += 1
        return np.asarray(res.value)

    def hess(self, x: ArrayLike, *args: Any) -> NDArray[Any]:
        """The Hessian by :func:`dfdx.hessian` from f alone, f(x) shared (for ``hess=``).

        Examples
        --------
        >>> import numpy as np, dfdx
        >>> from scipy.optimize import rosen, rosen_hess
        >>> obj = dfdx.Objective(rosen)
        >>> bool(np.allclose(obj.hess([1.0, 1.0]), rosen_hess([1.0, 1.0]), rtol=1e-9))
        True
        """
        entry = self._scalar(x, args, "hess")
        res = self._run(hessian, entry.point, f0=entry.value, args=entry.args, **self.evaluation)
        self.nhev += 1
        return np.asarray(res.value)

    def _entry(self, x: ArrayLike, args: tuple[Any, ...]) -> _Entry:
        point, args = v.as_point(x), args or self.args
        for i, entry in enumerate(self._cache):
            if entry.matches(point, args):
                self._cache.insert(0, self._cache.pop(i))
                return entry
        self._spend(1)
        ev = Evaluator(self.f, point, vectorized=bool(self.options.get("vectorized")), args=args)
        self.nfev += ev.nfev
        entry = _Entry(point.copy(), args, ev.f0)
        self._cache = [entry, *self._cache[: CACHE_SIZE - 1]]
        self._remember(entry)
        return entry

    def _scalar(self, x: ArrayLike, args: tuple[Any, ...], name: str) -> _Entry:
        entry = self._entry(x, args)
        if entry.value.shape != ():
            raise ValueError(
                f"Objective.{name} needs a scalar f, but f(x) has shape {entry.value.shape}; "
                "for a vector f use obj.jac (least_squares, root)."
            )
        return entry

    @staticmethod
    def _value(entry: _Entry) -> Any:
        return float(entry.value) if entry.value.shape == () else entry.value.copy()

    def _derivative(self, entry: _Entry) -> Any:
        if entry.derivative is None:
            if not np.all(np.isfinite(entry.value)):
                # No derivative where f is not finite (the optimizer rejects such a point).
                entry.derivative = np.full(entry.value.shape + entry.point.shape, np.nan)
                entry.error = entry.derivative
            else:
                res = self._run(jacobian, entry.point, f0=entry.value, args=entry.args, **self.options)
                self.njev += 1
                entry.derivative, entry.error = res.value, res.error
                self._keep_pattern(res)
        value = entry.derivative
        return value.copy() if hasattr(value, "copy") else value

    def _keep_pattern(self, res: Result) -> None:
        """``sparsity='auto'``: the pattern the first derivative detected serves every later one."""
        found = res.sparsity
        if isinstance(self.options.get("sparsity"), str) and found is not None and not found.dense:
            self.options = {**self.options, "sparsity": found.pattern}

    def _run(self, front: Callable[..., Result], point: NDArray[Any], **options: Any) -> Result:
        """``front(f, point, **options)``, its evaluations counted and kept within the budget.

        A fixed-step derivative costs the same at every point: once its cost is known, one
        that would not fit is refused before any evaluation, so none is wasted.
        """
        fixed = front is jacobian and not options.get("adaptive") and options.get("noise") != "auto"
        fixed = fixed and not isinstance(options.get("sparsity"), str)  # detection costs once
        key = (options.get("method"), options.get("accuracy"))
        if fixed and key in self._cost:
            self._spend(self._cost[key])
        checking = contextlib.nullcontext() if self.check else unchecked()
        with checking:
            return self._counted(front, point, fixed, key, options)

    def _counted(
        self, front: Callable[..., Result], point: NDArray[Any], fixed: bool, key: Any, options: Any
    ) -> Result:
        """:meth:`_run` after the budget's check: the call, and its evaluations counted."""
        if self.budget is None:
            res = front(self.f, point, **options)
            used = res.nfev
        else:
            guard = Guard(self.f, self.budget - self.nfev, bool(options.get("vectorized")))
            try:
                res = front(guard, point, **options)
            except OutOfBudget:
                self.nfev += guard.used
                raise self._exhausted() from None
            used = guard.used
        self.nfev += used
        if fixed:
            self._cost[key] = used
        return res

    def _spend(self, k: int) -> None:
        if self.budget is not None and self.nfev + k > self.budget:
            raise self._exhausted()

    def _exhausted(self) -> BudgetExhausted:
        assert self.budget is not None
        if self._best is None:
            return BudgetExhausted(self.budget, self.nfev, None, None)
        return BudgetExhausted(self.budget, self.nfev, self._best[1].copy(), self._best[2])

    def _remember(self, entry: _Entry) -> None:
        merit = float(entry.value) if entry.value.shape == () else 0.5 * float(np.sum(entry.value**2))
        if np.isfinite(merit) and (self._best is None or merit < self._best[0]):
            self._best = (merit, entry.point.copy(), self._value(entry))
