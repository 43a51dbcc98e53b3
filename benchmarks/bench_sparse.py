"""Sparse Jacobians: dfdx with `sparsity=` vs dense dfdx vs SciPy's approx_derivative.

A tridiagonal f: R^n -> R^n (a discretised nonlinear boundary-value problem) at
n = 200, 1000 and 4000 (dense methods only up to 1000). For each method: evaluations
of f, groups of columns, worst absolute error against the analytic Jacobian, and the
median wall time of repeated calls, all measured here, in one process. The last
column is the time over sparse dfdx's.

Run: ``python benchmarks/bench_sparse.py``
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import scipy.sparse as sps
from scipy.optimize._numdiff import approx_derivative  # the engine behind least_squares' jac

import dfdx
from dfdx.engine.sparse import _GROUPS, group_columns

REPEATS = 5


def chain(x):
    y = np.empty_like(x)
    y[0] = x[0] ** 2 - x[1]
    y[1:-1] = np.sin(x[1:-1]) + x[:-2] * x[2:]
    y[-1] = np.exp(x[-1]) - x[-2]
    return y


def exact(x):
    n = x.size
    jac = np.zeros((n, n))
    jac[0, 0], jac[0, 1] = 2 * x[0], -1.0
    i = np.arange(1, n - 1)
    jac[i, i], jac[i, i - 1], jac[i, i + 1] = np.cos(x[i]), x[i + 1], x[i - 1]
    jac[n - 1, n - 1], jac[n - 1, n - 2] = np.exp(x[-1]), -1.0
    return jac


class Counted:
    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return chain(x)


def timed(run):
    counted = Counted()
    value = run(counted)
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        run(Counted())
        times.append(time.perf_counter() - t0)
    if sps.issparse(value):
        value = value.toarray()
    return np.asarray(value), counted.calls, statistics.median(times)


def methods(n, pattern):
    def cold(f, x):
        _GROUPS.clear()  # the column grouping is remembered per pattern; time it too
        return dfdx.jacobian(f, x, sparsity=pattern).value

    out = [
        ("dfdx sparse", lambda f, x: dfdx.jacobian(f, x, sparsity=pattern).value),
        ("dfdx sparse, cold", cold),
        ("dfdx sparse acc=2", lambda f, x: dfdx.jacobian(f, x, sparsity=pattern, accuracy=2).value),
        ("scipy 3-point sparse", lambda f, x: approx_derivative(f, x, method="3-point", sparsity=pattern)),
    ]
    if n <= 1000:
        out += [
            ("dfdx dense", lambda f, x: dfdx.jacobian(f, x).value),
            ("scipy 3-point dense", lambda f, x: approx_derivative(f, x, method="3-point")),
        ]
    return out


def main() -> None:
    head = (
        f"{'n':>5s} {'method':22s} {'groups':>6s} {'nfev':>6s} {'max abs error':>13s} "
        f"{'time ms':>9s} {'time/sparse':>11s}"
    )
    print(head)
    print("-" * len(head))
    for n in (200, 1000, 4000):
        x = np.linspace(0.1, 1.0, n)
        pattern = sps.csc_array(sps.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(n, n)))
        groups = int(group_columns(pattern).max()) + 1
        truth = exact(x)
        base = None
        for name, method in methods(n, pattern):
            value, nfev, t = timed(lambda f, m=method, x=x: m(f, x))
            base = base or t
            shown = groups if "sparse" in name else n
            print(
                f"{n:5d} {name:22s} {shown:6d} {nfev:6d} {np.max(np.abs(value - truth)):13.1e} "
                f"{1e3 * t:9.2f} {t / base:11.1f}"
            )
    print(
        f"\n(times are medians of {REPEATS} calls; 'cold' includes grouping the columns, which "
        "dfdx remembers per pattern; scipy = scipy.optimize._numdiff.approx_derivative)"
    )


if __name__ == "__main__":
    main()
