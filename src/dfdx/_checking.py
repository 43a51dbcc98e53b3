"""The machinery of :mod:`dfdx.check`: the validated problem, tolerances, and entry verdicts.

Everything numerical goes through the public front-ends (:func:`dfdx.jacobian`,
:func:`dfdx.directional`); this module decides what their numbers say about the
analytic derivative under test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._api import directional, jacobian
from ._check_report import CheckReport, DirectionCheck, EntryCheck
from ._validate import as_function, as_point, as_step
from .stencils import make_stencil

__all__ = ["Problem", "setup", "judge_columns"]

Array = NDArray[Any]

#: Round-off floor of the analytic side, in units of eps times the size of its row:
#: a gradient computed in floating point carries a few ulps of the terms it sums.
ROUNDOFF = 8.0
#: Order of the entry statuses in the report, worst first.
_RANK = {"mismatch": 0, "not differentiable": 1, "kink accepted": 2, "weak": 3, "ok": 4}


class _Prepared:
    """``f(x, *args)``, its output cast to the working precision when f returns finer values.

    A class rather than a closure so that process pools can pickle it.
    """

    def __init__(self, f: Any, args: tuple[Any, ...], dtype: np.dtype[Any] | None) -> None:
        self.f, self.args, self.dtype = f, args, dtype

    def __call__(self, x: Any) -> Any:
        value = self.f(x, *self.args)
        if self.dtype is None:
            return value
        value = np.asarray(value)
        if value.dtype.kind == "c":
            return value.astype(np.result_type(self.dtype, np.complex64))
        return value.astype(self.dtype)


class _Restricted:
    """f as a function of the coordinates `columns` of x alone, the others held at x."""

    def __init__(self, f: Any, x: Array, columns: Array, vectorized: bool) -> None:
        self.f, self.x, self.columns, self.vectorized = f, x, columns, vectorized

    def __call__(self, z: Any) -> Any:
        z = np.asarray(z)
        dtype = np.result_type(self.x.dtype, z.dtype)
        if self.vectorized:
            full = np.repeat(self.x.reshape(-1, 1), z.shape[-1], axis=1).astype(dtype)
            full[self.columns] = z
            return self.f(full.reshape(self.x.shape + z.shape[-1:]))
        flat = self.x.ravel().astype(dtype)
        flat[self.columns] = z
        return self.f(flat.reshape(self.x.shape))


@dataclass
class Problem:
    """A validated check: f (prepared), x, f(x), the analytic derivative as an ``(m, n)`` array."""

    kind: str
    f: Any
    x: Array
    f0: Array
    A: Array
    eps: float
    dtype: np.dtype[Any]
    method: str
    accuracy: int
    step: Any
    vectorized: bool
    workers: Any

    @property
    def m(self) -> int:
        return int(self.A.shape[0])

    @property
    def n(self) -> int:
        return int(self.x.size)

    @property
    def rowmax(self) -> Array:
        """Size of each row of the analytic derivative (its largest entry, or the largest overall)."""
        rows = np.abs(self.A).max(axis=1)
        return np.asarray(np.where(rows > 0, rows, np.abs(self.A).max()), dtype=np.float64)

    def floor(self, analytic: Array) -> Array:
        """Round-off the analytic entries may carry: ``8 eps (|g_i| + max|g|)``."""
        return np.asarray(ROUNDOFF * self.eps * (np.abs(analytic) + self.rowmax.reshape(-1, 1)))

    def tolerance(self, analytic: Array, error: Array, opts: Any) -> Array:
        return np.asarray(opts.tolerance_factor * (error + self.floor(analytic))
                          + opts.atol + opts.rtol * np.abs(analytic))

    def loose(self, analytic: Array, error: Array) -> Array:
        """Entries whose numerical error exceeds sqrt(eps) of their size: only a weak check."""
        scale = np.maximum(np.abs(analytic), self.rowmax.reshape(-1, 1))
        return np.asarray(error > math.sqrt(self.eps) * np.maximum(scale, np.finfo(np.float64).tiny))

    def direction_tolerance(self, v: Array, error: Array, opts: Any) -> Array:
        """The entry tolerances summed along `v` (each entry weighted by ``|v_j|``)."""
        size = np.abs(self.A) @ np.abs(v)
        norm1 = float(np.abs(v).sum())
        floor = ROUNDOFF * self.eps * (size + self.rowmax * norm1)
        return np.asarray(opts.tolerance_factor * (error + floor) + opts.atol * norm1 + opts.rtol * size)

    def loose_scale_along(self, v: Array) -> Array:
        scale = self.rowmax * float(np.abs(v).sum())
        return np.asarray(math.sqrt(self.eps) * np.maximum(scale, np.finfo(np.float64).tiny))

    def undefined_message(self, where: str) -> str:
        return (
            f"`f` is not finite at the points around x {where}: x is at the edge of f's domain "
            "(f is undefined on both sides). Check at a point inside the domain, or pass a "
            "smaller `step`."
        )

    def nfev_full(self) -> int:
        stencil = make_stencil(self.method, 1, self.accuracy)
        return 1 + self.n * int(np.count_nonzero(stencil.offsets))

    def report(self, opts: Any, entries: list[EntryCheck], nondiff: tuple[int, ...], nfev: int,
               directions: tuple[DirectionCheck, ...], seed: int | None,
               notes: list[str]) -> CheckReport:
        """Assemble the :class:`CheckReport` (`nfev` excludes f(x), counted here)."""
        ranked = sorted(entries, key=lambda e: (_RANK[e.status], -e.ratio))
        shown = [e for e in ranked if e.status != "ok"]
        shown += [e for e in ranked if e.status == "ok"][: opts.show]
        mismatches = tuple(e.index for e in ranked if e.status == "mismatch")
        undecided = any(e.status == "not differentiable" for e in entries)
        verdict = "fail" if mismatches else ("not differentiable" if undecided else "pass")
        weak = sum(e.status == "weak" for e in entries)
        if weak:
            notes = notes + [
                f"{weak} entr{'y agrees' if weak == 1 else 'ies agree'} but could only be checked "
                "loosely: the numerical error there exceeds sqrt(eps) of the gradient's size."
            ]
        if undecided and opts.kinks == "report":
            notes = notes + ["pass kinks='accept' to accept any value between the one-sided slopes."]
        return CheckReport(
            passed=verdict == "pass", verdict=verdict, kind=self.kind, mode=opts.mode,
            shape=self.f0.shape + self.x.shape, dtype=str(self.dtype), entries=tuple(shown),
            mismatches=mismatches, nondifferentiable=nondiff, directions=directions, seed=seed,
            nfev=nfev + 1, nfev_full=self.nfev_full(), ngrad=1, tolerance=self.describe(opts),
            notes=tuple(notes), show=opts.show,
        )

    def describe(self, opts: Any) -> str:
        text = (
            f"{opts.tolerance_factor:g} x (dfdx's error estimate of each numerical entry "
            f"[{self.method}, accuracy {self.accuracy}] + round-off floor of the analytic "
            f"{self.kind} {ROUNDOFF:g} eps (|g_i| + max|g|), eps = {self.eps:.2g} for {self.dtype})"
        )
        if opts.atol:
            text += f" + atol {opts.atol:g}"
        if opts.rtol:
            text += f" + rtol {opts.rtol:g} x |g_i|"
        if opts.mode == "directional":
            text += ("; along a random direction v, the same summed over the entries with weights "
                     "|v_j|, against dfdx's derivative along v (central, accuracy 2)")
        return text


def setup(kind: str, f: Any, deriv: Any, x: Any, opts: Any, args: Any) -> Problem:
    """Validate the inputs, evaluate f(x) and the analytic derivative once."""
    name = "grad" if kind == "gradient" else "jac"
    as_function(f, "f")
    as_function(deriv, name)
    point = as_point(x)
    as_step(opts.step, point.shape)
    args = args if isinstance(args, tuple) else (args,)
    raw = _evaluate(f, point, args, opts.vectorized)
    if kind == "gradient" and raw.shape != ():
        raise ValueError(
            f"`f` must return a scalar for check_gradient, but f(x) has shape {raw.shape}; "
            "use dfdx.check_jacobian for vector-valued f."
        )
    if not np.all(np.isfinite(raw)):
        raise ValueError(f"`f` is not finite at x (f(x) = {raw}): x is outside f's domain; "
                         "check the derivative at a point where f is defined.")
    analytic = _analytic(deriv, name, point, args, raw.shape)
    dtypes = [point.dtype, raw.dtype, analytic.dtype] + ([opts.dtype] if opts.dtype is not None else [])
    working = max((np.dtype(d) for d in dtypes if np.dtype(d).kind == "f"),
                  key=lambda d: np.finfo(d).eps, default=np.dtype(np.float64))
    cast = working if raw.dtype.kind != "f" or np.finfo(raw.dtype).eps < np.finfo(working).eps else None
    f0 = raw.astype(working) if cast is not None else raw
    return Problem(
        kind=kind, f=_Prepared(f, args, cast), x=point, f0=f0,
        A=analytic.astype(np.float64).reshape(max(1, raw.size), point.size),
        eps=float(np.finfo(working).eps), dtype=working, method=opts.method,
        accuracy=opts.accuracy, step=opts.step, vectorized=opts.vectorized, workers=opts.workers,
    )


def _evaluate(f: Any, x: Array, args: tuple[Any, ...], vectorized: bool) -> Array:
    if vectorized:
        out = np.asarray(f(x[..., None], *args))
        if out.ndim == 0 or out.shape[-1] != 1:
            raise ValueError(f"vectorized `f` returned shape {out.shape} for a batch of one point; "
                             "expected f(x).shape + (1,).")
        out = out[..., 0]
    else:
        out = np.asarray(f(x, *args))
    if out.dtype.kind not in "biuf":
        raise TypeError(f"`f` must return real numbers, but f(x) has dtype {out.dtype}.")
    return out


def _analytic(deriv: Any, name: str, x: Array, args: tuple[Any, ...], out_shape: tuple[int, ...]) -> Array:
    raw = deriv(x, *args)
    try:
        value = np.asarray(raw)
    except Exception as exc:
        raise TypeError(f"`{name}` must return an array of numbers; converting its result "
                        f"({type(raw).__name__}) failed: {exc}") from None
    if value.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must return real numbers, but {name}(x) has dtype {value.dtype}.")
    expected = out_shape + x.shape
    if value.shape != expected:
        hint = ""
        if value.shape == x.shape + out_shape and out_shape:
            hint = " It looks transposed: the rows must be the outputs, the columns the inputs."
        what = "x's shape" if name == "grad" else "f(x).shape + x.shape"
        raise ValueError(f"`{name}` returned shape {value.shape}, expected {what} {expected}.{hint}")
    bad = ~np.isfinite(value)
    if bad.any():
        where = [tuple(int(i) for i in ix) for ix in np.argwhere(bad)[:5]]
        raise ValueError(f"`{name}` returned NaN or inf at x, at entries {where}: the analytic "
                         "derivative must be finite where it is checked.")
    return value


def column_estimates(p: Problem, cols: Array) -> tuple[Array, Array, Array, int]:
    """Numerical columns ``cols`` of the Jacobian: values and errors ``(m, k)``, steps ``(k,)``, nfev."""
    if len(cols) == p.n:
        func, point, step = p.f, p.x, p.step
    else:
        func = _Restricted(p.f, p.x, cols, p.vectorized)
        point = p.x.ravel()[cols]
        step = p.step
        if step is not None and np.ndim(step):
            step = np.broadcast_to(np.asarray(step, dtype=np.float64), p.x.shape).ravel()[cols]
    res = jacobian(func, point, method=p.method, accuracy=p.accuracy, step=step, f0=p.f0,
                   throw=False, vectorized=p.vectorized, workers=p.workers)
    value = np.asarray(res.value, dtype=np.float64).reshape(p.m, len(cols))
    error = np.asarray(res.error, dtype=np.float64).reshape(p.m, len(cols))
    bad = ~np.all(np.isfinite(value), axis=0)
    if bad.any():
        raise ValueError(p.undefined_message(f"along coordinate(s) {cols[bad][:10].tolist()}"))
    steps = np.broadcast_to(np.asarray(res.step, dtype=np.float64).ravel(), (len(cols),))
    return value, error, steps, res.nfev


def judge_columns(
    p: Problem, cols: Array, opts: Any
) -> tuple[list[EntryCheck], tuple[int, ...], int, list[str]]:
    """Verdict on every entry of the Jacobian columns `cols`, probing the doubtful columns again."""
    N, E, H, nfev = column_estimates(p, cols)
    A = p.A[:, cols]
    T = p.tolerance(A, E, opts)
    loose = p.loose(A, E)
    ok = np.abs(A - N) <= T
    entries: list[EntryCheck] = []
    nondiff: list[int] = []
    rescued = 0
    for c, j in enumerate(cols.tolist()):
        if np.all(ok[:, c] & ~loose[:, c]):
            entries += [_entry(p, i, j, A[i, c], N[i, c], E[i, c], T[i, c], "ok") for i in range(p.m)]
            continue
        probe, used = _probe(p, j, float(H[c]))
        nfev += used
        for i in range(p.m):
            entry = _settle(p, opts, i, j, A[i, c], (N[i, c], E[i, c]), probe)
            rescued += entry.status in ("ok", "weak") and not ok[i, c]
            entries.append(entry)
        if any(e.status in ("not differentiable", "kink accepted") for e in entries[-p.m:]):
            nondiff.append(j)
    notes = []
    if rescued:
        notes.append(f"{rescued} entr{'y' if rescued == 1 else 'ies'} disagreed at the default step "
                     "but agree at a finer one, where the two numerical estimates disagree with each "
                     "other: the default step was too coarse there, not the gradient wrong.")
    return entries, tuple(nondiff), nfev, notes


def _probe(p: Problem, j: int, h: float) -> tuple[dict[str, tuple[Array, Array]], int]:
    """Forward and backward slopes along coordinate `j`, and, where |x_j| > 1, a finer central estimate.

    Default steps grow with ``|x_j|``; where f varies on a scale much shorter than
    ``|x_j|`` (sin at 1e6) such a step steps over its structure and dfdx's estimate
    and its error bound can both be wrong. The second opinion then uses the step dfdx
    would take at ``|x_j| = 1`` (still moving x in the working precision), and the
    one-sided slopes use it too.
    """
    unit = np.zeros(p.n)
    unit[j] = 1.0
    e = unit.reshape(p.x.shape)
    common: dict[str, Any] = dict(f0=p.f0, throw=False, vectorized=p.vectorized, workers=p.workers)
    xj = abs(float(p.x.ravel()[j]))
    runs: dict[str, dict[str, Any]] = {"forward": dict(method="forward", accuracy=2),
                                       "backward": dict(method="backward", accuracy=2)}
    if xj > 1:
        least = 4 * float(np.spacing(np.asarray(xj, dtype=p.dtype)))
        fine = 2.0 ** math.ceil(math.log2(max(h / xj, least)))
        if fine < h:
            runs = {k: dict(r, step=fine) for k, r in runs.items()}
            runs["fine"] = dict(method="central", accuracy=4, step=fine)
    results = {k: directional(p.f, p.x, e, **r, **common) for k, r in runs.items()}
    out = {k: (np.asarray(r.value, dtype=np.float64).reshape(p.m),
               np.asarray(r.error, dtype=np.float64).reshape(p.m)) for k, r in results.items()}
    return out, sum(r.nfev for r in results.values())


def _settle(p: Problem, opts: Any, i: int, j: int, a: float, central: tuple[float, float],
            probe: dict[str, tuple[Array, Array]]) -> EntryCheck:
    """One doubtful entry, judged on every numerical estimate of it.

    In order: forward and backward slopes that differ beyond their errors mark a kink;
    an estimate whose error is within sqrt(eps) of the gradient's size is *tight*, and
    the entry is ok if a tight estimate agrees, wrong if tight ones exist and all
    disagree; with none tight, the most precise estimate decides, and agreement is
    only "weak". Where ``|x_j| > 1`` the default-step central estimate is left out
    when a finer one was made, since its step may step over the structure of f.
    """
    floor = ROUNDOFF * p.eps * (abs(a) + float(p.rowmax[i]))
    allowance = opts.atol + opts.rtol * abs(a)
    tight = math.sqrt(p.eps) * max(abs(a), float(p.rowmax[i]), np.finfo(np.float64).tiny)

    def tol(err: float) -> float:
        return float(opts.tolerance_factor * (err + floor) + allowance)

    est = {k: (float(v[0][i]), float(v[1][i])) for k, v in probe.items()}
    (fw, efw), (bw, ebw) = est["forward"], est["backward"]
    shown = est.get("fine", central)
    if np.isfinite(fw) and np.isfinite(bw) and abs(fw - bw) > tol(efw + ebw):
        status = "not differentiable"
        if opts.kinks == "accept":
            margin = tol(max(efw, ebw))
            inside = min(fw, bw) - margin <= a <= max(fw, bw) + margin
            status = "kink accepted" if inside else "mismatch"
        return _entry(p, i, j, a, *shown, tol(shown[1]), status, (fw, bw))
    candidates = [e for e in (est.get("fine", central), est["forward"], est["backward"])
                  if np.isfinite(e[0]) and np.isfinite(e[1])]
    if not candidates:
        return _entry(p, i, j, a, *central, tol(central[1]), "weak")
    sharp = [e for e in candidates if e[1] <= tight]
    if sharp:
        agreeing = [e for e in sharp if abs(a - e[0]) <= tol(e[1])]
        value, err = (agreeing or sorted(sharp, key=lambda e: e[1]))[0]
        status = "ok" if agreeing else "mismatch"
    else:
        value, err = min(candidates, key=lambda e: e[1])
        status = "weak" if abs(a - value) <= tol(err) else "mismatch"
    return _entry(p, i, j, a, value, err, tol(err), status, (fw, bw) if status == "mismatch" else None)


def _entry(p: Problem, i: int, j: int, a: float, value: float, err: float, tol: float, status: str,
           slopes: tuple[float, float] | None = None) -> EntryCheck:
    diff = abs(float(a) - float(value))
    size = max(abs(float(a)), abs(float(value)))
    rel = diff / size if diff else 0.0
    best = -math.log10(p.eps)
    digits = best if rel == 0 else min(best, max(0.0, -math.log10(rel)))
    index = tuple(int(k) for k in np.unravel_index(i * p.n + j, p.f0.shape + p.x.shape))
    return EntryCheck(index=index, analytic=float(a), numerical=float(value), numerical_error=float(err),
                      tolerance=float(tol), abs_error=diff, rel_error=rel, digits=round(digits, 2),
                      status=status, slopes=slopes)
