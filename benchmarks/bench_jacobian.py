"""Jacobians: dfdx vs SciPy's approx_derivative, scipy.differentiate and numdifftools.

The test functions are the gradients of the problem bank (vector functions of 1 to 8
variables) whose exact Jacobians are the bank's SymPy Hessians. For each method: the
median and worst relative error over the bank (``max |J - J_exact| / max(1, max |J_exact|)``),
the share of entries whose error estimate covers the true error (where there is one),
evaluations per column, and the median time per call -- all measured here, in one
process. Ratios are over dfdx's default.

Run: ``python benchmarks/bench_jacobian.py``
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
from scipy.differentiate import jacobian as scipy_jacobian  # noqa: E402
from scipy.optimize._numdiff import approx_derivative  # noqa: E402
from tests.bank import PROBLEMS  # noqa: E402

import dfdx  # noqa: E402

REPEATS = 5
SKIP = ("sin_large_x", "brown_badly_scaled")  # limits of every fixed-step rule


def gradient_function(p):
    raw = sp.lambdify([p.symbols], [sp.diff(p.expr, s) for s in p.symbols], modules="numpy")
    return lambda x: np.array(raw(list(np.asarray(x))), dtype=np.result_type(np.asarray(x), float))


class Counted:
    def __init__(self, f, batched=False):
        self.f, self.batched, self.points = f, batched, 0

    def __call__(self, x):
        x = np.asarray(x)
        if self.batched:  # scipy.differentiate: x of shape (n, ...) -> (m, ...)
            flat = x.reshape(x.shape[0], -1)
            self.points += flat.shape[1]
            out = np.stack([self.f(flat[:, k]) for k in range(flat.shape[1])], axis=-1)
            return out.reshape(out.shape[:1] + x.shape[1:])
        self.points += 1
        return self.f(x)


def dfdx_run(**options):
    def run(f, x):
        res = dfdx.jacobian(f, x, **options)
        return res.value, res.error

    return run


PEERS = [
    ("dfdx default (central 4)", dfdx_run(), False),
    ("dfdx central 2", dfdx_run(accuracy=2), False),
    ("dfdx forward", dfdx_run(method="forward"), False),
    ("dfdx complex", dfdx_run(method="complex"), False),
    ("scipy 3-point", lambda f, x: (approx_derivative(f, x, method="3-point"), None), False),
    ("scipy 2-point", lambda f, x: (approx_derivative(f, x, method="2-point"), None), False),
    ("scipy cs", lambda f, x: (approx_derivative(f, x, method="cs"), None), False),
    ("scipy.differentiate", lambda f, x: (lambda r: (r.df, r.error))(scipy_jacobian(f, x)), True),
    ("numdifftools", lambda f, x: (nd.Jacobian(f)(x).reshape(x.size, x.size), None), False),
]


def main() -> None:
    problems = [p for p in PROBLEMS if p.name not in SKIP]
    rows = []
    for name, run, batched in PEERS:
        errors, covered, total, per_column, times = [], 0, 0, [], []
        for p in problems:
            g = gradient_function(p)
            exact = p.exact_hessian
            counted = Counted(g, batched)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value, error = run(counted, p.x)
                value = np.asarray(value).reshape(exact.shape)
                repeat = []
                for _ in range(REPEATS):
                    t0 = time.perf_counter()
                    run(Counted(g, batched), p.x)
                    repeat.append(time.perf_counter() - t0)
            times.append(statistics.median(repeat))
            errors.append(float(np.max(np.abs(value - exact)) / max(1.0, float(np.max(np.abs(exact))))))
            per_column.append(counted.points / p.x.size)
            if error is not None:
                covered += int(np.sum(np.abs(value - exact) <= np.asarray(error).reshape(exact.shape)))
                total += exact.size
        rows.append(
            (
                name,
                float(np.median(errors)),
                max(errors),
                covered / total if total else None,
                float(np.median(per_column)),
                float(np.median(times)),
            )
        )
    base = rows[0]
    head = (
        f"{'method':26s} {'median err':>10s} {'worst err':>9s} {'covered':>8s} {'nfev/col':>8s} "
        f"{'time us':>8s} {'err/dfdx':>8s} {'time/dfdx':>9s}"
    )
    print(head)
    print("-" * len(head))
    for name, med, worst, cov, per, t in rows:
        shown = "-" if cov is None else f"{100 * cov:.0f}%"
        print(
            f"{name:26s} {med:10.1e} {worst:9.1e} {shown:>8s} {per:8.1f} {1e6 * t:8.0f} "
            f"{med / base[1]:8.2g} {t / base[5]:9.1f}"
        )
    print(
        f"\n({len(problems)} bank problems; nfev/col = median evaluations per column, f(x) "
        f"included; times are medians of {REPEATS} calls, then the median over problems)"
    )


if __name__ == "__main__":
    main()
