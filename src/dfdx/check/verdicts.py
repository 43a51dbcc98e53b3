"""Verdicts on single entries of a checked gradient (Jacobian).

An entry whose first numerical estimate disagrees with the analytic value, or is too
imprecise to vouch for it, is looked at again before anything is concluded: a central
estimate at a finer step, the forward and backward slopes, and if those still leave it
wrong or kinked, the noise of f along that coordinate. The entry is called wrong only
when no sound estimate agrees, and not differentiable only when the one-sided slopes
differ by more than all of that explains.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._api import directional
from ..stencils import make_stencil
from .problem import ROUNDOFF, Problem, column_estimates
from .report import EntryCheck

__all__ = ["judge_columns", "conclusive"]

Array = NDArray[Any]
#: An estimate of one column: values and errors ``(m,)``, its step and ``sum |w_k|``.
Estimate = tuple[Array, Array, float, float]
_KINKED = ("not differentiable", "kink accepted", "mismatch")
#: Noise of f as a bound on the error of a difference quotient: ``3 sigma sum|w| / h``.
NOISE_SIGMAS = 3.0
#: How far beyond its tolerance a tight estimate must disagree to outvote a looser one.
MARGIN = 2.0
#: An entry is verified when its tolerance is below this fraction of its own size (a zero
#: entry: below sqrt(eps) of its row's largest entry): a tenth tells a flipped sign or a
#: factor two.
CONCLUSIVE = 0.1
#: How far beyond its tolerance an entry checked again at a step of its own must disagree
#: to be called wrong (nearer is inconclusive).
MISMATCH_MARGIN = 10.0
#: Most growth of the step for an entry checked again at a step of its own, and the
#: reduction of that step for a second try.
RESCALE_MAX = 2.0**30
RESCALE_RETRY = 64.0


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
    noisy = probed = 0
    first = nfev
    for c, j in enumerate(cols.tolist()):
        if np.all(ok[:, c]):
            T = p.tolerance(A[:, c : c + 1], E[:, c : c + 1], opts)[:, 0]
            column = [_entry(p, i, j, A[i, c], N[i, c], E[i, c], T[i], "ok") for i in range(p.m)]
            column, used = _rescale(p, opts, j, column, float(H[c]))
            entries += column
            nfev += used
            continue
        probe, used = _probe(p, j, float(H[c]))
        probe["central"] = (N[:, c], E[:, c], float(H[c]), amp)
        nfev += used
        probed += 1
        sigma = None
        column = []
        for i in range(p.m):
            entry = _settle(p, opts, i, j, A[i, c], probe, None)
            if entry.status in _KINKED:
                if sigma is None:
                    sigma, used = _noise(p, j, float(H[c]))
                    nfev += used
                entry = _settle(p, opts, i, j, A[i, c], probe, float(sigma[i]))
                noisy += entry.status not in _KINKED
            column.append(entry)
        column, used = _rescale(p, opts, j, column, float(H[c]))
        nfev += used
        entries += column
        if any(e.status in ("not differentiable", "kink accepted") for e in column):
            nondiff.append(j)
    notes = []
    if probed:
        notes.append(
            f"{probed} coordinate(s) that disagreed were differenced again before the verdict "
            f"(one-sided slopes, a finer step, f's noise): {nfev - first} evaluations."
        )
    if noisy:
        notes.append(
            f"{noisy} entr{'y' if noisy == 1 else 'ies'} would disagree on dfdx's error model alone, "
            "but f is noisier than that model there (rounding inside f, cancellation between its "
            "terms): with the measured noise of f they agree."
        )
    return entries, tuple(nondiff), nfev, notes


def conclusive(p: Problem, i: int, analytic: float, tolerance: float) -> bool:
    """Whether a tolerance can tell a wrong entry: below a tenth of the entry's own size.

    An entry agreeing within a tolerance as large as itself would agree with its sign
    flipped; each entry is judged on its own size, not on the gradient's. An entry that is
    zero in the working precision (below the analytic round-off floor of its row) is
    verified to sqrt(eps) of its row's largest entry.
    """
    row = float(p.rowmax[i])
    # (Also where the tolerance's own round-off floor alone could never get below a tenth of
    # the entry: it is zero as far as the working precision can tell.)
    if abs(analytic) * CONCLUSIVE <= ROUNDOFF * p.eps * row:
        return bool(tolerance <= math.sqrt(p.eps) * row)
    return bool(tolerance <= CONCLUSIVE * abs(analytic))


def _rescale(
    p: Problem, opts: Any, j: int, column: list[EntryCheck], h: float
) -> tuple[list[EntryCheck], int]:
    """Entries of column `j` that agree but cannot be verified, checked again at a step of their own.

    The numerical error of such an entry is mostly rounding of f (f is large beside the change
    the entry makes over the step: Brown's badly scaled function, a large offset), and rounding
    shrinks as the step grows: the adaptive mode starts from the step at which rounding would
    be a tenth of what the check needs (it steps down by itself where f varies on a shorter
    scale), and once more RESCALE_RETRY times lower if that leaves entries undecided.
    """
    doubtful = [
        k
        for k, e in enumerate(column)
        if e.status in ("ok", "weak") and not conclusive(p, k, e.analytic, e.tolerance)
    ]
    if not doubtful:
        return column, 0
    need = min(max(CONCLUSIVE * abs(column[k].analytic), p.eps * float(p.rowmax[k])) for k in doubtful)
    worst = max(column[k].numerical_error for k in doubtful)
    grow = min(RESCALE_MAX, max(1.0, 10 * worst / max(need, np.finfo(float).tiny)))
    start = 2.0 ** math.ceil(math.log2(h * grow))
    out = [_restatus(e, "inconclusive") if k in doubtful else e for k, e in enumerate(column)]
    nfev = 0
    for step in (start, start / RESCALE_RETRY):
        value, error, trusted, used = _own_step(p, j, step)
        nfev += used
        for k in doubtful:
            if out[k].status == "inconclusive" and trusted and np.isfinite(value[k] + error[k]):
                out[k] = _rejudge(p, opts, column[k], k, j, float(value[k]), float(error[k]))
        if all(out[k].status != "inconclusive" for k in doubtful):
            break
    return out, nfev


def _own_step(p: Problem, j: int, step: float) -> tuple[Array, Array, bool, int]:
    """The adaptive mode along coordinate `j` from `step`: values, errors, whether to trust them, nfev."""
    from .. import Status  # the public namespace, which imports this module first

    e = np.zeros(p.x.shape)
    e.ravel()[j] = 1.0
    func, given = p.calling()
    res = directional(
        func,
        p.x,
        e,
        adaptive=True,
        step=step,
        **given,
        throw=False,
        vectorized=p.vectorized,
        workers=p.workers,
    )
    value = np.asarray(res.value, dtype=np.float64).reshape(p.m)
    error = np.asarray(res.error, dtype=np.float64).reshape(p.m)
    trusted = res.status in (Status.SUCCESS, Status.ONE_SIDED, Status.ROUNDOFF)
    return value, error, trusted, res.nfev


def _rejudge(
    p: Problem, opts: Any, old: EntryCheck, i: int, j: int, value: float, error: float
) -> EntryCheck:
    """An entry judged on its estimate at a step of its own, where that estimate is conclusive.

    ``mismatch`` needs a disagreement MISMATCH_MARGIN times the tolerance and an answer within
    the first estimate's tolerance (two estimates that contradict each other verify nothing);
    the entry stays ``inconclusive`` otherwise.
    """
    tol = opts.tolerance_factor * (error + ROUNDOFF * p.eps * (abs(old.analytic) + float(p.rowmax[i])))
    tol += opts.atol + opts.rtol * abs(old.analytic)
    miss = abs(old.analytic - value)
    status = "inconclusive"
    # The first estimate's bar was honest, if loose: an answer outside it contradicts it.
    if conclusive(p, i, old.analytic, tol) and abs(value - old.numerical) <= old.tolerance:
        status = "ok" if miss <= tol else ("mismatch" if miss > MISMATCH_MARGIN * tol else "inconclusive")
    if status == "inconclusive":  # (the entry it came as may say "ok" or "weak": not verified)
        return _restatus(old, "inconclusive")
    return _entry(p, i, j, old.analytic, value, error, float(tol), status)


def _restatus(e: EntryCheck, status: str) -> EntryCheck:
    return dataclasses.replace(e, status=status)


def _amplification(method: str, accuracy: int) -> float:
    """How a first-derivative stencil amplifies noise in f (its ``amplification``; 0 for the complex step)."""
    stencil = make_stencil(method, 1, accuracy)
    return 0.0 if stencil.is_complex else stencil.amplification


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
    func, given = p.calling()
    common: dict[str, Any] = dict(given, throw=False, vectorized=p.vectorized, workers=p.workers)
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
        res = directional(func, p.x, e.reshape(p.x.shape), **run, **common)
        value = np.asarray(res.value, dtype=np.float64).reshape(p.m)
        error = np.asarray(res.error, dtype=np.float64).reshape(p.m)
        out[key] = (value, error, float(np.asarray(res.step)), _amplification(run["method"], run["accuracy"]))
        nfev += res.nfev
    return out, nfev


def _noise(p: Problem, j: int, h: float, points: int = 8) -> tuple[Array, int]:
    """Noise level of f along coordinate `j` (one per output), with :func:`dfdx.noise_level`.

    The samples are ``x + k delta e_j``, ``k = 1..8``, with ``delta`` the finer probing
    step: the spacing of the stencils on purpose, since rounding inside f can be
    correlated between points much closer than that (a long sum whose terms barely
    change) and then hides from a finer table. Each output is one ECnoise (Moré and Wild,
    SIAM J. Sci. Comput. 33(3), 2011) on the same points, evaluated once; an output whose
    table gives no trustworthy level counts as noiseless.
    """
    from .. import noise_level  # the public namespace, which imports this module first

    xj = abs(float(p.x.ravel()[j]))
    least = 4 * float(np.spacing(np.asarray(xj, dtype=p.dtype)))
    delta = 2.0 ** math.ceil(math.log2(max(min(h / 4, h / max(1.0, xj)), least)))
    e = np.zeros(p.x.shape)
    e.ravel()[j] = 1.0
    outputs = _Outputs(p)
    sigma = np.zeros(p.m)
    for i in range(p.m):
        found = noise_level(outputs.entry(i), p.x, step=delta, direction=e, points=points)
        sigma[i] = found.level if found.trustworthy and math.isfinite(found.level) else 0.0
    return sigma, outputs.calls


class _Outputs:
    """f's outputs one at a time, each point evaluated once (for :func:`dfdx.noise_level`)."""

    def __init__(self, p: Problem) -> None:
        self.p, self.calls = p, 0
        # f(x) is known: noise_level's own evaluation of it costs nothing here.
        self.seen: dict[bytes, Array] = {np.asarray(p.x, dtype=np.float64).tobytes(): p.f0.reshape(-1)}

    def value(self, z: Any) -> Array:
        z = np.asarray(z)
        key = z.tobytes()
        if key not in self.seen:
            out = self.p.f(z[..., None])[..., 0] if self.p.vectorized else self.p.f(z)
            self.seen[key] = np.asarray(out, dtype=np.float64).reshape(-1)
            self.calls += 1
        return self.seen[key]

    def entry(self, i: int) -> Any:
        return lambda z: self.value(z)[i]


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
