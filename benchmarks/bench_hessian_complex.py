"""Hessians by the complex step from f alone: dfdx vs numdifftools, on bench_hessian's problems.

Both use two complex evaluations per pair ``i <= j`` (numdifftools' ``method='complex'``
and dfdx's ``method='complex'``); they differ in the step. For each function: evaluations
of f, the worst entry's error relative to the largest entry of the exact Hessian (SymPy),
and whether dfdx's error estimate covers its true error. Ratios: numdifftools over dfdx.

Run: ``python benchmarks/bench_hessian_complex.py``
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import numdifftools as nd  # noqa: E402
from bench_hessian import Counted, problems  # noqa: E402

import dfdx  # noqa: E402


def main() -> None:
    head = f"{'function':15s} {'dfdx nfev':>9s} {'dfdx error':>10s} {'covered':>7s} {'nd nfev':>8s}"
    print(f"{head} {'nd error':>9s} {'nfev nd/dfdx':>12s} {'error nd/dfdx':>13s}")
    for p in problems():
        scale = float(np.max(np.abs(p.exact_hessian)))
        ours = Counted(p.f)
        res = dfdx.hessian(ours, p.x, method="complex")
        err = float(np.max(np.abs(res.value - p.exact_hessian))) / scale
        covered = bool(np.all(np.abs(res.value - p.exact_hessian) <= res.error))
        theirs = Counted(p.f)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = nd.Hessian(theirs, method="complex")(p.x)
        nd_err = float(np.max(np.abs(value - p.exact_hessian))) / scale
        print(
            f"{p.name:15s} {ours.calls:9d} {err:10.1e} {str(covered):>7s} {theirs.calls:8d} {nd_err:9.1e}"
            f" {theirs.calls / ours.calls:12.2f} {nd_err / err:13.2g}"
        )


if __name__ == "__main__":
    main()
