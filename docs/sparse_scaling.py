"""Time and memory of ``jacobian(..., sparsity='auto')`` against n: docs/img/sparse_scaling.png.

Run from the repository root: ``python docs/sparse_scaling.py``. The function is the 2-D
residual of docs/sparse.md (5-point Laplacian plus a cubic term, vectorized) on N x N
grids from n = 10^3 to 10^6; each point is the median time of a few calls (detection,
colouring and the Jacobian, nothing cached between calls) and the peak of the memory
NumPy allocated during one call (tracemalloc). SciPy's ``approx_derivative`` given the
true pattern is drawn alongside. The figures are printed as well.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sps  # noqa: E402
from scipy.optimize._numdiff import approx_derivative  # noqa: E402

import dfdx  # noqa: E402
from dfdx.engine import sparse, sparse_calls  # noqa: E402

OUT = Path(__file__).resolve().parent / "img" / "sparse_scaling.png"
GRIDS = (32, 56, 100, 178, 316, 562, 1000)


def residual_of(N: int):  # type: ignore[no-untyped-def]
    def residual(x):  # type: ignore[no-untyped-def]
        u = x.reshape((N, N) + x.shape[1:])
        r = 4 * u
        r[1:] -= u[:-1]
        r[:-1] -= u[1:]
        r[:, 1:] -= u[:, :-1]
        r[:, :-1] -= u[:, 1:]
        return (r + 0.1 * u**3 - 1.0).reshape(x.shape)

    return residual


def dfdx_auto(f, x):  # type: ignore[no-untyped-def]
    sparse._GROUPS.clear()
    sparse_calls._CHECKED.clear()
    return dfdx.jacobian(f, x, sparsity="auto", vectorized=True)


def measure(run, repeats: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median seconds over `repeats` calls (after a warm one) and peak MiB of one call."""
    run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), peak


def main() -> None:
    rows = []
    for N in GRIDS:
        n = N * N
        f = residual_of(N)
        x = np.random.default_rng(0).uniform(0.0, 1.0, n)
        pattern = sps.csr_array(dfdx_auto(f, x).sparsity.pattern)
        repeats = 5 if n <= 10**5 else 2
        t_d, m_d = measure(lambda f=f, x=x: dfdx_auto(f, x), repeats)
        t_s, m_s = measure(
            lambda f=f, x=x, p=pattern: approx_derivative(f, x, method="3-point", sparsity=p), repeats
        )
        rows.append((n, t_d, m_d, t_s, m_s))
        print(f"n = {n:8d}: dfdx {t_d:8.4f} s {m_d:8.1f} MiB   scipy {t_s:8.4f} s {m_s:8.1f} MiB", flush=True)
    draw(np.array(rows))


def draw(rows: np.ndarray) -> None:
    n = rows[:, 0]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, col, what in ((ax_t, 1, "time per Jacobian (s)"), (ax_m, 2, "peak memory (MiB)")):
        ax.loglog(n, rows[:, col], "o-", label="dfdx, sparsity='auto' (detects the pattern)")
        ax.loglog(n, rows[:, col + 2], "s--", label="SciPy approx_derivative (given the pattern)")
        ref = rows[-1, col] * n / n[-1]
        ax.loglog(n, ref, ":", color="grey", label="linear in n")
        ax.set_xlabel("n (variables = residuals)")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize=8)
    fig.suptitle("2-D residual (5-point stencil + u^3), vectorized: cost against n")
    fig.tight_layout()
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    sys.exit(main())
