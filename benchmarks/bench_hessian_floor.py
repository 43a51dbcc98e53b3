"""Floor of second differences for Hessians from f alone: what any step can give.

For the two non-polynomial functions of ``bench_hessian.py`` (log-sum-exp, trig;
n = 10), every Hessian entry is computed with the symmetric rules of order 4, 6 and 8
at every step ``h = 2**k`` (k = -14 .. -1, relative to max(1, |x|) = 1 here):
diagonal entries along the axes, off-diagonal entries along ``h (e_i + e_j)`` with the
exact diagonal subtracted (so the line alone is measured). The smallest error over k
of each entry is its floor: the U-curve's bottom, where truncation meets rounding.
No rule of choosing steps can do better than these floors with that rule.

The printout gives, per rule, the worst and median floor over the entries, the
number of off-diagonal entries whose floor lies above numdifftools' worst error
(measured in ``bench_hessian.py``), the steps of the floors, the U-curve of the worst
line, and the evaluations such a rule costs on every entry (``1 + p (n + n(n-1)/2)``
for p points per rule), and the fewest evaluations an oracle choosing the
cheapest sufficient rule and the best step for each entry would need.

Run: ``python benchmarks/bench_hessian_floor.py``
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numdifftools as nd  # noqa: E402
from bench_hessian import N, problems  # noqa: E402

from dfdx.stencils import central  # noqa: E402

EXPONENTS = np.arange(-14, 0)


def second_differences(f, x, f0, direction, order):
    """Second differences along ``direction`` at steps 2**k, times h**2 (one per k)."""
    rule = central(2, order)
    out = np.zeros(len(EXPONENTS))
    for o, w in zip(rule.offsets, rule.weights, strict=True):
        if o != 0:
            out += w * (np.array([f(x + o * 2.0**k * direction) for k in EXPONENTS]) - f0)
    return out


def floors(p, order):
    x, exact = np.asarray(p.x, float), p.exact_hessian
    f0, scale, eye = p.f(x), np.max(np.abs(exact)), np.eye(N)
    h2 = 4.0**EXPONENTS
    diag = np.array(
        [np.abs(second_differences(p.f, x, f0, eye[i], order) / h2 - exact[i, i]) for i in range(N)]
    )
    lines, pairs = [], []
    for i in range(N):
        for j in range(i + 1, N):
            g = second_differences(p.f, x, f0, eye[i] + eye[j], order) / h2
            lines.append(np.abs((g - exact[i, i] - exact[j, j]) / 2 - exact[i, j]))
            pairs.append((i, j))
    return diag / scale, np.array(lines) / scale, pairs


def main() -> None:
    print(
        f"{'function':14s} {'order':>5s} {'evals':>6s} {'diag worst':>10s} {'line worst':>10s} "
        f"{'line median':>11s} {'lines > nd':>10s} {'log2 h of floors':>18s}"
    )
    curves, least = [], {}
    for p in problems()[1:3]:
        nd_err = np.max(np.abs(nd.Hessian(p.f)(p.x) - p.exact_hessian)) / np.max(np.abs(p.exact_hessian))
        for order in (4, 6, 8):
            diag, lines, pairs = floors(p, order)
            d_floor, l_floor = diag.min(axis=1), lines.min(axis=1)
            ks = EXPONENTS[np.concatenate([diag.argmin(axis=1), lines.argmin(axis=1)])]
            evals = 1 + order * (N + N * (N - 1) // 2)
            print(
                f"{p.name:14s} {order:5d} {evals:6d} {d_floor.max():10.1e} {l_floor.max():10.1e} "
                f"{np.median(l_floor):11.1e} {int(np.sum(l_floor > nd_err)):6d}/{len(pairs)} "
                f"{ks.min():>8d} .. {ks.max():d}"
            )
            # Points per entry of the cheapest rule whose floor reaches numdifftools'.
            need = least.setdefault(p.name, np.full(N + len(pairs), np.inf))
            met = np.concatenate([d_floor, l_floor]) <= nd_err
            need[met & ~np.isfinite(need)] = order
            if order == 4:
                worst = int(np.argmax(l_floor))
                curves.append((p.name, pairs[worst], lines[worst], nd_err))
    print("\nFewest evaluations with each entry on the cheapest rule reaching numdifftools' worst")
    print("error at that entry's best step (an oracle for both rule and step; no scout):")
    for name, need in least.items():
        print(f"  {name}: {1 + int(need.sum())}")
    print("\nU-curve of the worst line, order 4 (error relative to max |H| per step):")
    for name, (i, j), curve, nd_err in curves:
        print(f"  {name} pair ({i}, {j}); numdifftools' worst error {nd_err:.1e}")
        print("   " + " ".join(f"2^{k}:{e:.0e}" for k, e in zip(EXPONENTS, curve, strict=True)))


if __name__ == "__main__":
    main()
