"""Verdicts on single entries of a checked gradient (Jacobian).

An entry whose first numerical estimate disagrees with the analytic value, or is too
imprecise to vouch for it, is looked at again before anything is concluded: a central
estimate at a finer step, the forward and backward slopes, and if those still leave it
wrong or kinked, the noise of f along that coordinate. The entry is called wrong only
when no sound estimate agrees, and not differentiable only when the one-sided slopes
differ by more than all of that explains.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._api import directional
from ..stencils import make_stencil
from .problem import ROUNDOFF, Problem, column_estimates
from .report import EntryCheck

__all__ = ["judge_columns"]

Array = NDArray[Any]
#: An estimate of one column: values and errors ``(m,)``, its step and ``sum |w_k|``.
Estimate = tuple[Array, Array, float, float]
_KINKED = ("not differentiable", "kink accepted", "mismatch")
#: Noise of f as a bound on the error of a difference quotient: ``3 sigma sum|w| / h``.
NOISE_SIGMAS = 3.0
#: How far beyond its tolerance a tight estimate must disagree to outvote a looser one.
MARGIN = 2.0


def judge_columns(
    p: Problem, cols: Array, opts: Any
) -> tuple[list[EntryCheck], tuple[int, ...], int, list[str]]:
    """Verdict on every entry of the Jacobian columns `cols`, probing the doubtful columns again."""
    N, E, H, nfev = column_estimates(p, cols)
    A = p.A[:, cols]
    ok = (np.abs(A - N) <= p.tolerance(A, E, opts)) & ~p.loose(A, E)
    amp = _amplification(p.method, p.accuracy)
    entries: list[EntryCheck] = []
    nondiff: list[int] = []
    noisy = 0
    for c, j in enumerate(cols.tolist()):
        if np.all(ok[:, c]):
            T = p.tolerance(A[:, c : c + 1], E[:, c : c + 1], opts)[:, 0]
            entries += [_entry(p, i, j, A[i, c], N[i, c], E[i, c], T[i], "ok") for i in range(p.m)]
            continue
        probe, used = _probe(p, j, float(H[c]))
        probe["central"] = (N[:, c], E[:, c], float(H[c]), amp)
        nfev += used
        sigma = None
        for i in range(p.m):
            entry = _settle(p, opts, i, j, A[i, c], probe, None)
            if entry.status in _KINKED:
                if sigma is None:
                    sigma, used = _noise(p, j, float(H[c]))
                    nfev += used
                entry = _settle(p, opts, i, j, A[i, c], probe, float(sigma[i]))
                noisy += entry.status not in _KINKED
            entries.append(entry)
        if any(e.status in ("not differentiable", "kink accepted") for e in entries[-p.m :]):
            nondiff.append(j)
    notes = []
    if noisy:
        notes.append(
            f"{noisy} entr{'y' if noisy == 1 else 'ies'} would disagree on dfdx's error model alone, "
            "but f is noisier than that model there (rounding inside f, cancellation between its "
            "terms): with the measured noise of f they agree."
        )
    return entries, tuple(nondiff), nfev, notes


def _amplification(method: str, accuracy: int) -> float:
    """``sum |w_k|`` of a first-derivative stencil: how it amplifies noise in f (0 for the complex step)."""
    stencil = make_stencil(method, 1, accuracy)
    return 0.0 if stencil.is_complex else float(np.abs(stencil.weights).sum())


def _probe(p: Problem, j: int, h: float) -> tuple[dict[str, Estimate], int]:
    """Forward and backward slopes along coordinate `j`, and a central estimate at a finer step.

    The finer step is a quarter of the default, so that an error estimate that missed
    the truncation error is not trusted alone; and, where ``|x_j| > 1``, no larger than
    the step dfdx would take at ``|x_j| = 1``: default steps grow with ``|x_j|``, and
    where f varies on a scale much shorter than ``|x_j|`` (sin at 1e6) such a step
    steps over its structure, so that the estimate and its error bound are both wrong.
    The one-sided slopes then use the finer step too. It still moves x in the working
    precision.
    """
    e = np.zeros(p.n)
    e[j] = 1.0
    common: dict[str, Any] = dict(f0=p.f0, throw=False, vectorized=p.vectorized, workers=p.workers)
    xj = abs(float(p.x.ravel()[j]))
    least = 4 * float(np.spacing(np.asarray(xj, dtype=p.dtype)))
    fine = 2.0 ** math.ceil(math.log2(max(min(h / 4, h / max(1.0, xj)), least)))
    runs: dict[str, dict[str, Any]] = {
        "forward": dict(method="forward", accuracy=2),
        "backward": dict(method="backward", accuracy=2),
    }
    if p.method != "central":
        # The default step of another method says nothing of a central one's: take
        # dfdx's own central estimate as the second opinion.
        runs["fine"] = dict(method="central", accuracy=4)
    else:
        if xj > 1:
            runs = {k: dict(r, step=fine) for k, r in runs.items()}
        if fine < h:
            runs["fine"] = dict(method="central", accuracy=4, step=fine)
    out: dict[str, Estimate] = {}
    nfev = 0
    for key, run in runs.items():
        res = directional(p.f, p.x, e.reshape(p.x.shape), **run, **common)
        value = np.asarray(res.value, dtype=np.float64).reshape(p.m)
        error = np.asarray(res.error, dtype=np.float64).reshape(p.m)
        out[key] = (value, error, float(np.asarray(res.step)), _amplification(run["method"], run["accuracy"]))
        nfev += res.nfev
    return out, nfev


def _noise(p: Problem, j: int, h: float, points: int = 8) -> tuple[Array, int]:
    """Noise level of f along coordinate `j` (one per output), from a difference table.

    f is evaluated at ``x + k delta e_j``, ``k = 1..8``, with ``delta`` the finer probing
    step, and the noise is what is left in the higher differences (Moré and Wild's
    ECnoise, SIAM J. Sci. Comput. 33(3), 2011). The spacing is that of the stencils on
    purpose: rounding inside f can be correlated between points much closer than that
    (a long sum whose terms barely change), and then hides from a finer table. Each
    order ``k`` estimates the level as ``sqrt(gamma_k mean((Delta^k f)^2))``,
    ``gamma_k = (k!)^2 / (2k)!``; the smallest over orders 4 to 7 is taken, since a
    smooth part left in the differences only adds to it.
    """
    xj = abs(float(p.x.ravel()[j]))
    least = 4 * float(np.spacing(np.asarray(xj, dtype=p.dtype)))
    delta = 2.0 ** math.ceil(math.log2(max(min(h / 4, h / max(1.0, xj)), least)))
    flat = np.repeat(p.x.ravel()[None, :], points, axis=0)
    flat[:, j] += delta * np.arange(1, points + 1)
    batch = flat.reshape((points, *p.x.shape))
    if p.vectorized:
        raw = np.moveaxis(np.asarray(p.f(np.moveaxis(batch, 0, -1))), -1, 0)
    else:
        raw = np.stack([np.asarray(p.f(point)) for point in batch])
    values = np.concatenate([p.f0.reshape(1, -1), raw.reshape(points, -1)]).astype(np.float64)
    levels = []
    for k in range(4, points):
        gamma = math.factorial(k) ** 2 / math.factorial(2 * k)
        levels.append(np.sqrt(gamma * np.mean(np.diff(values, n=k, axis=0) ** 2, axis=0)))
    sigma = np.min(np.stack(levels), axis=0)
    return np.where(np.isfinite(sigma), sigma, 0.0), points


def _settle(
    p: Problem, opts: Any, i: int, j: int, a: float, probe: dict[str, Estimate], sigma: float | None
) -> EntryCheck:
    """One doubtful entry, judged on every numerical estimate of it.

    Each estimate's error is widened to the noise of f (``3 sigma sum|w| / h``, where
    measured) and to what the other estimates say of it: if estimate ``l`` differs from
    ``k`` by more than ``l``'s own error, ``k`` is off by at least the excess. Then, in
    order: forward and backward slopes that differ beyond those errors mark a kink; an
    estimate whose error is within sqrt(eps) of the gradient's size is *tight*, and the
    entry is ok if a tight estimate agrees, wrong if tight ones exist and all disagree;
    with none tight, the most precise estimate decides, and agreement is only "weak".
    Where ``|x_j| > 1`` the default-step central estimate is left out, as its step may
    step over f's structure.
    """
    floor = ROUNDOFF * p.eps * (abs(a) + float(p.rowmax[i]))
    allowance = opts.atol + opts.rtol * abs(a)
    tight = math.sqrt(p.eps) * max(abs(a), float(p.rowmax[i]), np.finfo(np.float64).tiny)

    def tol(err: float) -> float:
        return float(opts.tolerance_factor * (err + floor) + allowance)

    keys = [k for k in probe if k != "central" or abs(float(p.x.ravel()[j])) <= 1 or "fine" not in probe]
    pool: dict[str, tuple[float, float]] = {}
    for k in keys:
        values, errors, step, amp = probe[k]
        err = max(float(errors[i]), NOISE_SIGMAS * (sigma or 0.0) * amp / step)
        if np.isfinite(values[i]) and np.isfinite(err):
            pool[k] = (float(values[i]), err)

    def widened(k: str, skip: str = "") -> float:
        value, err = pool[k]
        return max([err] + [abs(value - v) - e for m, (v, e) in pool.items() if m not in (k, skip)])

    central = (float(probe["central"][0][i]), float(probe["central"][1][i]))
    shown = pool.get("fine", central)
    if "forward" in pool and "backward" in pool:
        (fw, _), (bw, _) = pool["forward"], pool["backward"]
        efw, ebw = widened("forward", "backward"), widened("backward", "forward")
        if abs(fw - bw) > tol(efw + ebw):
            status = "not differentiable"
            if opts.kinks == "accept":
                margin = tol(max(efw, ebw))
                inside = min(fw, bw) - margin <= a <= max(fw, bw) + margin
                status = "kink accepted" if inside else "mismatch"
            return _entry(p, i, j, a, *shown, tol(shown[1]), status, (fw, bw))
    candidates = [(pool[k][0], widened(k)) for k in pool]
    if not candidates:
        return _entry(p, i, j, a, *central, tol(central[1]), "weak")
    sharp = [e for e in candidates if e[1] <= tight]
    if sharp:
        agreeing = [e for e in sharp if abs(a - e[0]) <= tol(e[1])]
        value, err = (agreeing or sorted(sharp, key=lambda e: e[1]))[0]
        status = "ok" if agreeing else "mismatch"
        # Rounding errors of f at nearby points can be correlated, so that the tight
        # estimates share a bias a little beyond their bounds; a disagreement within
        # a few tolerances that a looser estimate does not confirm is not a verdict.
        if (
            status == "mismatch"
            and abs(a - value) <= MARGIN * tol(err)
            and any(abs(a - v) <= tol(e) for v, e in candidates)
        ):
            status = "weak"
    else:
        value, err = min(candidates, key=lambda e: e[1])
        status = "weak" if abs(a - value) <= tol(err) else "mismatch"
    slopes = (float(probe["forward"][0][i]), float(probe["backward"][0][i])) if status == "mismatch" else None
    return _entry(p, i, j, a, value, err, tol(err), status, slopes)


def _entry(
    p: Problem,
    i: int,
    j: int,
    a: float,
    value: float,
    err: float,
    tol: float,
    status: str,
    slopes: tuple[float, float] | None = None,
) -> EntryCheck:
    diff = abs(float(a) - float(value))
    size = max(abs(float(a)), abs(float(value)))
    rel = diff / size if diff else 0.0
    best = -math.log10(p.eps)
    digits = best if rel == 0 else min(best, max(0.0, -math.log10(rel)))
    index = tuple(int(k) for k in np.unravel_index(i * p.n + j, p.f0.shape + p.x.shape))
    return EntryCheck(
        index=index,
        analytic=float(a),
        numerical=float(value),
        numerical_error=float(err),
        tolerance=float(tol),
        abs_error=diff,
        rel_error=rel,
        digits=round(digits, 2),
        status=status,
        slopes=slopes,
    )
