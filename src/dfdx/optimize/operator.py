"""The Jacobian as a ``scipy.sparse.linalg.LinearOperator`` whose products are directional derivatives."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _validate as v
from .._api import directional, jacobian
from ..evaluation.evaluator import Evaluator

if TYPE_CHECKING:
    from scipy.sparse.linalg import LinearOperator  # type: ignore[import-untyped]

__all__ = ["as_linear_operator"]


class _Products:
    """Jacobian-vector products at a fixed x, by directional derivatives."""

    def __init__(self, f: Callable[..., Any], x: ArrayLike, args: tuple[Any, ...], options: dict[str, Any]):
        self.f, self.x, self.args, self.options = f, v.as_point(x), args, options
        ev = Evaluator(f, self.x, vectorized=bool(options.get("vectorized")), args=args)
        self.f0: NDArray[Any] = ev.f0
        self.nfev = ev.nfev
        self.jacobian: Any = None

    def matvec(self, vec: NDArray[Any]) -> NDArray[Any]:
        vec = np.asarray(vec).reshape(-1)
        if np.iscomplexobj(vec):  # J is real: J (a + ib) = J a + i J b
            return self.matvec(vec.real) + 1j * self.matvec(vec.imag)
        if self.jacobian is not None:
            return np.asarray(self.jacobian @ vec)
        if not np.any(vec):
            return np.zeros(self.f0.size)
        res = directional(
            self.f, self.x, vec.reshape(self.x.shape), f0=self.f0, args=self.args, **self.options
        )
        self.nfev += res.nfev
        return np.asarray(res.value).reshape(-1)

    def rmatvec(self, vec: NDArray[Any]) -> NDArray[Any]:
        if self.jacobian is None:
            res = jacobian(self.f, self.x, f0=self.f0, args=self.args, **self.options)
            self.nfev += res.nfev
            self.jacobian = np.asarray(res.value).reshape(self.f0.size, self.x.size)
        return np.asarray(self.jacobian.T @ np.asarray(vec).reshape(-1))


def as_linear_operator(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> LinearOperator:
    """The Jacobian of f at x as a ``scipy.sparse.linalg.LinearOperator``.

    ``op @ v`` (``matvec``) is the directional derivative ``J v`` by
    :func:`dfdx.directional`: one stencil, whatever the size of x (4 evaluations by
    default, 1 with ``method='forward'`` or ``'complex'``), f(x) computed once here and
    shared. For Krylov solvers that need only products (``gmres``, ``bicgstab``,
    ``minres``): the Jacobian is never formed.

    ``op.T @ u`` (``rmatvec``, which ``lsqr`` and ``lsmr`` need) is ``J^T u``, which
    differences cannot give for less than the whole Jacobian: the first call computes it
    with :func:`dfdx.jacobian` (n stencils) and keeps it; later products of either kind are
    then products with it and cost nothing.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)``, a scalar or an array.
    x : array_like
        The point; the operator maps ``x.size`` to ``f(x).size`` (flattened).
    args, kwargs : optional
        Extra arguments of f.
    **options
        Options of :func:`dfdx.directional` (`method`, `accuracy`, `step`, ...), also used
        for the Jacobian behind ``rmatvec``.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        Of shape ``(f(x).size, x.size)``, dtype float64; ``op.nfev`` counts the
        evaluations of f made so far (f(x) included).

    Raises
    ------
    TypeError, ValueError
        As :func:`dfdx.directional` does, for f, x and the options.

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> f = lambda x: np.array([x[0] ** 2 * x[1], 5 * x[0] + np.sin(x[1])])
    >>> op = dfdx.as_linear_operator(f, [1.0, 2.0])
    >>> np.allclose(op @ np.array([1.0, 0.0]), [4.0, 5.0], rtol=1e-12)
    True
    >>> from scipy.sparse.linalg import gmres
    >>> s, info = gmres(op, np.array([1.0, 1.0]), rtol=1e-12)
    >>> info, bool(np.allclose([[4, 1], [5, np.cos(2.0)]] @ s, [1.0, 1.0]))
    (0, True)
    """
    func = functools.partial(f, **kwargs) if kwargs else v.as_function(f)
    products = _Products(func, x, args if isinstance(args, tuple) else (args,), options)
    return _operator_class()(products)


@functools.cache
def _operator_class() -> Any:
    """The LinearOperator subclass, made on first use (scipy.sparse.linalg loads then)."""
    from scipy.sparse.linalg import LinearOperator

    class JacobianOperator(LinearOperator):  # type: ignore[misc]
        def __init__(self, products: _Products) -> None:
            super().__init__(np.float64, (products.f0.size, products.x.size))
            self.products = products

        def _matvec(self, vec: NDArray[Any]) -> NDArray[Any]:
            return self.products.matvec(vec)

        def _rmatvec(self, vec: NDArray[Any]) -> NDArray[Any]:
            return self.products.rmatvec(vec)

        @property
        def nfev(self) -> int:
            """Evaluations of f made so far, f(x) included."""
            return self.products.nfev

    return JacobianOperator
