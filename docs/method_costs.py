"""Measure what each method costs and reaches on the problem bank; print a Markdown table.

    python docs/method_costs.py

For every smooth problem of ``tests/bank.py`` (exact gradients from SymPy) it computes
the gradient with each method and reports evaluations of f per coordinate, the median
and worst relative error ``max|g - exact| / max|exact|``, and how often the error
estimate covers the true error. The table in ``docs/methods.md`` is this script's output.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.bank import PROBLEMS  # noqa: E402

import dfdx  # noqa: E402

CONFIGURATIONS = [
    ("forward", {"method": "forward"}),
    ("central, accuracy 2", {"method": "central", "accuracy": 2}),
    ("central, accuracy 4 (default)", {}),
    ("central, accuracy 6", {"method": "central", "accuracy": 6}),
    ("complex step", {"method": "complex"}),
    ("adaptive", {"adaptive": True}),
]


def measure(options: dict) -> tuple[float, float, float, str, float] | None:
    per_coordinate, errors, covered, entries = [], [], 0, 0
    for p in PROBLEMS:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                res = dfdx.gradient(p.f, p.x, throw=False, **options)
        except NotImplementedError:
            return None
        exact = p.exact_gradient
        err = np.abs(np.asarray(res.value) - exact)
        errors.append(err.max() / max(np.abs(exact).max(), 1e-300))
        covered += int(np.sum(err <= np.asarray(res.error)))
        entries += err.size
        per_coordinate.append((res.nfev - 1) / p.x.size)
    worst = int(np.argmax(errors))
    return (
        float(np.median(per_coordinate)),
        float(np.median(errors)),
        float(errors[worst]),
        PROBLEMS[worst].name,
        covered / entries,
    )


def main() -> None:
    print(f"{len(PROBLEMS)} problems of tests/bank.py, gradients, float64, dfdx {dfdx.__version__}\n")
    print(
        "| method | evaluations per coordinate | median relative error | worst (problem) "
        "| estimate covers the error |"
    )
    print("|---|---|---|---|---|")
    for name, options in CONFIGURATIONS:
        row = measure(options)
        if row is None:
            print(f"| {name} | not available in this version | | | |")
            continue
        cost, median, worst, where, coverage = row
        print(f"| {name} | {cost:g} | {median:.1e} | {worst:.1e} ({where}) | {coverage:.0%} |")


if __name__ == "__main__":
    main()
