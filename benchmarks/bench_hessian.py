"""Hessians of 10-variable functions from f alone: dfdx vs numdifftools vs scipy.differentiate.

``dfdx acc=6`` is the order-6 rule on every line (331 evaluations), for comparison.

For each function: evaluations of f (points), the worst entry's error relative to the
largest entry of the exact Hessian (SymPy, 50 digits), whether the error estimate
covers the true error, and the median wall time of repeated calls -- all measured here,
in one process. Ratios are the peer's figure over dfdx's.

Run: ``python benchmarks/bench_hessian.py``
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings

import numpy as np
import sympy as sp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numdifftools as nd  # noqa: E402
from scipy.differentiate import hessian as scipy_hessian  # noqa: E402
from tests.bank import Problem  # noqa: E402

import dfdx  # noqa: E402

N = 10
REPEATS = 5


def problems() -> list[Problem]:
    x = [sp.Symbol(f"x{i}") for i in range(N)]
    point = tuple(0.1 * (i + 1) * (-1) ** i for i in range(N))
    rosen = sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(N - 1))
    lse = sp.log(sum(sp.exp((i % 3 + 1) * x[i] - x[(i + 1) % N] / 2) for i in range(N)))
    trig = sum(sp.sin(x[i]) * sp.cos(x[(i + 1) % N]) for i in range(N)) + sp.exp(sum(x) / N)
    quartic = sum((i + 1) * x[i] ** 4 for i in range(N)) + sum(x[i] * x[i + 1] for i in range(N - 1))
    return [
        Problem("rosenbrock_10", rosen, point),
        Problem("logsumexp_10", lse, point),
        Problem("trig_10", trig, point),
        Problem("quartic_10", quartic, point),
    ]


class Counted:
    """f counting its points; `batched` for scipy.differentiate's vectorized calls."""

    def __init__(self, f, batched: bool = False):
        self.f, self.batched, self.calls = f, batched, 0

    def __call__(self, x):
        x = np.asarray(x)
        if self.batched:
            points = x.reshape(N, -1)
            self.calls += points.shape[1]
            values = np.array([self.f(points[:, k]) for k in range(points.shape[1])])
            return values.reshape(x.shape[1:])
        self.calls += 1
        return self.f(x)


def run_dfdx(p, f):
    return dfdx.hessian(f, p.x).value


def run_dfdx6(p, f):
    return dfdx.hessian(f, p.x, accuracy=6).value


def run_nd(p, f):
    return nd.Hessian(f)(p.x)


def run_scipy(p, f):
    return scipy_hessian(f, p.x).ddf


PEERS = [
    ("dfdx", run_dfdx, False),
    ("dfdx acc=6", run_dfdx6, False),
    ("numdifftools", run_nd, False),
    ("scipy.differentiate", run_scipy, True),
]


def measure(p, run, batched):
    counted = Counted(p.f, batched)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = run(p, counted)
        times = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            run(p, Counted(p.f, batched))
            times.append(time.perf_counter() - t0)
    exact = p.exact_hessian
    error = float(np.max(np.abs(value - exact)) / np.max(np.abs(exact)))
    return counted.calls, error, statistics.median(times)


def main() -> None:
    rows = []
    for p in problems():
        res = dfdx.hessian(p.f, p.x)
        covered = bool(np.all(np.abs(res.value - p.exact_hessian) <= res.error))
        base = None
        for name, run, batched in PEERS:
            nfev, err, t = measure(p, run, batched)
            if base is None:
                base = (nfev, err, t)
            rows.append(
                (
                    p.name,
                    name,
                    nfev,
                    err,
                    t,
                    nfev / base[0],
                    err / max(base[1], 1e-300),
                    t / base[2],
                    covered if name == "dfdx" else None,
                )
            )
    head = (
        f"{'function':15s} {'method':20s} {'nfev':>7s} {'rel. error':>10s} {'time ms':>8s} "
        f"{'nfev/dfdx':>9s} {'err/dfdx':>9s} {'time/dfdx':>9s}"
    )
    print(head)
    print("-" * len(head))
    for name, peer, nfev, err, t, rn, re, rt, cov in rows:
        note = "" if cov is None else f"  error estimate covers: {cov}"
        print(
            f"{name:15s} {peer:20s} {nfev:7d} {err:10.1e} {1e3 * t:8.2f} {rn:9.1f} {re:9.2g} {rt:9.1f}{note}"
        )
    print("\nTarget: dfdx's error <= numdifftools' with at most a tenth of its evaluations")
    for p in problems():
        mine = next(r for r in rows if r[0] == p.name and r[1] == "dfdx")
        peer = next(r for r in rows if r[0] == p.name and r[1] == "numdifftools")
        met = mine[3] <= peer[3] and 10 * mine[2] <= peer[2]
        print(
            f"  {p.name:15s} evaluations {mine[2]} vs {peer[2]} (limit {peer[2] // 10}), error "
            f"{mine[3]:.1e} vs {peer[3]:.1e}: {'met' if met else 'not met'}"
        )
    print(
        f"\n(n = {N}; relative error = max |H - H_exact| / max |H_exact|; times are medians of "
        f"{REPEATS} calls)"
    )


if __name__ == "__main__":
    main()
