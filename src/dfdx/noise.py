"""The noise level of f near x, and steps chosen for it.

Functions computed by simulations, iterative solvers or stochastic codes carry noise
far above the round-off: ``f(x) = f_s(x) + e(x)`` with ``e`` of standard deviation
``sigma``. Finite differences then need steps that balance truncation against
``sigma`` rather than against ``eps |f|``.

Estimating sigma (ECnoise, Moré and Wild 2011): evaluate f at ``m + 1`` equally
spaced points ``x + i h v`` along a direction ``v`` and form the difference table
``Delta^k f`` for ``k = 1 .. m``. For a smooth part with small ``h^k f_s^(k)``, the
k-th differences are dominated by the noise, and ``gamma_k mean((Delta^k f)^2)``
with ``gamma_k = (k!)^2 / (2k)!`` estimates ``sigma^2`` (independent noise of variance
``sigma^2`` gives ``Var(Delta^k e) = C(2k, k) sigma^2``). The estimate is accepted at
the first order ``k`` where three consecutive orders agree within a factor of 4 and
the k-th differences change sign (noise, not a smooth trend). When too many values
coincide the step is too small to see the noise; when no orders agree the step is
too large (the smooth part dominates). Then the estimate is reported as not
trustworthy rather than guessed.

References
----------
J. J. Moré and S. M. Wild, "Estimating computational noise", SIAM J. Sci. Comput.
33(3) (2011), 1292-1314.
J. J. Moré and S. M. Wild, "Estimating derivatives of noisy simulations", ACM Trans.
Math. Softw. 38(3) (2012), 19.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .engine.layouts import Directions, Layout
from .evaluation.evaluator import Evaluator
from .numerics.stencils import Stencil, central
from .numerics.steps import noise_optimal_step

__all__ = ["NoiseLevel", "noise_level", "ecnoise", "estimate_noise", "noisy_steps", "noise_error"]

Array = NDArray[Any]

#: Default relative spacing of the sample points (times ``max(1, |x|)``).
SPACING = 2.0**-20
#: Sample points beyond x itself (Moré and Wild use m = 6 to 8).
POINTS = 8
#: Standard deviations of noise the error estimate allows for.
NOISE_SIGMAS = 4.0


@dataclass(frozen=True)
class NoiseLevel:
    """The estimated noise of f near x.

    Attributes
    ----------
    level : float
        Estimated standard deviation of f's noise (absolute). NaN when no estimate
        could be made.
    trustworthy : bool
        True when the difference table gave a consistent estimate.
    message : str
        How the estimate was reached, or why it failed and what to try.
    step : float
        Spacing of the sample points along the direction.
    nfev : int
        Evaluations of f, ``f(x)`` included.
    """

    level: float
    trustworthy: bool
    message: str
    step: float
    nfev: int


def ecnoise(values: ArrayLike) -> tuple[float, bool, str]:
    """Noise level from values of f at equally spaced points (Moré and Wild's ECnoise).

    Parameters
    ----------
    values : array_like, shape ``(m + 1,)``
        f at ``x + i h v``, ``i = 0 .. m``, in order.

    Returns
    -------
    level : float
        The estimate (NaN if none).
    trustworthy : bool
    message : str

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = 1.0 + 1e-3 * np.arange(9)
    >>> level, ok, _ = ecnoise(np.sin(t) + 1e-6 * rng.standard_normal(9))
    >>> ok, bool(3e-7 < level < 3e-6)
    (True, True)
    """
    f = np.asarray(values, dtype=np.float64).ravel()
    m = len(f) - 1
    if m < 4:
        raise ValueError(f"ecnoise needs at least 5 values, got {len(f)}.")
    if not np.all(np.isfinite(f)):
        return math.nan, False, "f is not finite at some sample points; move x or use a smaller step."
    scale = np.max(np.abs(f))
    if np.ptp(f) == 0:
        return (
            math.nan,
            False,
            (
                "f took the same value at every sample point: either f is constant along the direction "
                "or the step is below f's resolution. Try a larger `step`."
            ),
        )
    distinct = len(np.unique(f))
    if distinct <= (m + 1) // 2:
        return (
            math.nan,
            False,
            (
                f"only {distinct} of {m + 1} sampled values differ: the step is too small to see the noise. "
                "Try a larger `step`."
            ),
        )
    table = f.copy()
    sigma = np.full(m + 1, np.nan)
    sign_change = np.zeros(m + 1, dtype=bool)
    for k in range(1, m + 1):
        table = np.diff(table)
        gamma = math.factorial(k) ** 2 / math.factorial(2 * k)
        sigma[k] = math.sqrt(gamma * float(np.mean(table**2)))
        sign_change[k] = bool(np.any(table > 0) and np.any(table < 0))
    for k in range(1, m - 1):
        trio = sigma[k : k + 3]
        if trio.max() <= 4 * trio.min() and sign_change[k]:
            level = float(sigma[k])
            if level <= 2 * np.finfo(float).eps * scale * 1e-3:
                break
            return level, True, f"consistent estimate from differences of order {k} to {k + 2}."
    return (
        math.nan,
        False,
        (
            "the differences did not settle on a noise level: the step is too large (the smooth part "
            "of f dominates) or f is not noisy at this scale. Try a smaller `step`."
        ),
    )


def noise_level(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    step: float | None = None,
    direction: ArrayLike | None = None,
    points: int = POINTS,
    seed: int | None = 0,
    args: tuple[Any, ...] = (),
) -> NoiseLevel:
    """Estimate the noise level of `f` near `x` from a few evaluations (ECnoise).

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returning a scalar.
    x : array_like
        Where to estimate the noise.
    step : float, optional
        Spacing of the sample points along the direction. Default
        ``2**-20 max(1, |x|)``; if the difference table says the step is too small
        or too large, it is retried 1000 times larger or smaller, once.
    direction : array_like, optional
        Direction of the samples (x's shape). Default: a random unit vector (`seed`).
    points : int, optional
        Sample points besides x, at least 4 (default 8).
    seed : int or None, optional
        Seed of the random direction.
    args : tuple, optional
        Extra arguments of f.

    Returns
    -------
    NoiseLevel
        ``level`` (NaN if it could not be estimated), ``trustworthy``, ``message``.

    Raises
    ------
    TypeError, ValueError
        For malformed input (see :func:`dfdx.gradient`), `points` < 4, a `step` that
        is not positive, or f not scalar.

    Examples
    --------
    >>> import numpy as np, dfdx
    >>> rng = np.random.default_rng(1)
    >>> noisy = lambda x: np.sin(x) + 1e-6 * rng.standard_normal()
    >>> est = dfdx.noise_level(noisy, 1.0)
    >>> est.trustworthy, bool(2.5e-7 < est.level < 4e-6)
    (True, True)
    >>> dfdx.noise_level(lambda x: 3.0, 1.0).trustworthy
    False
    """
    from . import _validate as v

    func = v.as_function(f)
    x0 = v.as_point(x)
    if isinstance(points, bool) or not isinstance(points, int) or points < 4:
        raise ValueError(f"`points` must be an integer >= 4, got {points!r}.")
    if step is not None and (not np.isfinite(step) or step <= 0):
        raise ValueError(f"`step` must be positive and finite, got {step!r}.")
    if direction is None:
        d = np.random.default_rng(seed).standard_normal(x0.shape)
    else:
        d = v.as_point(direction, "direction").astype(np.float64)
        if d.shape != x0.shape or not np.any(d):
            raise ValueError(f"`direction` must be a nonzero array of x's shape {x0.shape}.")
    d = d / np.max(np.abs(d))
    ev = Evaluator(func, x0, args=args if isinstance(args, tuple) else (args,))
    if ev.out_shape != ():
        raise ValueError(f"`f` must return a scalar for noise_level, got shape {ev.out_shape}.")
    return _along(ev, Directions(x0, d.ravel()[None, :]), step, points)


def _along(ev: Evaluator, layout: Layout, step: float | None, points: int) -> NoiseLevel:
    """ECnoise along the first direction of `layout`, retrying once at another step."""
    h = float(step) if step is not None else float(SPACING * layout.reach[0])
    offsets = np.arange(1, points + 1, dtype=np.float64)
    tried = 0
    while True:
        values = ev(layout.points(np.array([h]), offsets)).reshape(points, -1)
        table = np.concatenate([np.asarray(ev.f0, dtype=np.float64).reshape(1, -1), values])
        level, ok, message = _largest(table)
        tried += 1
        if ok or step is not None or tried == 2:
            return NoiseLevel(level, ok, message, h, ev.nfev)
        h = h * 1000.0 if "too small" in message or "same value" in message else h / 1000.0


def _largest(table: Array) -> tuple[float, bool, str]:
    """ECnoise on every output of a vector f (columns of `table`); the largest trusted level."""
    found = [ecnoise(table[:, i]) for i in range(table.shape[1])]
    trusted = [r for r in found if r[1]]
    if not trusted:
        return found[0]
    return max(trusted, key=lambda r: r[0])


def estimate_noise(ev: Evaluator, layout: Layout, eps: float) -> NoiseLevel:
    """``noise='auto'``: ECnoise through the front-end's evaluator, along a fixed random direction.

    Raises
    ------
    ValueError
        When no trustworthy level comes out: steps are never chosen for a made-up level.
    """
    d = np.random.default_rng(0).standard_normal(layout.x.size)
    found = _along(ev, Directions(layout.x, (d / np.abs(d).max())[None, :]), None, POINTS)
    if not found.trustworthy:
        raise ValueError(
            f"noise='auto' could not estimate the noise of f: {found.message} "
            "Pass the level as `noise=<float>` (or noise=None if f is smooth); "
            "dfdx.noise_level(f, x, step=...) explores other steps."
        )
    return found


def noisy_steps(
    ev: Evaluator, layout: Layout, stencil: Stencil, noise: float, eps: float
) -> tuple[Array, Array]:
    """Noise-optimal steps per column, and the derivative that drives the truncation error.

    The derivative ``|f^(n+p)|`` is measured per column by a central difference at a step
    where the noise is small against it (``h_s = (noise / |f|)^(1/(n+p+2)) max(1, |x|)``),
    bounded below by that difference's own noise so that a derivative lost in the noise
    is not taken as zero. Returns ``(h, drive)``, `drive` of shape ``(ncols, *out_shape)``.
    """
    f0 = np.abs(np.asarray(ev.f0, dtype=np.float64))
    level = max(noise, eps * float(f0.max(initial=0.0)))
    k = stencil.n + stencil.accuracy
    probe = central(k, 2)
    rel = min(0.1, (level / max(float(f0.max(initial=0.0)), level)) ** (1.0 / (k + 2)))
    hs = np.asarray(layout.reach, dtype=np.float64) * rel
    nz = probe.offsets != 0
    vals = ev(layout.points(hs, probe.offsets[nz])).reshape(layout.ncols, int(nz.sum()), *ev.out_shape)
    hsx = _per_entry(hs, layout.ncols, ev.out_shape)
    comb = np.tensordot(probe.weights[nz], vals, axes=([0], [1])) + float(probe.weights[~nz].sum()) * ev.f0
    drive = np.maximum(np.abs(comb) / hsx**k, level * probe.amplification / hsx**k)
    per = drive.reshape(layout.ncols, -1).max(axis=1) if hs.ndim == 1 else drive.reshape(1, -1)
    h = np.array([noise_optimal_step(stencil, level, float(d)) for d in per.ravel()]).reshape(per.shape)
    h = np.minimum(np.exp2(np.floor(np.log2(h))), np.asarray(layout.reach, dtype=np.float64))
    return h.reshape(np.shape(layout.reach)), drive


def noise_error(stencil: Stencil, h: Array, noise: float, drive: Array, value: Array, eps: float) -> Array:
    """Error of a difference quotient of a noisy f: noise, truncation and f's own rounding.

    The noise of ``sum_k w_k f_k / h^n`` has standard deviation ``noise sqrt(sum w_k^2) / h^n``
    (:data:`NOISE_SIGMAS` of them are allowed for; the noise of a real f does not enter the
    imaginary part of the complex step). The truncation ``|C| h^p |f^(n+p)|`` uses the
    measured `drive`, with a safety factor of two for the error of that measurement.
    """
    spread = 0.0 if stencil.is_complex else NOISE_SIGMAS * noise * float(np.sqrt(np.sum(stencil.weights**2)))
    trunc = 2.0 * abs(stencil.error_coefficient) * h**stencil.accuracy * drive
    return spread / h**stencil.n + trunc + 4 * eps * np.abs(value)


def _per_entry(h: Array, ncols: int, out_shape: tuple[int, ...]) -> Array:
    """Steps (``(ncols,)``, or ``(1, x.size)`` elementwise) broadcast against ``(ncols, *out)``."""
    return h.reshape((ncols,) + (1,) * len(out_shape)) if h.ndim == 1 else h.reshape((1, *out_shape))
