"""Checking analytic gradients and Jacobians against dfdx's numerical ones.

The checker sits on the public front-ends (:func:`dfdx.jacobian`, :func:`dfdx.directional`)
and judges every entry with a tolerance built from dfdx's own error estimate of the
numerical side, plus a round-off floor for the analytic side in the working dtype. An
entry is called wrong only when every numerical estimate that could vouch for it
disagrees; where the one-sided slopes of f differ (a kink) it is reported as not
differentiable rather than wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validate import as_kwargs
from .directional import directional_check
from .options import Options, make_options
from .problem import setup
from .report import CheckReport
from .verdicts import judge_columns

__all__ = ["check_gradient", "check_jacobian", "assert_gradient", "CheckReport"]

Array = NDArray[Any]


def check_gradient(
    f: Callable[..., Any],
    grad: Callable[..., Any],
    x: ArrayLike,
    *,
    mode: str = "full",
    directions: int = 3,
    seed: int | None = None,
    tolerance_factor: float = 2.0,
    rtol: float = 0.0,
    atol: float = 0.0,
    kinks: str = "report",
    dtype: Any = None,
    method: str = "central",
    accuracy: int | None = None,
    step: ArrayLike | None = None,
    adaptive: bool = False,
    max_steps: int | None = None,
    noise: float | str | None = None,
    progress: bool = False,
    vectorized: bool = False,
    workers: Any = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    store: Any = None,
    show: int = 8,
) -> CheckReport:
    """Check an analytic gradient against dfdx's numerical one; ``report.passed`` is the verdict.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returning a scalar.
    grad : callable
        ``grad(x, *args)`` returning the gradient under test, an array of x's shape.
    x : array_like
        The point at which to check.
    mode : {'full', 'directional'}, optional
        'full' (default) checks every entry (4 evaluations of f per coordinate with the
        default stencil). 'directional' draws `directions` random Gaussian directions
        ``v`` and compares ``grad(x) . v`` with the derivative of f along ``v`` (2
        evaluations each, whatever the size of x); on a disagreement it narrows it down
        to the wrong entries by bisection over blocks of coordinates.
    directions : int, optional
        Number of random directions of the directional mode (default 3).
    seed : int, optional
        Seed of the random directions; drawn at random and reported if None.
    tolerance_factor : float, optional
        Multiplies the estimated tolerance of every entry (default 2): below 1 tightens
        the check, above 1 loosens it. 0 with `rtol`/`atol` gives a fixed tolerance.
    rtol, atol : float, optional
        Loosen the check: an extra allowance ``atol + rtol |analytic|`` added to every
        entry's tolerance, e.g. for an analytic gradient known to be approximate.
        Default 0. They are not the tolerances of the adaptive mode (``adaptive=True``
        uses that mode's defaults).
    kinks : {'report', 'accept'}, optional
        Where the one-sided slopes of f differ (relu or abs at 0, a max with ties):
        'report' (default) calls the check inconclusive there; 'accept' accepts any
        analytic value between the one-sided slopes (a subgradient).
    dtype : dtype, optional
        Precision that f and grad compute in, if coarser than x, f(x) and grad(x) show
        (e.g. float32 code returning Python floats). Default: the coarsest of those.
    method, accuracy, step, vectorized, workers, args, kwargs
        As for :func:`dfdx.gradient`: the numerical side of a full check (and of the
        entries a directional check narrows down to). `args` and `kwargs` go to grad too.
    adaptive, max_steps, noise, progress : optional
        As for :func:`dfdx.gradient`, passed on to the numerical side: ``adaptive=True``
        computes it with shrinking steps and Richardson extrapolation (at most
        `max_steps` steps per coordinate), `noise` declares (a float) or estimates
        (``'auto'``) the noise level of f, so that its error estimates, and hence the
        tolerances, include it; ``progress=True`` shows a progress bar. The directional
        derivatives of a directional check get the same options.
    store : str or dfdx.Store, optional
        As for :func:`dfdx.gradient`: f(x) and every evaluation of f at whole points
        (the full pass, the directional derivatives) are read from the store where
        recorded and recorded there otherwise, so that a check after
        ``dfdx.gradient(f, x, store=s)`` with the same options re-evaluates no point.
        Not with a `dtype` coarser than f's values.
    show : int, optional
        Number of entries listed in ``str(report)`` (default 8).

    Returns
    -------
    CheckReport
        ``passed``, ``verdict``, the worst entries with analytic and numerical values,
        errors, tolerances and agreeing digits, evaluation counts, the seed; ``str`` is
        the human report and ``to_dict()`` the same for machines.

    Raises
    ------
    TypeError, ValueError
        For an option out of range, f not finite (or not scalar) at x, grad returning
        the wrong shape or a NaN/inf, f undefined on both sides of x.

    Notes
    -----
    Entry ``i`` passes when ``|g_i - d_i| <= tolerance_factor * (e_i + r_i) + atol +
    rtol |g_i|``, with ``g`` the analytic and ``d`` the numerical gradient, ``e_i`` dfdx's
    error estimate of ``d_i`` and ``r_i = 8 eps (|g_i| + max_j |g_j|)`` the round-off the
    analytic gradient may carry in the working precision ``eps``. An entry that fails is
    looked at again before it is called wrong: with a finer step, and with the forward
    and backward slopes, whose disagreement marks a kink.

    Examples
    --------
    The seed tutorial's loss, its gradient right and with a missing factor 2:

    >>> import numpy as np, dfdx
    >>> loss = lambda w: (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2
    >>> grad = lambda w: np.array([10 * w[0] + 10 * w[1] - 22, 10 * w[0] + 20 * w[1] - 28])
    >>> dfdx.check_gradient(loss, grad, [1.0, 1.0]).passed
    True
    >>> report = dfdx.check_gradient(loss, lambda w: grad(w) / 2, [1.0, 1.0])
    >>> report.passed, report.mismatches
    (False, ((0,), (1,)))
    """
    opts = make_options(
        mode=mode,
        directions=directions,
        seed=seed,
        tolerance_factor=tolerance_factor,
        rtol=rtol,
        atol=atol,
        kinks=kinks,
        dtype=dtype,
        method=method,
        accuracy=accuracy,
        step=step,
        adaptive=adaptive,
        max_steps=max_steps,
        noise=noise,
        progress=progress,
        vectorized=vectorized,
        workers=workers,
        store=store,
        show=show,
    )
    return _check("gradient", f, grad, x, opts, args, kwargs)


def check_jacobian(
    f: Callable[..., Any],
    jac: Callable[..., Any],
    x: ArrayLike,
    *,
    mode: str = "full",
    directions: int = 3,
    seed: int | None = None,
    tolerance_factor: float = 2.0,
    rtol: float = 0.0,
    atol: float = 0.0,
    kinks: str = "report",
    dtype: Any = None,
    method: str = "central",
    accuracy: int | None = None,
    step: ArrayLike | None = None,
    adaptive: bool = False,
    max_steps: int | None = None,
    noise: float | str | None = None,
    progress: bool = False,
    vectorized: bool = False,
    workers: Any = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    store: Any = None,
    show: int = 8,
) -> CheckReport:
    """Check an analytic Jacobian against dfdx's numerical one; ``report.passed`` is the verdict.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returning an array (any shape) or a scalar.
    jac : callable
        ``jac(x, *args)`` returning the Jacobian under test, of shape
        ``f(x).shape + x.shape``: ``jac(x)[i, j] = d f_i / d x_j``.
    x : array_like
        The point at which to check.
    mode, directions, seed, tolerance_factor, rtol, atol, kinks, dtype : optional
        As for :func:`check_gradient`; a directional check compares ``jac(x) @ v`` with
        the derivative of f along ``v``.
    method, accuracy, step, adaptive, max_steps, noise, progress : optional
        As for :func:`check_gradient`.
    vectorized, workers, args, kwargs, store, show : optional
        As for :func:`check_gradient`.

    Returns
    -------
    CheckReport

    Raises
    ------
    TypeError, ValueError
        As for :func:`check_gradient`; a transposed Jacobian of a non-square f is named
        as such.

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> f = lambda x: np.array([x[0] * x[1], np.sin(x[0]), x[1] ** 2])
    >>> jac = lambda x: np.array([[x[1], x[0]], [np.cos(x[0]), 0.0], [0.0, 2 * x[1]]])
    >>> dfdx.check_jacobian(f, jac, [1.0, 2.0]).passed
    True
    >>> dfdx.check_jacobian(f, lambda x: jac(x) * [[1, 1], [1, 1], [1, -1]], [1.0, 2.0]).mismatches
    ((2, 1),)
    """
    opts = make_options(
        mode=mode,
        directions=directions,
        seed=seed,
        tolerance_factor=tolerance_factor,
        rtol=rtol,
        atol=atol,
        kinks=kinks,
        dtype=dtype,
        method=method,
        accuracy=accuracy,
        step=step,
        adaptive=adaptive,
        max_steps=max_steps,
        noise=noise,
        progress=progress,
        vectorized=vectorized,
        workers=workers,
        store=store,
        show=show,
    )
    return _check("jacobian", f, jac, x, opts, args, kwargs)


def assert_gradient(
    f: Callable[..., Any], grad: Callable[..., Any], x: ArrayLike, **options: Any
) -> CheckReport:
    """:func:`check_gradient` for test suites: raise ``AssertionError`` with the report unless it passes.

    Takes the options of :func:`check_gradient` and returns the report when it passes.

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> _ = dfdx.assert_gradient(lambda x: np.sum(x ** 3), lambda x: 3 * x ** 2, [1.0, -2.0, 0.5])
    >>> dfdx.assert_gradient(lambda x: np.sum(x ** 3), lambda x: 3 * x, [1.0, -2.0, 0.5])
    Traceback (most recent call last):
    ...
    AssertionError: Gradient check FAILED: 2 of 3 entries disagree with dfdx's numerical gradient.
    ...
    """
    report = check_gradient(f, grad, x, **options)
    if not report.passed:
        raise AssertionError(str(report))
    return report


def _check(kind: str, f: Any, deriv: Any, x: Any, opts: Options, args: Any, kwargs: Any) -> CheckReport:
    bound = as_kwargs(kwargs)
    if bound and callable(f) and callable(deriv):
        f, deriv = functools.partial(f, **bound), functools.partial(deriv, **bound)
    p = setup(kind, f, deriv, x, opts, args)
    if opts.mode == "full":
        cols = np.arange(p.n)
        entries, nondiff, nfev, notes = judge_columns(p, cols, opts)
        return p.report(opts, entries, nondiff, nfev, (), None, notes)
    return directional_check(p, opts)
