"""The front-ends: derivative, gradient, jacobian, directional, hessian, and jac for SciPy.

Their signatures and documentation are here; each hands its options to
:meth:`~dfdx._options.Options.of` and the call to :mod:`dfdx._calls`, which validates
them once, sets up the evaluation of f and shapes the result. No numerics of their own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from . import _calls
from ._options import Options, document
from ._result import Result

__all__ = ["derivative", "gradient", "jacobian", "hessian", "directional", "jac"]

#: f(x) by the evaluator, through a store: the checker (a peripheral) reaches it here.
value_at = _calls.value_at


@document
def derivative(
    f: Callable[..., Any],
    x: Any,
    *,
    n: int = 1,
    method: str = "central",
    accuracy: int | None = None,
    step: Any = None,
    adaptive: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int | None = None,
    noise: float | str | None = None,
    bounds: Any = None,
    throw: bool = True,
    vectorized: bool = False,
    workers: Any = None,
    progress: bool = False,
    f0: Any = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    store: Any = None,
    max_evals: int | None = None,
) -> Result:
    """`n`-th derivative of a scalar function, elementwise over `x`.

    f is applied to the whole array: ``f(x)[i]`` must depend on ``x[i]`` only
    (NumPy ufuncs and their compositions do). Each stencil point is one call of f.

    Parameters
    ----------
    f : callable
        Elementwise function, ``f(x, *args).shape == x.shape``. For scalar `x`,
        f receives a NumPy float.
    x : float, array_like or pytree
        Point(s) of differentiation, a pytree of them (nested dicts, lists, tuples) or another library's array
        (torch, JAX, array API); see :mod:`dfdx.trees`.
    n : int, optional
        Derivative order, >= 1 (default 1). The complex step gives n = 1 only.
    %(common)s

    %(returns)s
        ``value.shape == x.shape``.

    %(raises)s

    Examples
    --------
    The classic test function of Lyness and Moler at x = 1.5:

    >>> import numpy as np, dfdx
    >>> f = lambda x: np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)
    >>> res = dfdx.derivative(f, 1.5)
    >>> bool(abs(res.value - 4.053427893898620657714) < 1e-10)
    True
    >>> bool(abs(dfdx.derivative(f, 1.5, method="complex").value - 4.0534278938986207) < 1e-15)
    True
    """
    return _calls.derivative(f, x, Options.of(locals()), n)


@document
def gradient(
    f: Callable[..., Any],
    x: Any,
    *,
    method: str = "central",
    accuracy: int | None = None,
    step: Any = None,
    adaptive: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int | None = None,
    noise: float | str | None = None,
    bounds: Any = None,
    throw: bool = True,
    vectorized: bool = False,
    workers: Any = None,
    progress: bool = False,
    f0: Any = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    store: Any = None,
    max_evals: int | None = None,
) -> Result:
    """Gradient of a scalar function ``f: R^n -> R`` at `x`.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returning a scalar; x has the shape of `x`.
    x : array_like or pytree
        Point of differentiation, any shape (integers are taken as floats), a pytree
        of them (nested dicts, lists, tuples) or another library's array (torch, JAX,
        array API); see :mod:`dfdx.trees`.
    %(common)s

    %(returns)s
        ``value.shape == x.shape``.

    %(raises)s

    Notes
    -----
    f may return its scalar as an array of shape ``(1,)``, as NumPy code often does
    (``x @ A @ x`` of a column, ``np.sum(..., keepdims=True)``): it is taken as the scalar.
    The default is the fourth-order central stencil
    ``(f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)) / 12h`` with ``h ~ eps**(1/5) max(1, |x|)``,
    4 evaluations per coordinate. The error estimate adds the rounding error of the
    combination to the truncation error ``h**4 |f^(5)| / 30``, with the fifth derivative
    extrapolated from the third and fourth derivatives that the same five values measure.

    Examples
    --------
    The loss of the seed tutorial, whose gradient at (1, 1) is (-2, 2):

    >>> import numpy as np, dfdx
    >>> def loss(w):
    ...     return (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2
    >>> res = dfdx.gradient(loss, [1.0, 1.0])
    >>> res.value
    array([-2.,  2.])
    >>> bool(np.all(np.abs(res.value - [-2, 2]) <= res.error))
    True
    """
    return _calls.gradient(f, x, Options.of(locals()))


@document
def jacobian(
    f: Callable[..., Any],
    x: Any,
    *,
    method: str = "central",
    accuracy: int | None = None,
    step: Any = None,
    adaptive: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int | None = None,
    noise: float | str | None = None,
    bounds: Any = None,
    throw: bool = True,
    vectorized: bool = False,
    workers: Any = None,
    progress: bool = False,
    f0: Any = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    store: Any = None,
    max_evals: int | None = None,
    sparsity: Any = None,
) -> Result:
    """Jacobian of ``f: R^n -> R^m`` (any input and output shapes) at `x`.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returning an array (or a float, or a pytree when x is one) of the
        same shape at every point.
    x : array_like or pytree
        Point of differentiation, any shape, a pytree of them (nested dicts, lists,
        tuples) or another library's array (torch, JAX, array API); see :mod:`dfdx.trees`.
    %(common)s
    sparsity : 'auto', array_like or scipy.sparse array, optional
        Nonzero pattern of the Jacobian, shape ``(m, n)`` with ``m = f(x).size`` and
        ``n = x.size`` (boolean array or SciPy sparse), or 'auto' to detect and check it
        (docs/sparse.md). Columns without a common nonzero row are perturbed together,
        so a banded Jacobian costs a few stencils in all. `value` and `error` are then
        ``scipy.sparse.csr_array`` with that pattern; ``Result.sparsity`` holds it (to
        pass next time), its colours and why, if so, the Jacobian was computed dense.

    %(returns)s
        ``value.shape == f(x).shape + x.shape``; ``value[i, j] = d f_i / d x_j``.
        With `sparsity`, ``value`` and ``error`` are sparse ``(m, n)`` arrays (on the
        flat vectors for pytrees, whose pattern may also come as nested blocks). For a
        pytree x, ``value[b]`` is the block of leaf b (``f(x).shape + b.shape``); for a
        pytree-valued f, ``value[a][b]``.

    %(raises)s

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> res = dfdx.jacobian(lambda x: np.array([x[0] * x[1], np.sin(x[0])]), [1.0, 2.0])
    >>> np.allclose(res.value, [[2.0, 1.0], [np.cos(1.0), 0.0]], rtol=1e-12, atol=1e-12)
    True
    """
    return _calls.jacobian(f, x, Options.of(locals()), sparsity)


@document
def directional(
    f: Callable[..., Any],
    x: Any,
    v: Any,
    *,
    method: str = "central",
    accuracy: int | None = None,
    step: Any = None,
    adaptive: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int | None = None,
    noise: float | str | None = None,
    bounds: Any = None,
    throw: bool = True,
    vectorized: bool = False,
    workers: Any = None,
    progress: bool = False,
    f0: Any = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    store: Any = None,
    max_evals: int | None = None,
) -> Result:
    """Derivative of f along `v`: ``d/dt f(x + t v)`` at ``t = 0`` (``J v`` for vector f).

    The cost does not depend on the size of x: one stencil along v. Applied to a
    gradient function it gives a Hessian-vector product.

    Parameters
    ----------
    f : callable
        Scalar- or array-valued function of x.
    x : array_like or pytree
        Point of differentiation: an array, a pytree of arrays (nested dicts, lists,
        tuples) or another library's array (torch, JAX, array API); see :mod:`dfdx.trees`.
    v : array_like or pytree
        Direction, the shape (or structure) of x (not normalised: the result scales with v).
    %(common)s

    %(returns)s
        ``value.shape == f(x).shape``; ``step`` is the step in t.

    %(raises)s

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> res = dfdx.directional(lambda x: x[0] ** 2 + np.sin(x[1]), [1.0, 2.0], [1.0, 1.0])
    >>> bool(abs(res.value - (2 + np.cos(2.0))) < 1e-12)
    True
    """
    return _calls.directional(f, x, v, Options.of(locals()))


@document
def hessian(
    f: Callable[..., Any],
    x: Any,
    *,
    grad: Callable[..., Any] | None = None,
    method: str = "central",
    accuracy: int | None = None,
    step: Any = None,
    adaptive: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int | None = None,
    noise: float | str | None = None,
    bounds: Any = None,
    throw: bool = True,
    vectorized: bool = False,
    workers: Any = None,
    progress: bool = False,
    f0: Any = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    store: Any = None,
    max_evals: int | None = None,
    sparsity: Any = None,
) -> Result:
    """Hessian of ``f: R^n -> R`` (of every output of a vector f) at `x`, symmetric by construction.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returning a scalar, or an array (the Hessian of each output).
        Not called when `grad` is given.
    x : array_like or pytree
        Point of differentiation, any shape, a pytree of them (nested dicts, lists,
        tuples) or another library's array (torch, JAX, array API); see :mod:`dfdx.trees`.
    grad : callable, optional
        ``grad(x, *args)`` returning the gradient, an array of x's shape. The Hessian is
        then the symmetrised Jacobian of `grad` (``(J + J.T) / 2``), with `method`,
        `accuracy`, `step`, `f0` (then ``grad(x)``) and the other options applying to
        `grad` (``method='complex'`` then differentiates an analytic `grad`).
    %(common)s
    sparsity : 'auto', array_like or scipy.sparse array, optional
        Nonzero pattern of the Hessian, ``(n, n)``, or 'auto': with `grad` a star
        colouring, from f the pattern's pairs only; `value` and `error` are then
        symmetric ``scipy.sparse.csr_array`` (docs/sparse.md).

    %(returns)s
        ``value.shape == f(x).shape + x.shape + x.shape``; ``step`` holds the step of each
        coordinate (sized for second derivatives when differencing f). For a pytree
        x, ``value[a][b]`` is the block of leaves a and b (``a.shape + b.shape``).

    %(raises)s

    Notes
    -----
    From f alone the diagonal is a second difference along each axis and ``H_ij``
    one along ``h_i e_i + h_j e_j``, from which the diagonal terms are removed:
    ``d^T H d = h_i^2 H_ii + 2 h_i h_j H_ij + h_j^2 H_jj``. By default a probe of each
    axis at a long step (an order-6 rule, which also measures the sixth derivative)
    keeps long steps along axes where f is polynomial and sizes the other steps from
    the measured sixth derivative for the fourth-order rule: 281-286 evaluations for
    n = 10. With `step`, a tight box, the adaptive or noise modes, or another method or
    accuracy, it is ``4 n + 2 n (n - 1)`` beyond ``f(x)`` at steps
    ``~ eps**(1/6) max(1, |x|)``. The error of ``H_ij`` adds the errors of the three
    second differences it is made of. A vector f is differenced at the default steps,
    every output on the same points. ``method='complex'`` (analytic f) takes each
    second derivative along a line u from ``Im[f(x + (1 + i) u) - f(x + (-1 + i) u)] / 2``,
    fourth-order accurate: ``n (n + 1)`` evaluations beyond ``f(x)``, about thirteen
    digits, with ``ESTIMATED_ERROR`` (the error rests on a model of the sixth
    derivative). With `grad`, central differences of an exact gradient give about
    eleven digits and the complex step (analytic `grad`) machine precision.

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> rosen = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    >>> res = dfdx.hessian(rosen, [1.0, 1.0])
    >>> np.allclose(res.value, [[802.0, -400.0], [-400.0, 200.0]], rtol=1e-8)
    True
    >>> bool(np.all(np.abs(res.value - [[802, -400], [-400, 200]]) <= res.error))
    True

    With the gradient and the complex step, to machine precision:

    >>> g = lambda x: np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2),
    ...                         200 * (x[1] - x[0] ** 2)])
    >>> dfdx.hessian(rosen, [1.0, 1.0], grad=g, method="complex").value
    array([[ 802., -400.],
           [-400.,  200.]])
    """
    return _calls.hessian(f, x, Options.of(locals()), grad, sparsity)


_JACOBIAN_OPTIONS = frozenset(inspect.signature(jacobian).parameters) - {"f", "x"}


def jac(f: Callable[..., Any], **options: Any) -> Callable[..., Any]:
    """``x -> jacobian(f, x, **options).value``: dfdx derivatives for SciPy's ``jac=``.

    For a scalar f this is the gradient (``scipy.optimize.minimize``); for a vector f
    the Jacobian (``scipy.optimize.least_squares``, ``root``); with ``sparsity=`` a
    sparse array (``least_squares`` accepts it). With ``sparsity='auto'`` the pattern
    is detected at the first call and reused by the later ones.

    The optimizer calls ``jac(x, *args)`` with its own ``args``: when it passes any,
    they go to f and win over ``args=`` given here, which serve callers that pass none.
    So ``minimize(f, x0, args=a, jac=dfdx.jac(f, args=a))`` works, as does leaving
    ``args`` out of ``jac``. ``kwargs=`` given here always go to f.

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> from scipy.optimize import minimize
    >>> rosen = lambda x, a: (a - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    >>> sol = minimize(rosen, [-1.2, 1.0], args=(1.0,), jac=dfdx.jac(rosen, args=(1.0,)), method="BFGS")
    >>> np.allclose(sol.x, [1.0, 1.0], atol=1e-5)
    True
    """
    unknown = sorted(set(options) - _JACOBIAN_OPTIONS)
    if unknown:
        raise TypeError(
            f"dfdx.jac got unknown option(s) {', '.join(map(repr, unknown))}; it takes the options "
            "of dfdx.jacobian."
        )
    bound = options.pop("args", ())
    bound = bound if isinstance(bound, tuple) else (bound,)
    return _calls.jac_of(jacobian, f, bound, options)
