"""Accuracy, honesty of error estimates, cost and speed on the problem bank, side by side.

Run as ``python benchmarks/bench_accuracy.py`` from the repository root. Compares dfdx's
modes with ``scipy.differentiate.jacobian`` (f vectorized: the bank's functions broadcast
over trailing axes), ``numdifftools.Gradient``, SciPy's ``approx_derivative`` (3-point)
and ``fdm`` (central, order 5), all in this one process on the same functions.

Definitions (per gradient component ``i``, exact gradient ``g`` from SymPy):

- scale ``s_i = |g_i|``, or ``max_j |g_j|`` where ``g_i = 0`` exactly (a zero component is
  judged relative to the gradient's size, since it has no size of its own);
- correct digits ``-log10(|err_i| / s_i)`` clipped to ``[0, 16]`` (16 for an exact
  answer, 0 for NaN);
- covered: the reported error estimate is ``>= |err_i|`` (an infinite estimate covers);
- over-estimate: ``estimate / max(|err_i|, eps s_i)``: below one ulp the true error is
  rounding luck, so it is floored there; the median is over components;
- evaluations per coordinate: points at which f was evaluated, over ``n`` (median over
  problems); time: median over repeats of one gradient, then median over problems. The
  methods take turns within each repeat, so that a change of machine load hits all alike.

The last lines compare dfdx's adaptive mode with ``scipy.differentiate`` and numdifftools,
the two peers that also estimate their error adaptively.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tests.bank import EXTENDED as PROBLEMS  # noqa: E402
from tests.bank import Problem  # noqa: E402

import dfdx  # noqa: E402

EPS = float(np.finfo(np.float64).eps)
REPEATS = 7
#: Misses listed per method in the anatomy lines.
SHOWN = 6


#: Cost per point of the "expensive f" timing (a busy wait), in seconds.
EXPENSIVE = 50e-6


class Counted:
    """f with a count of the points it was evaluated at (a batch of k counts k).

    With `cost`, every point also costs that many seconds (a busy wait), as a
    simulation or a solver would: then time follows the number of evaluations.
    """

    def __init__(self, f: Callable[[Any], Any], n: int, cost: float = 0.0):
        self.f, self.n, self.points, self.cost = f, n, 0, cost

    def __call__(self, x: Any) -> Any:
        x = np.asarray(x)
        k = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
        self.points += k
        if self.cost:
            until = time.perf_counter() + k * self.cost
            while time.perf_counter() < until:
                pass
        return self.f(x)


def scipy_differentiate(p: Problem, f: Counted) -> tuple[Any, Any]:
    from scipy.differentiate import jacobian

    res = jacobian(lambda x: np.asarray(f(x)) + 0 * x[0], p.x)
    return res.df, res.error


def numdifftools(p: Problem, f: Counted) -> tuple[Any, Any]:
    import numdifftools as nd

    out = nd.Gradient(f, full_output=True)(p.x)
    return np.atleast_1d(out.estimate), np.atleast_1d(np.squeeze(out.error_estimate))


def approx_derivative(p: Problem, f: Counted) -> tuple[Any, Any]:
    from scipy.optimize._numdiff import approx_derivative as ad

    return ad(f, p.x, method="3-point"), None


def fdm_central(p: Problem, f: Counted) -> tuple[Any, Any]:
    import fdm

    return fdm.gradient(f, method=fdm.central_fdm(order=5, deriv=1))(p.x), None


def dfdx_mode(**options: Any) -> Callable[[Problem, Counted], tuple[Any, Any]]:
    def run(p: Problem, f: Counted) -> tuple[Any, Any]:
        res = dfdx.gradient(f, p.x, throw=False, **options)
        return res.value, res.error

    return run


METHODS: dict[str, Callable[[Problem, Counted], tuple[Any, Any]]] = {
    "dfdx adaptive": dfdx_mode(adaptive=True),
    "dfdx default": dfdx_mode(),
    "dfdx forward": dfdx_mode(method="forward"),
    "dfdx complex": dfdx_mode(method="complex"),
    "dfdx central-2": dfdx_mode(accuracy=2),
    "scipy.differentiate": scipy_differentiate,
    "numdifftools": numdifftools,
    "approx_derivative": approx_derivative,
    "fdm central-5": fdm_central,
}


def scales(g: np.ndarray) -> np.ndarray:
    return np.where(g != 0, np.abs(g), np.max(np.abs(g)))


def digits(value: Any, g: np.ndarray) -> np.ndarray:
    err = np.abs(np.asarray(value, dtype=float) - g)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = -np.log10(err / scales(g))
    return np.clip(np.nan_to_num(d, nan=0.0, posinf=16.0), 0, 16)


def honesty(value: Any, error: Any, g: np.ndarray) -> dict[str, np.ndarray]:
    """Per component: true error, estimate, scale, whether covered, and the over-estimate."""
    err = np.abs(np.asarray(value, dtype=float).ravel() - g)
    est = np.asarray(error, dtype=float).ravel()
    scale = scales(g)
    covered = np.isinf(est) | (est >= err)
    return {
        "err": err,
        "est": est,
        "scale": scale,
        "covered": covered,
        "over": est / np.maximum(err, EPS * scale),
    }


def measure(name: str, run: Callable[[Problem, Counted], tuple[Any, Any]]) -> dict[str, Any]:
    """Accuracy, honesty and cost of one method over the bank (timing is separate)."""
    dig, evals, parts, misses = [], [], [], []
    for p in PROBLEMS:
        g = p.exact_gradient
        counted = Counted(p.f, p.x.size)
        value, error = run(p, counted)
        evals.append(counted.points / p.x.size)
        dig.append(digits(value, g))
        if error is not None:
            h = honesty(value, error, g)
            parts.append(h)
            misses += [f"{p.name}[{i}] {h['over'][i]:.2g}" for i in np.flatnonzero(~h["covered"])]
    d = np.concatenate(dig)
    out = {
        "name": name,
        "median digits": np.median(d),
        "p10 digits": np.percentile(d, 10),
        "evals/coord": np.median(evals),
    }
    if parts:
        h = {key: np.concatenate([q[key] for q in parts]) for key in parts[0]}
        out["coverage %"] = 100 * h["covered"].mean()
        out["median over"] = np.median(h["over"][np.isfinite(h["over"])])
        out["anatomy"] = anatomy(h, misses)
    return out


def anatomy(h: dict[str, np.ndarray], misses: list[str]) -> str:
    """Where a method's coverage and over-estimate come from (see the README's honesty notes).

    "below an ulp": components whose true error is below an ulp of their scale, where the
    over-estimate is measured against that ulp. "scaled to 10x": the coverage if every
    estimate were multiplied by the one factor that brings the median over-estimate to
    10x -- what a uniformly tighter estimate of the same shape would give.
    """
    err, est, over = h["err"], h["est"], h["over"]
    finite = np.isfinite(over)
    lucky = err < EPS * h["scale"]
    factor = 10.0 / np.median(over[finite])
    scaled = np.isinf(est) | (est * factor >= err)
    return (
        f"below an ulp {100 * lucky.mean():.0f}% (median over {np.median(over[lucky & finite]):.3g}), "
        f"others median over {np.median(over[~lucky & finite]):.3g}; scaled to 10x: "
        f"cover {100 * scaled.mean():.1f}%; {len(misses)} misses{': ' if misses else ''}"
        + ", ".join(misses[:SHOWN])
        + (f", +{len(misses) - SHOWN} more" if len(misses) > SHOWN else "")
    )


def timings(cost: float = 0.0, repeats: int = REPEATS) -> dict[str, float]:
    """Median time per gradient (ms), methods interleaved so that machine load hits all alike."""
    laps: dict[str, list[list[float]]] = {name: [] for name in METHODS}
    for p in PROBLEMS:
        per: dict[str, list[float]] = {name: [] for name in METHODS}
        for _ in range(repeats):
            for name, run in METHODS.items():
                start = time.perf_counter()
                run(p, Counted(p.f, p.x.size, cost))
                per[name].append(time.perf_counter() - start)
        for name in METHODS:
            laps[name].append(per[name])
    return {name: 1e3 * float(np.median([np.median(t) for t in laps[name]])) for name in METHODS}


def main() -> None:
    n = sum(p.x.size for p in PROBLEMS)
    print(f"{len(PROBLEMS)} problems, {n} gradient components; medians of {REPEATS} repeats\n")
    rows = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for name, run in METHODS.items():
            rows.append(measure(name, run))
        for row, ms in zip(rows, timings().values(), strict=True):
            row["time ms"] = ms
        for row, ms in zip(rows, timings(EXPENSIVE, 1).values(), strict=True):
            row["time ms, expensive f"] = ms
    head = (
        f"{'method':22s} {'med dig':>8s} {'p10 dig':>8s} {'ev/coord':>9s} {'ms/grad':>8s} "
        f"{'cover %':>8s} {'med over':>9s}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        cov = (
            f"{r['coverage %']:8.1f} {r['median over']:9.1f}" if "coverage %" in r else f"{'-':>8s} {'-':>9s}"
        )
        print(
            f"{r['name']:22s} {r['median digits']:8.2f} {r['p10 digits']:8.2f} {r['evals/coord']:9.1f} "
            f"{r['time ms']:8.3f} {cov}"
        )
    print("\nAnatomy of the error estimates (misses: problem[component] estimate/true):")
    for r in rows:
        if "anatomy" in r:
            print(f"  {r['name']:22s} {r['anatomy']}")
    ada = rows[0]
    print(f"\nTime per gradient over dfdx adaptive's (cheap f; f costing {1e6 * EXPENSIVE:.0f} us a point):")
    for r in rows[1:]:
        cheap = r["time ms"] / ada["time ms"]
        dear = r["time ms, expensive f"] / ada["time ms, expensive f"]
        print(f"  {r['name']:22s} {cheap:6.2f}x {dear:8.2f}x")
    peers = {r["name"]: r for r in rows if r["name"] in ("scipy.differentiate", "numdifftools")}
    faster = all(r["time ms"] > ada["time ms"] for r in peers.values())
    print(
        f"\ndfdx adaptive {ada['time ms']:.3f} ms per gradient (cheap f) vs "
        + ", ".join(f"{name} {r['time ms']:.3f} ms" for name, r in peers.items())
        + f": {'faster than both' if faster else 'NOT faster than both'}."
    )


if __name__ == "__main__":
    main()
