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

from .._api import jacobian, value_at
from .._validate import as_function, as_point, as_step
from ..stencils import make_stencil
from .report import CheckReport, DirectionCheck, EntryCheck

__all__ = ["Problem", "setup", "column_estimates", "ROUNDOFF"]

Array = NDArray[Any]

#: Round-off floor of the analytic side, in units of eps times the size of its row:
#: a gradient computed in floating point carries a few ulps of the terms it sums.
ROUNDOFF = 8.0
#: Order of the entry statuses in the report, worst first.
_RANK = {"mismatch": 0, "not differentiable": 1, "inconclusive": 2, "kink accepted": 3, "weak": 4, "ok": 5}


class _Prepared:
    """``f(x, *args)``, its output cast to the working precision when f returns finer values.

    A class rather than a closure so that process pools can pickle it.
    """

    def __init__(
        self, f: Any, args: tuple[Any, ...], dtype: np.dtype[Any] | None, squeeze: bool = False
    ) -> None:
        self.f, self.args, self.dtype, self.squeeze = f, args, dtype, squeeze

    def __call__(self, x: Any) -> Any:
        value = self.f(x, *self.args)
        if self.squeeze:  # a scalar returned as shape (1,) (or (1, k) for a batch)
            value = np.asarray(value)[0]
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
    numerical: dict[str, Any]
    #: With a store: the user's own f, its args and f(x) as f gave it (the store's keys).
    store: Any = None
    direct: tuple[Any, tuple[Any, ...], Array] | None = None
    fx_nfev: int = 1  # 0 when f(x) was read from the store

    def calling(self) -> tuple[Any, dict[str, Any]]:
        """f for the front-ends at whole points, with its keywords (f(x), args, store).

        With a store, f itself and its args, so that the points are looked up and recorded
        under the keys any other call of f with that store uses; otherwise f prepared.
        """
        if self.direct is None:
            return self.f, {"f0": self.f0}
        f, args, raw = self.direct
        return f, {"f0": raw, "args": args, "store": self.store}

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
        return np.asarray(
            opts.tolerance_factor * (error + self.floor(analytic)) + opts.atol + opts.rtol * np.abs(analytic)
        )

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
        check = 1 if stencil.kind != "central" and stencil.accuracy == 1 else 2  # each column's check
        return 1 + self.n * (int(np.count_nonzero(stencil.offsets)) + check)

    def report(
        self,
        opts: Any,
        entries: list[EntryCheck],
        nondiff: tuple[int, ...],
        nfev: int,
        directions: tuple[DirectionCheck, ...],
        seed: int | None,
        notes: list[str],
    ) -> CheckReport:
        """Assemble the :class:`CheckReport` (`nfev` excludes f(x), counted here unless read)."""
        ranked = sorted(entries, key=lambda e: (_RANK[e.status], -e.ratio))
        shown = [e for e in ranked if e.status != "ok"]
        shown += [e for e in ranked if e.status == "ok"][: opts.show]
        mismatches = tuple(e.index for e in ranked if e.status == "mismatch")
        undecided = any(e.status == "not differentiable" for e in entries)
        unverified = sum(e.status == "inconclusive" for e in entries)
        verdict = "fail" if mismatches else ("not differentiable" if undecided else "pass")
        if verdict == "pass" and unverified:
            verdict = "inconclusive"
        weak = sum(e.status == "weak" for e in entries)
        if weak:
            notes = notes + [
                f"{weak} entr{'y agrees' if weak == 1 else 'ies agree'} but could only be checked "
                "loosely: the numerical error there exceeds sqrt(eps) of the gradient's size."
            ]
        if unverified:
            notes = notes + [
                f"{unverified} entr{'y' if unverified == 1 else 'ies'} could not be verified: dfdx's "
                "numerical error there is as large as the entry itself (f is large beside the change "
                "the entry makes, even at a step of its own), so a wrong value, even of the wrong "
                "sign, would agree too. Check them at another point, or scale the problem."
            ]
        if undecided and opts.kinks == "report":
            notes = notes + ["pass kinks='accept' to accept any value between the one-sided slopes."]
        return CheckReport(
            passed=verdict == "pass",
            verdict=verdict,
            kind=self.kind,
            mode=opts.mode,
            shape=self.f0.shape + self.x.shape,
            dtype=str(self.dtype),
            entries=tuple(shown),
            mismatches=mismatches,
            nondifferentiable=nondiff,
            directions=directions,
            seed=seed,
            nfev=nfev + self.fx_nfev,
            nfev_full=self.nfev_full(),
            ngrad=1,
            tolerance=self.describe(opts),
            notes=tuple(notes),
            show=opts.show,
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
            text += (
                "; along a random direction v, the same summed over the entries with weights "
                "|v_j|, against dfdx's derivative along v (central, accuracy 2)"
            )
        return text


def _foreign(x: Any) -> bool:
    """An array of another library (torch, JAX, CuPy, an array-API array), which f expects back."""
    if isinstance(x, (np.ndarray, np.generic)):
        return False
    library = type(x).__module__.split(".")[0]
    return hasattr(x, "__array_namespace__") or library in {"torch", "jax", "jaxlib", "cupy"}


def _point(x: Any, kind: str) -> Any:
    """x as one array; a structure of parameters (a dict of arrays) gets the recipe that checks it."""
    if _foreign(x):
        raise TypeError(
            f"check_{kind} takes x as a NumPy array, and f and its {kind} then receive NumPy "
            f"arrays; x is a {type(x).__module__}.{type(x).__qualname__}: wrap f and the {kind} "
            "to convert (docs/checking.md, 'PyTorch' and 'JAX', shows how)."
        )
    try:
        return as_point(x)
    except TypeError:
        if not isinstance(x, (dict, list, tuple)):
            raise
        raise TypeError(
            f"check_{kind} takes x as one array, not a structure of parameters (a dict, list or "
            "tuple of arrays): flatten x with `flat, unravel = dfdx.trees.ravel(x)` and check f "
            f"and its {kind} on the flat vector (docs/checking.md, 'Parameters in a dict', shows how)."
        ) from None


def setup(kind: str, f: Any, deriv: Any, x: Any, opts: Any, args: Any) -> Problem:
    """Validate the inputs, evaluate f(x) and the analytic derivative once."""
    name = "grad" if kind == "gradient" else "jac"
    as_function(f, "f")
    as_function(deriv, name)
    point = _point(x, kind)
    as_step(opts.step, point.shape)
    args = args if isinstance(args, tuple) else (args,)
    fresh = 1
    if opts.store is None:
        raw = _evaluate(f, point, args, opts.vectorized)
    else:
        found, fresh = value_at(f, point, args=args, store=opts.store, vectorized=opts.vectorized)
        raw = _checked_value(found)
    given = raw
    squeeze = kind == "gradient" and raw.shape == (1,)
    raw = raw[0] if squeeze else raw
    if kind == "gradient" and raw.shape != ():
        raise ValueError(
            f"`f` must return a scalar for check_gradient, but f(x) has shape {raw.shape}; "
            "use dfdx.check_jacobian for vector-valued f."
        )
    if not np.all(np.isfinite(raw)):
        raise ValueError(
            f"`f` is not finite at x (f(x) = {raw}): x is outside f's domain; "
            "check the derivative at a point where f is defined."
        )
    analytic = _analytic(deriv, name, point, args, raw.shape)
    dtypes = [point.dtype, raw.dtype, analytic.dtype] + ([opts.dtype] if opts.dtype is not None else [])
    working = max(
        (np.dtype(d) for d in dtypes if np.dtype(d).kind == "f"),
        key=lambda d: np.finfo(d).eps,
        default=np.dtype(np.float64),
    )
    cast = working if raw.dtype.kind != "f" or np.finfo(raw.dtype).eps < np.finfo(working).eps else None
    f0 = raw.astype(working) if cast is not None else raw
    if opts.store is not None and cast is not None and raw.dtype.kind == "f":
        raise ValueError(
            f"`store=` records f's own values, but this check rounds them to {working} (x or `dtype` "
            f"is coarser than f(x), {raw.dtype}); check without store=, or at a {raw.dtype} x."
        )
    return Problem(
        kind=kind,
        f=_Prepared(f, args, cast, squeeze),
        x=point,
        f0=f0,
        A=analytic.astype(np.float64).reshape(max(1, raw.size), point.size),
        eps=float(np.finfo(working).eps),
        dtype=working,
        method=opts.method,
        accuracy=opts.accuracy,
        step=opts.step,
        vectorized=opts.vectorized,
        workers=opts.workers,
        numerical=opts.numerical,
        store=opts.store,
        direct=None if opts.store is None else (f, args, given),
        fx_nfev=fresh,
    )


def _evaluate(f: Any, x: Array, args: tuple[Any, ...], vectorized: bool) -> Array:
    if vectorized:
        out = np.asarray(f(x[..., None], *args))
        if out.ndim == 0 or out.shape[-1] != 1:
            raise ValueError(
                f"vectorized `f` returned shape {out.shape} for a batch of one point; "
                "expected f(x).shape + (1,)."
            )
        out = out[..., 0]
    else:
        out = np.asarray(f(x, *args))
    return _checked_value(out)


def _checked_value(value: Any) -> Array:
    """f(x) as an array of real numbers."""
    out: Array = np.asarray(value)
    if out.dtype.kind not in "biuf":
        raise TypeError(f"`f` must return real numbers, but f(x) has dtype {out.dtype}.")
    return out


def _analytic(deriv: Any, name: str, x: Array, args: tuple[Any, ...], out_shape: tuple[int, ...]) -> Array:
    raw = deriv(x, *args)
    try:
        value = np.asarray(raw)
    except Exception as exc:
        raise TypeError(
            f"`{name}` must return an array of numbers; converting its result "
            f"({type(raw).__name__}) failed: {exc}"
        ) from None
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
        raise ValueError(
            f"`{name}` returned NaN or inf at x, at entries {where}: the analytic "
            "derivative must be finite where it is checked."
        )
    return value


def column_estimates(p: Problem, cols: Array) -> tuple[Array, Array, Array, int]:
    """Numerical columns ``cols`` of the Jacobian: values and errors ``(m, k)``, steps ``(k,)``, nfev."""
    extra: dict[str, Any] = {"f0": p.f0}
    if len(cols) == p.n:
        (func, extra), point, step = p.calling(), p.x, p.step
    else:
        func = _Restricted(p.f, p.x, cols, p.vectorized)
        point = p.x.ravel()[cols]
        step = p.step
        if step is not None and np.ndim(step):
            step = np.broadcast_to(np.asarray(step, dtype=np.float64), p.x.shape).ravel()[cols]
    res = jacobian(
        func,
        point,
        method=p.method,
        accuracy=p.accuracy,
        step=step,
        throw=False,
        vectorized=p.vectorized,
        workers=p.workers,
        **extra,
        **p.numerical,
    )
    value = np.asarray(res.value, dtype=np.float64).reshape(p.m, len(cols))
    error = np.asarray(res.error, dtype=np.float64).reshape(p.m, len(cols))
    bad = ~np.all(np.isfinite(value), axis=0)
    if bad.any():
        raise ValueError(p.undefined_message(f"along coordinate(s) {cols[bad][:10].tolist()}"))
    steps = np.broadcast_to(np.asarray(res.step, dtype=np.float64).ravel(), (len(cols),))
    return value, error, steps, res.nfev
