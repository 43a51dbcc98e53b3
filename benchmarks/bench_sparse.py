"""Sparse Jacobians and Hessians: dfdx with and without a pattern against SciPy, side by side.

Sections (``python benchmarks/bench_sparse.py [chain|laplace|hessian|dask|all]``):

chain
    A tridiagonal f: R^n -> R^n at n = 200, 1000, 4000: dfdx with the pattern given,
    dense dfdx and SciPy's ``approx_derivative`` (dense methods up to n = 1000).
laplace
    The residual of a 2-D Laplacian with a cubic term (5-point stencil on an N x N grid,
    vectorized), n = 10^4, 10^5, 10^6: dfdx with ``sparsity='auto'`` (detection, colouring
    and the Jacobian, nothing cached between calls) against SciPy's 3-point
    ``approx_derivative`` given the true pattern; colours against SciPy's grouping, worst
    error against the exact Jacobian, time ratio, peak memory (tracemalloc, a separate run).
hessian
    Sparse Hessians from a gradient at n = 10^4: an arrowhead (ARWHEAD), a banded function
    (bandwidth 5) and a partially separable one (blocks sharing three parameters): the
    star colouring of ``hessian(grad=..., sparsity=...)`` against the column grouping
    (distance-2 colouring) of ``jacobian(grad, sparsity=...)``, in gradient evaluations.
dask
    The n = 10^6 Laplacian Jacobian through a 2-process Dask LocalCluster against serial.

Every figure is measured here, in one process; times are medians of repeats.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc

import numpy as np
import scipy.sparse as sps
from scipy.optimize._numdiff import approx_derivative  # the engine behind least_squares' jac
from scipy.optimize._numdiff import group_columns as scipy_groups

import dfdx
from dfdx.engine import sparse, sparse_calls
from dfdx.numerics.coloring import column_groups, count

# -- chain: a given tridiagonal pattern -------------------------------------------------------


def chain(x):
    y = np.empty_like(x)
    y[0] = x[0] ** 2 - x[1]
    y[1:-1] = np.sin(x[1:-1]) + x[:-2] * x[2:]
    y[-1] = np.exp(x[-1]) - x[-2]
    return y


def chain_exact(x):
    n = x.size
    jac = np.zeros((n, n))
    jac[0, 0], jac[0, 1] = 2 * x[0], -1.0
    i = np.arange(1, n - 1)
    jac[i, i], jac[i, i - 1], jac[i, i + 1] = np.cos(x[i]), x[i + 1], x[i - 1]
    jac[n - 1, n - 1], jac[n - 1, n - 2] = np.exp(x[-1]), -1.0
    return jac


def median_time(run, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_chain(repeats=5):
    print("\n== chain: tridiagonal f, pattern given ==")
    head = f"{'n':>5s} {'method':22s} {'groups':>6s} {'nfev':>6s} {'max abs error':>13s}"
    print(f"{head} {'time ms':>9s} {'ratio':>6s}")
    for n in (200, 1000, 4000):
        x = np.linspace(0.1, 1.0, n)
        pattern = sps.csc_array(sps.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(n, n)))
        truth = chain_exact(x)
        base = None
        for name, run in _chain_methods(x, pattern):
            out = run()
            value = out.value if hasattr(out, "nfev") else out
            value = value.toarray() if sps.issparse(value) else np.asarray(value)
            nfev = out.nfev if hasattr(out, "nfev") else -1
            t = median_time(run, repeats)
            base = base or t
            groups = count(sparse.group_columns(pattern)) if "dfdx sparse" in name else n
            groups = int(scipy_groups(pattern).max()) + 1 if name == "scipy 3-point sparse" else groups
            print(
                f"{n:5d} {name:22s} {groups:6d} {nfev:6d} {np.max(np.abs(value - truth)):13.1e} "
                f"{1e3 * t:9.2f} {t / base:6.2f}"
            )


def _chain_methods(x, pattern):
    methods = [
        ("dfdx sparse", lambda: dfdx.jacobian(chain, x, sparsity=pattern)),
        ("dfdx sparse acc=2", lambda: dfdx.jacobian(chain, x, sparsity=pattern, accuracy=2)),
        ("scipy 3-point sparse", lambda: approx_derivative(chain, x, method="3-point", sparsity=pattern)),
    ]
    if x.size <= 1000:
        methods += [
            ("dfdx dense", lambda: dfdx.jacobian(chain, x)),
            ("scipy 3-point dense", lambda: approx_derivative(chain, x, method="3-point")),
        ]
    return methods


# -- laplace: a 2-D PDE residual, pattern detected ---------------------------------------------


def laplace(N):
    """The residual 4u - (neighbours) + u^3 / 10 - 1 on an N x N grid (zero outside), vectorized."""

    def residual(x):
        u = x.reshape((N, N) + x.shape[1:])
        r = 4 * u
        r[1:] -= u[:-1]
        r[:-1] -= u[1:]
        r[:, 1:] -= u[:, :-1]
        r[:, :-1] -= u[:, 1:]
        return (r + 0.1 * u**3 - 1.0).reshape(x.shape)

    return residual


def laplace_exact(N, x):
    eye = sps.identity(N, format="csr")
    tri = sps.diags_array([-1.0, 4.0, -1.0], offsets=[-1, 0, 1], shape=(N, N))
    off = sps.diags_array([-1.0, -1.0], offsets=[-1, 1], shape=(N, N))
    lap = sps.kron(eye, tri) + sps.kron(off, eye)
    return sps.csr_array(lap + sps.diags_array(0.3 * x**2))


def _cold_auto(f, x, **options):
    """sparsity='auto' with nothing remembered from an earlier call (colourings, checks)."""
    sparse._GROUPS.clear()
    sparse_calls._CHECKED.clear()
    return dfdx.jacobian(f, x, sparsity="auto", vectorized=True, **options)


def _laplace_methods(f, x, pattern):
    return [
        ("scipy 3-point, true pattern", lambda: approx_derivative(f, x, method="3-point", sparsity=pattern)),
        ("dfdx auto", lambda: _cold_auto(f, x)),
        ("dfdx auto, accuracy=2", lambda: _cold_auto(f, x, accuracy=2)),
    ]


def _laplace_methods(f, x, pattern):
    return [
        ("scipy 3-point, true pattern", lambda: approx_derivative(f, x, method="3-point", sparsity=pattern)),
        ("dfdx auto", lambda: _cold_auto(f, x)),
        ("dfdx auto, accuracy=2", lambda: _cold_auto(f, x, accuracy=2)),
    ]


def _peak_mib(run):
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def _worst(value, exact):
    return float(abs(sps.csr_array(value) - exact).max())


def bench_laplace(*sizes):
    sizes = sizes or (100, 316, 1000)
    print("\n== laplace: 2-D residual, 5-point stencil + u^3, vectorized; dfdx detects the pattern ==")
    print(
        f"{'n':>8s} {'method':28s} {'colours':>7s} {'nfev':>5s} {'max abs error':>13s} "
        f"{'time s':>8s} {'ratio':>6s} {'peak MiB':>9s}"
    )
    for N in sizes:
        n = N * N
        f = laplace(N)
        x = np.random.default_rng(0).uniform(0.0, 1.0, n)
        exact = laplace_exact(N, x)
        pattern = sps.csr_array(exact != 0)
        repeats = 3 if n <= 10**5 else 2
        base = None
        for name, run in _laplace_methods(f, x, pattern):
            out = run()  # warm: imports and first-touch of memory are not timed
            t = median_time(run, repeats)
            base = base or t
            if hasattr(out, "nfev"):
                colours, nfev, value = out.sparsity.colors, out.nfev, out.value
                assert out.sparsity.source == "traced" and not out.sparsity.dense
            else:
                colours, nfev, value = int(scipy_groups(pattern).max()) + 1, -1, out
            peak = _peak_mib(run)
            print(
                f"{n:8d} {name:28s} {colours:7d} {nfev:5d} {_worst(value, exact):13.2e} "
                f"{t:8.3f} {t / base:6.2f} {peak:9.0f}"
            )
    print("(ratio: time over SciPy's, which was given the pattern; dfdx's includes detecting it)")


# -- hessian: star colouring against the column grouping ---------------------------------------


def arwhead(x):
    """ARWHEAD (CUTEst): sum (-4 x_i + 3) + (x_i^2 + x_n^2)^2 over i < n: an arrowhead Hessian."""
    s = x[:-1] ** 2 + x[-1] ** 2
    return np.sum(-4 * x[:-1] + 3) + np.sum(s**2)


def arwhead_grad(x):
    s = x[:-1] ** 2 + x[-1] ** 2
    g = np.empty_like(x)
    g[:-1] = -4 + 4 * s * x[:-1]
    g[-1] = np.sum(4 * s * x[-1])
    return g


def banded(x):
    """sum over k = 1..5 of sum_i x_i^2 x_{i+k}^2 / k, plus sum x_i^4: bandwidth 5."""
    return sum(np.sum(x[:-k] ** 2 * x[k:] ** 2) / k for k in range(1, 6)) + np.sum(x**4)


def banded_grad(x):
    g = 4 * x**3
    for k in range(1, 6):
        g[:-k] += 2 * x[:-k] * x[k:] ** 2 / k
        g[k:] += 2 * x[k:] * x[:-k] ** 2 / k
    return g


BLOCK = 4


def separable(x):
    """Blocks B of 4 sharing the last three variables z.

    Each block adds (w . x_B - z0)^2 + z1^2 |x_B|^2 + sin(z2 + x_B0 x_B1).
    """
    xb, z = x[:-3].reshape(-1, BLOCK), x[-3:]
    w = np.arange(1, BLOCK + 1) / BLOCK
    r = xb @ w - z[0]
    return np.sum(r**2) + z[1] ** 2 * np.sum(xb**2) + np.sum(np.sin(z[2] + xb[:, 0] * xb[:, 1]))


def separable_grad(x):
    xb, z = x[:-3].reshape(-1, BLOCK), x[-3:]
    w = np.arange(1, BLOCK + 1) / BLOCK
    r = xb @ w - z[0]
    c = np.cos(z[2] + xb[:, 0] * xb[:, 1])
    gb = 2 * r[:, None] * w[None, :] + 2 * z[1] ** 2 * xb
    gb[:, 0] += c * xb[:, 1]
    gb[:, 1] += c * xb[:, 0]
    gz = np.array([-2 * np.sum(r), 2 * z[1] * np.sum(xb**2), np.sum(c)])
    return np.concatenate([gb.ravel(), gz])


def bench_hessian(n=10_000):
    print(f"\n== hessian: from a gradient, n = {n}: star colouring vs column grouping (distance-2) ==")
    print(
        f"{'function':12s} {'nnz':>7s} {'star':>5s} {'d-2':>6s} {'grad evals star':>15s} "
        f"{'grad evals d-2':>14s} {'saving':>7s} {'max |star - d2|':>15s} "
        f"{'time star s':>11s} {'time d2 s':>9s}"
    )
    rng = np.random.default_rng(0)
    for name, f, grad, size in (
        ("arrowhead", arwhead, arwhead_grad, n),
        ("banded", banded, banded_grad, n),
        ("separable", separable, separable_grad, BLOCK * (n // BLOCK) + 3),
    ):
        x = rng.uniform(0.5, 1.5, size)
        small = rng.uniform(0.5, 1.5, 13 if name != "separable" else 11)
        check = dfdx.gradient(f, small)
        assert np.allclose(check.value, grad(small), rtol=1e-8, atol=1e-8), name
        sparse_calls._CHECKED.clear()
        star = dfdx.hessian(f, x, grad=grad, sparsity="auto")  # the gradient traced, then star-coloured
        pattern = star.sparsity.pattern
        t_star = median_time(lambda f=f, x=x, g=grad, p=pattern: dfdx.hessian(f, x, grad=g, sparsity=p), 3)
        t0 = time.perf_counter()
        d2 = dfdx.jacobian(grad, x, sparsity=pattern)  # slow by design: one direction per column
        t_d2 = time.perf_counter() - t0
        value = star.value
        diff = float(abs(value - (d2.value + d2.value.T) / 2).max())
        d2_colours = count(column_groups(sps.csc_array(pattern)))
        print(
            f"{name:12s} {pattern.nnz:7d} {star.sparsity.colors:5d} {d2_colours:6d} {star.nfev:15d} "
            f"{d2.nfev:14d} {d2.nfev / star.nfev:6.1f}x {diff:15.1e} {t_star:11.3f} {t_d2:9.3f}"
        )
    print("(grad evals include grad(x) and the 4 of the check of a detected or newly given pattern)")


# -- dask -------------------------------------------------------------------------------------


def bench_dask(N=1000):
    from distributed import Client, LocalCluster

    print(f"\n== dask: n = {N * N}, 2-process LocalCluster vs serial ==")
    f = laplace(N)
    x = np.random.default_rng(0).uniform(0.0, 1.0, N * N)
    t0 = time.perf_counter()
    serial = _cold_auto(f, x)
    t_serial = time.perf_counter() - t0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            _cold_auto(f, x, workers=client)  # warm: the workers receive f once
            t0 = time.perf_counter()
            spread = _cold_auto(f, x, workers=client)
            t_dask = time.perf_counter() - t0
    same = (serial.value != spread.value).nnz == 0 and (serial.error != spread.error).nnz == 0
    print(f"serial {t_serial:.2f} s, dask {t_dask:.2f} s, nfev {serial.nfev} and {spread.nfev}")
    print(f"identical values and errors: {same}")


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    sections = {"chain": bench_chain, "laplace": bench_laplace, "hessian": bench_hessian, "dask": bench_dask}
    sizes = [int(a) for a in sys.argv[2:]]
    for name, run in sections.items():
        if which in (name, "all"):
            run(*sizes) if sizes and name == "laplace" else run()


if __name__ == "__main__":
    main()
