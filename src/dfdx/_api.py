"""The front-ends: derivative, gradient, jacobian, directional, hessian.

Each validates its arguments once, sets up the one :class:`~dfdx.evaluation.evaluator.Evaluator`,
lays out the columns and hands them to the engine. They hold no numerics of their own.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _validate as v
from ._result import Result
from .engine.dispatch import Call, along_axes, columns_last
from .engine.fixed import clean_or_status, entry_status
from .engine.hessian import hessian_from_f, hessian_from_gradient
from .engine.layouts import Directions, Elementwise
from .engine.sparse import sparse_jacobian

__all__ = ["derivative", "gradient", "jacobian", "directional", "hessian", "jac"]

F = TypeVar("F", bound=Callable[..., Any])

_COMMON = """\
    method : {'central', 'forward', 'backward', 'complex'}, optional
        Finite-difference stencil, or the complex step (f must then accept complex
        input and be analytic: no ``abs``, ``np.real``, ``float()``). Default 'central'.
    accuracy : int, optional
        Order of accuracy of the stencil: even for 'central' and 'complex' (2, 4, 6, 8),
        any positive integer for 'forward' and 'backward'. Default: 4 for 'central'
        (4 evaluations per coordinate, ~13 digits), 1 for 'forward'/'backward',
        2 for 'complex'.
    step : float or array_like, optional
        Absolute step, one for all coordinates or one per coordinate (x's shape).
        Default: automatic, balancing truncation against rounding for the method,
        the order and the dtype (the coarser of x's and f(x)'s), relative to
        ``max(1, |x|)`` and rounded to a power of two so the stencil points are exact.
    throw : bool, optional
        If True (default), a numerical failure (f not finite at stencil points, f not
        differentiable) raises :class:`DifferentiationError` with the partial result
        attached; if False it is reported in ``status`` and ``message``.
    vectorized : bool, optional
        If True, f takes a batch of k points as one array of shape ``x.shape + (k,)``
        and returns ``f(x).shape + (k,)``; the batch is read-only (dfdx reuses it).
        Default False.
    workers : map-like callable, concurrent.futures.Executor or Dask Client, optional
        Where to evaluate f (``map``, ``pool.map``, a thread/process pool, a
        ``dask.distributed.Client`` or its ``get_executor()``). Default: serial.
        Results are identical to serial; ``f(x)`` itself is computed in this process.
    adaptive : bool, optional
        If True, a halving sequence of steps from ``max(1, |x|) / 8`` (or `step`) with
        Richardson extrapolation per coordinate (~15 digits, ~8 evaluations per
        coordinate on smooth f), each coordinate stopping as soon as it meets
        `rtol`/`atol`, reaches its rounding floor, or after `max_steps`; steps far
        above f's scale are detected and skipped. Kinks and jumps of f at x are
        reported as ``NOT_DIFFERENTIABLE``. The stencil (`method`, `accuracy`, default
        the lowest order) gives the quotients that are extrapolated.
    rtol, atol : float, optional
        Tolerances of the adaptive mode: a coordinate stops once its error estimate
        is below ``max(atol, rtol |value|)``. Default: as accurate as the arithmetic
        allows (``rtol = 2**-50``, ``atol = 0``); if you set them and rounding stops
        the sequence short of them, ``status`` is ``ROUNDOFF``.
    max_steps : int, optional
        Most steps of the adaptive sequence per coordinate, 3 to 64 (default 16);
        ``NOT_CONVERGED`` if a coordinate has not settled by then.
    noise : float or 'auto', optional
        Absolute noise level of f (the standard deviation of its noise), or 'auto'
        to estimate it with :func:`dfdx.noise_level` along a fixed random direction
        (a ValueError if no trustworthy level comes out). Steps and `error` then
        follow the noise; ``Result.noise`` reports the level used. Default None
        (f is smooth). Not combined with `adaptive`.
    bounds : (array_like, array_like), optional
        ``(lower, upper)``: f is never evaluated outside; one-sided stencils of the
        same accuracy are used next to a bound.
    progress : bool, optional
        Show a progress bar (tqdm) with evaluations done and an ETA.
    f0 : array_like, optional
        ``f(x)`` if you already have it; it is then not recomputed.
    args : tuple, optional
        Extra positional arguments passed to f after x."""

_RETURNS = """\
    Returns
    -------
    Result
        ``value``, ``error`` (estimate of ``|value - truth|``), ``step``, ``nfev``,
        ``status``, ``message``, ``method``."""

_RAISES = """\
    Raises
    ------
    TypeError, ValueError
        For malformed input (f not callable, x empty or not finite, an unknown
        method, a step that is not positive, f returning the wrong kind of value,
        `bounds` not of x's shape or with lower >= upper, x outside `bounds`, a box
        too tight for any stencil); the message names the argument.
    DifferentiationError
        If f is not finite at the stencil points and ``throw=True``."""


def _doc(func: F) -> F:
    """Fill in the shared sections of a front-end's docstring.

    The docstring is cleaned first (as Python 3.13 does when compiling), so that the
    result is the same text on every Python version.
    """
    if func.__doc__:
        doc = inspect.cleandoc(func.__doc__)
        for key, text in (("%(common)s", _COMMON), ("%(returns)s", _RETURNS), ("%(raises)s", _RAISES)):
            doc = doc.replace(key, textwrap.dedent(text))
        func.__doc__ = doc
    return func


@_doc
def jacobian(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    method: str = "central",
    accuracy: int | None = None,
    step: ArrayLike | None = None,
    adaptive: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int | None = None,
    noise: float | str | None = None,
    bounds: tuple[ArrayLike, ArrayLike] | None = None,
    throw: bool = True,
    vectorized: bool = False,
    workers: Any = None,
    progress: bool = False,
    f0: ArrayLike | None = None,
    args: tuple[Any, ...] = (),
    sparsity: Any = None,
) -> Result:
    """Jacobian of ``f: R^n -> R^m`` (any input and output shapes) at `x`.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returning an array (or a float) of the same shape at every point.
    x : array_like
        Point of differentiation, any shape.
    %(common)s
    sparsity : array_like or scipy.sparse array, optional
        Nonzero pattern of the Jacobian, shape ``(m, n)`` with ``m = f(x).size`` and
        ``n = x.size`` (a boolean array or any SciPy sparse matrix/array). Columns
        without a common nonzero row are perturbed together (Curtis-Powell-Reid), so a
        banded Jacobian costs a few stencils in all, not one per column. `value` and
        `error` are then ``scipy.sparse.csr_array`` of shape ``(m, n)`` with exactly
        that pattern; entries outside it are taken to be zero.

    %(returns)s
        ``value.shape == f(x).shape + x.shape``; ``value[i, j] = d f_i / d x_j``.
        With `sparsity`, ``value`` and ``error`` are sparse ``(m, n)`` arrays.

    %(raises)s

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> res = dfdx.jacobian(lambda x: np.array([x[0] * x[1], np.sin(x[0])]), [1.0, 2.0])
    >>> np.allclose(res.value, [[2.0, 1.0], [np.cos(1.0), 0.0]], rtol=1e-12, atol=1e-12)
    True
    """
    s = Call(
        f,
        x,
        n=1,
        method=method,
        accuracy=accuracy,
        step=step,
        throw=throw,
        adaptive=adaptive,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        noise=noise,
        bounds=bounds,
        vectorized=vectorized,
        workers=workers,
        progress=progress,
        f0=f0,
        args=args,
    )
    if sparsity is not None:
        return _sparse_result(s, sparsity)
    est, h = along_axes(s)
    shape = s.x.shape
    return s.finish(
        columns_last(est.value, shape),
        columns_last(est.error, shape),
        columns_last(entry_status(est), shape),
        h.reshape(shape),
    )


def _sparse_result(s: Call, sparsity: Any) -> Result:
    value, error, entries, h = sparse_jacobian(s, sparsity)
    if not entries.any():
        status = np.zeros(1, dtype=np.int8)
    else:
        status = np.zeros(value.shape, dtype=np.int8)
        coo = value.tocoo()
        status[coo.row, coo.col] = entries
    return s.finish(value, error, status, h.reshape(s.x.shape))


@_doc
def gradient(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    method: str = "central",
    accuracy: int | None = None,
    step: ArrayLike | None = None,
    adaptive: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int | None = None,
    noise: float | str | None = None,
    bounds: tuple[ArrayLike, ArrayLike] | None = None,
    throw: bool = True,
    vectorized: bool = False,
    workers: Any = None,
    progress: bool = False,
    f0: ArrayLike | None = None,
    args: tuple[Any, ...] = (),
) -> Result:
    """Gradient of a scalar function ``f: R^n -> R`` at `x`.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returning a scalar; x has the shape of `x`.
    x : array_like
        Point of differentiation, any shape (integers are taken as floats).
    %(common)s

    %(returns)s
        ``value.shape == x.shape``.

    %(raises)s

    Notes
    -----
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
    s = Call(
        f,
        x,
        n=1,
        method=method,
        accuracy=accuracy,
        step=step,
        throw=throw,
        adaptive=adaptive,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        noise=noise,
        bounds=bounds,
        vectorized=vectorized,
        workers=workers,
        progress=progress,
        f0=f0,
        args=args,
    )
    if s.ev.out_shape != ():
        raise ValueError(
            f"`f` must return a scalar for gradient, but f(x) has shape {s.ev.out_shape}; "
            "use dfdx.jacobian for vector-valued f."
        )
    est, h = along_axes(s)
    shape = s.x.shape
    status = clean_or_status(est)
    return s.finish(
        est.value.reshape(shape),
        est.error.reshape(shape),
        None if status is None else status.reshape(shape),
        h.reshape(shape),
    )


@_doc
def derivative(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    n: int = 1,
    method: str = "central",
    accuracy: int | None = None,
    step: ArrayLike | None = None,
    adaptive: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int | None = None,
    noise: float | str | None = None,
    bounds: tuple[ArrayLike, ArrayLike] | None = None,
    throw: bool = True,
    vectorized: bool = False,
    workers: Any = None,
    progress: bool = False,
    f0: ArrayLike | None = None,
    args: tuple[Any, ...] = (),
) -> Result:
    """`n`-th derivative of a scalar function, elementwise over `x`.

    f is applied to the whole array: ``f(x)[i]`` must depend on ``x[i]`` only
    (NumPy ufuncs and their compositions do). Each stencil point is one call of f.

    Parameters
    ----------
    f : callable
        Elementwise function, ``f(x, *args).shape == x.shape``. For scalar `x`,
        f receives a NumPy float.
    x : float or array_like
        Point(s) of differentiation.
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
    order = v.as_order(n)
    s = Call(
        f,
        x,
        n=order,
        method=method,
        accuracy=accuracy,
        step=step,
        throw=throw,
        adaptive=adaptive,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        noise=noise,
        bounds=bounds,
        vectorized=vectorized,
        workers=workers,
        progress=progress,
        f0=f0,
        args=args,
    )
    if s.ev.out_shape != s.x.shape:
        raise ValueError(
            f"`f` must be elementwise for derivative: f(x) has shape {s.ev.out_shape} but x has "
            f"shape {s.x.shape}. For f: R^n -> R use dfdx.gradient; for R^n -> R^m, dfdx.jacobian."
        )
    est, h = s.run(Elementwise(s.x))
    shape = s.x.shape
    return s.finish(
        est.value.reshape(shape), est.error.reshape(shape), entry_status(est).reshape(shape), h.reshape(shape)
    )


@_doc
def directional(
    f: Callable[..., Any],
    x: ArrayLike,
    v: ArrayLike,
    *,
    method: str = "central",
    accuracy: int | None = None,
    step: float | None = None,
    adaptive: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int | None = None,
    noise: float | str | None = None,
    bounds: tuple[ArrayLike, ArrayLike] | None = None,
    throw: bool = True,
    vectorized: bool = False,
    workers: Any = None,
    progress: bool = False,
    f0: ArrayLike | None = None,
    args: tuple[Any, ...] = (),
) -> Result:
    """Derivative of f along `v`: ``d/dt f(x + t v)`` at ``t = 0`` (``J v`` for vector f).

    The cost does not depend on the size of x: one stencil along v. Applied to a
    gradient function it gives a Hessian-vector product.

    Parameters
    ----------
    f : callable
        Scalar- or array-valued function of x.
    x : array_like
        Point of differentiation.
    v : array_like
        Direction, the shape of x (not normalised: the result scales with v).
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
    s = Call(
        f,
        x,
        n=1,
        method=method,
        accuracy=accuracy,
        step=step,
        throw=throw,
        adaptive=adaptive,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        noise=noise,
        bounds=bounds,
        vectorized=vectorized,
        workers=workers,
        progress=progress,
        f0=f0,
        args=args,
    )
    direction = v_as_direction(v, s.x)
    # Along v / max|v|, then scaled back: the derivative is linear in v, and a tiny or
    # huge v would otherwise put the step out of range.
    size = float(np.max(np.abs(direction)))
    est, h = s.run(Directions(s.x, direction.ravel()[None, :] / size))
    return s.finish(est.value[0] * size, est.error[0] * size, entry_status(est)[0], h[0] / size)


def v_as_direction(vec: Any, x: NDArray[Any]) -> NDArray[np.float64]:
    direction = v.as_point(vec, "v").astype(np.float64)
    if direction.shape != x.shape:
        raise ValueError(f"`v` must have x's shape {x.shape}, got {direction.shape}.")
    if not np.any(direction):
        raise ValueError("`v` must be a nonzero direction.")
    return direction


@_doc
def hessian(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    grad: Callable[..., Any] | None = None,
    method: str = "central",
    accuracy: int | None = None,
    step: ArrayLike | None = None,
    adaptive: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int | None = None,
    noise: float | str | None = None,
    bounds: tuple[ArrayLike, ArrayLike] | None = None,
    throw: bool = True,
    vectorized: bool = False,
    workers: Any = None,
    progress: bool = False,
    f0: ArrayLike | None = None,
    args: tuple[Any, ...] = (),
) -> Result:
    """Hessian of a scalar function ``f: R^n -> R`` at `x`, symmetric by construction.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returning a scalar. Not called when `grad` is given.
    x : array_like
        Point of differentiation, any shape.
    grad : callable, optional
        ``grad(x, *args)`` returning the gradient, an array of x's shape. The Hessian is
        then the symmetrised Jacobian of `grad` (``(J + J.T) / 2``), with `method`,
        `accuracy`, `step`, `f0` (then ``grad(x)``) and the other options applying to
        `grad`; ``method='complex'`` needs this.
    %(common)s

    %(returns)s
        ``value.shape == x.shape + x.shape``; ``step`` holds the step of each
        coordinate (sized for second derivatives when differencing f).

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
    second differences it is made of. With `grad`, central differences of an exact
    gradient give about eleven digits and the complex step (analytic `grad`)
    machine precision.

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
    options = dict(
        method=method,
        accuracy=accuracy,
        step=step,
        throw=throw,
        adaptive=adaptive,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        noise=noise,
        bounds=bounds,
        vectorized=vectorized,
        workers=workers,
        progress=progress,
        f0=f0,
        args=args,
    )
    v.as_function(f)
    if grad is not None:
        s = Call(v.as_function(grad, "grad"), x, n=1, **options)
        value, error, status, h = hessian_from_gradient(s)
    else:
        if method == "complex":
            raise ValueError(
                "method='complex' needs the gradient for hessian: pass `grad=` (the complex step "
                "then differentiates it), or use method='central' to difference f alone."
            )
        s = Call(f, x, n=2, **options)
        if s.ev.out_shape != ():
            raise ValueError(
                f"`f` must return a scalar for hessian, but f(x) has shape {s.ev.out_shape}; "
                "differentiate each component, or use dfdx.jacobian of its gradient."
            )
        value, error, status, h = hessian_from_f(s)
    shape = s.x.shape + s.x.shape
    return s.finish(value.reshape(shape), error.reshape(shape), status.reshape(shape), h.reshape(s.x.shape))


def jac(f: Callable[..., Any], **options: Any) -> Callable[..., Any]:
    """``x -> jacobian(f, x, **options).value``: dfdx derivatives for SciPy's ``jac=``.

    For a scalar f this is the gradient (``scipy.optimize.minimize``); for a vector f
    the Jacobian (``scipy.optimize.least_squares``, ``root``); with ``sparsity=`` a
    sparse array (``least_squares`` accepts it).

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> from scipy.optimize import minimize
    >>> rosen = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    >>> sol = minimize(rosen, [-1.2, 1.0], jac=dfdx.jac(rosen), method="BFGS")
    >>> np.allclose(sol.x, [1.0, 1.0], atol=1e-5)
    True
    """

    def derivative_of_f(x: NDArray[Any], *args: Any) -> Any:
        value = jacobian(f, x, args=args, **options).value
        return value if hasattr(value, "tocsr") else np.asarray(value)  # sparse stays sparse

    return derivative_of_f
