"""dfdx's default, forward and complex-step gradients side by side with the peers.

For every problem of the bank (tests/bank.py, exact gradients from SymPy) and every
method: correct digits per component, evaluations per coordinate, time per call.
Then the per-call overhead on a 2-variable function (time per call minus the time
of the function evaluations it makes), as a ratio to SciPy's ``approx_derivative``.

Run: ``python benchmarks/bench_gradient.py`` (all peers measured in this one process;
times are medians of repeats).
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

import fdm  # noqa: E402
import numdifftools as nd  # noqa: E402
import scipy.differentiate as sd  # noqa: E402
from scipy.optimize import approx_fprime  # noqa: E402
from scipy.optimize._numdiff import approx_derivative  # noqa: E402
from tests.bank import PROBLEMS  # noqa: E402

import dfdx  # noqa: E402

SMOOTH = [p for p in PROBLEMS if "scaled" not in p.tags]


class Counter:
    """Wraps f and counts the points it is evaluated at (batches count per point)."""

    def __init__(self, f: Callable[[Any], Any], n: int) -> None:
        self.f, self.n, self.points = f, n, 0

    def __call__(self, x: Any) -> Any:
        x = np.asarray(x)
        self.points += int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
        return self.f(x)


def _sd_jacobian(f: Callable[[Any], Any], x: np.ndarray) -> np.ndarray:
    return sd.jacobian(f, x).df


PEERS: dict[str, Callable[[Callable[[Any], Any], np.ndarray], np.ndarray]] = {
    "dfdx default (central, order 4)": lambda f, x: dfdx.gradient(f, x).value,
    "dfdx central order 2": lambda f, x: dfdx.gradient(f, x, accuracy=2).value,
    "dfdx forward": lambda f, x: dfdx.gradient(f, x, method="forward").value,
    "dfdx complex": lambda f, x: dfdx.gradient(f, x, method="complex").value,
    "scipy approx_fprime": lambda f, x: approx_fprime(x, f),
    "scipy approx_derivative 3-point": lambda f, x: approx_derivative(f, x, method="3-point"),
    "scipy approx_derivative cs": lambda f, x: approx_derivative(f, x, method="cs"),
    "scipy.differentiate.jacobian": _sd_jacobian,
    "numdifftools.Gradient": lambda f, x: nd.Gradient(f)(x),
    "fdm central order 5": lambda f, x: fdm.gradient(f, fdm.central_fdm(order=5, deriv=1))(x),
}


def correct_digits(approx: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """-log10 of the relative error per component, in [0, 16].

    Exact zeros are measured against the largest component (a relative error of the
    gradient as a whole), since no digit of an exact zero can be "correct".
    """
    scale = np.where(exact != 0, np.abs(exact), np.max(np.abs(exact)))
    rel = np.abs(np.asarray(approx, dtype=float) - exact) / scale
    return np.clip(-np.log10(np.maximum(rel, 1e-16)), 0, 16)


def median_time(call: Callable[[], Any], budget: float = 0.05, repeats: int = 5) -> float:
    """Median over `repeats` of the mean time per call within about `budget` seconds."""
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(budget / once))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call()
        samples.append((time.perf_counter() - start) / number)
    return float(np.median(samples))


def accuracy_table() -> None:
    components = sum(p.x.size for p in SMOOTH)
    print(f"Gradients on {len(SMOOTH)} smooth problems of the bank ({components} components)")
    header = f"{'method':34} {'median digits':>14} {'worst':>7} {'evals/coord':>12} {'time/call':>11}"
    print(header)
    print("-" * len(header))
    for name, peer in PEERS.items():
        digits, per_coord, times = [], [], []
        for p in SMOOTH:
            counter = Counter(p.f, p.x.size)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = peer(counter, p.x.copy())
                call = lambda p=p, peer=peer: peer(p.f, p.x.copy())  # noqa: E731
                times.append(median_time(call, budget=0.02, repeats=3))
            digits.extend(correct_digits(value, p.exact_gradient))
            per_coord.append(counter.points / p.x.size)
        print(
            f"{name:34} {np.median(digits):>14.2f} {np.min(digits):>7.2f} "
            f"{np.median(per_coord):>12.1f} {np.median(times) * 1e6:>9.0f}us"
        )


def overhead_table() -> None:
    def loss(w: np.ndarray) -> float:
        return (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2

    x = np.array([1.0, 1.0])
    t_f = median_time(lambda: loss(x), budget=0.1)
    print()
    print(f"Per-call overhead on the seed loss (2 variables; one evaluation takes {t_f * 1e6:.2f} us)")
    rows: dict[str, Callable[[Callable[[Any], Any]], Any]] = {
        "scipy approx_derivative 3-point": lambda f: approx_derivative(f, x, method="3-point"),
        "scipy approx_fprime": lambda f: approx_fprime(x, f),
        "dfdx default (central, order 4)": lambda f: dfdx.gradient(f, x),
        "dfdx central order 2": lambda f: dfdx.gradient(f, x, accuracy=2),
        "dfdx forward": lambda f: dfdx.gradient(f, x, method="forward"),
        "scipy approx_derivative cs": lambda f: approx_derivative(f, x, method="cs"),
        "dfdx complex step": lambda f: dfdx.gradient(f, x, method="complex"),
        "numdifftools.Gradient": lambda f: nd.Gradient(f)(x),
    }
    points = {}
    for name, run in rows.items():
        counter = Counter(loss, 2)
        run(counter)
        points[name] = counter.points
    # Rounds in turn, so that a busy spell of the machine slows every method alike.
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(15):
        for name, run in rows.items():
            samples[name].append(median_time(lambda run=run: run(loss), budget=0.02, repeats=1))
    base = None
    print(f"{'method':34} {'time/call':>11} {'evals':>6} {'overhead':>10} {'vs scipy':>9}")
    for name in rows:
        total = float(np.median(samples[name]))
        overhead = total - points[name] * t_f
        base = overhead if base is None else base
        print(
            f"{name:34} {total * 1e6:>9.1f}us {points[name]:>6} {overhead * 1e6:>8.1f}us "
            f"{overhead / base:>8.2f}x"
        )


if __name__ == "__main__":
    accuracy_table()
    overhead_table()
