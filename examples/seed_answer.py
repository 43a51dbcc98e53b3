"""The second seed text, redone with dfdx.

The text computes the gradient of g(x) = x0**2 + sin(x1) at (1, 2) by a forward
difference with h = 1e-6, a central difference with h = sqrt(eps), and SciPy's
``approx_fprime``. Here each of those is set beside dfdx's forward, central (default)
and complex-step gradients, all against the exact gradient (2, cos 2), with dfdx's own
error estimate for its numbers.

Run: ``python examples/seed_answer.py``
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import approx_fprime

import dfdx


def g(x: np.ndarray) -> float:
    return x[0] ** 2 + np.sin(x[1])


def fixed_step_forward(f, x, h=1e-6):
    """The text's forward difference, for comparison."""
    f0 = f(x)
    return np.array([(f(x + h * e) - f0) / h for e in np.eye(len(x))])


SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


def fixed_step_central(f, x, h=SQRT_EPS):
    """The text's central difference with h = sqrt(eps), for comparison."""
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


def main() -> dict[str, float]:
    x = np.array([1.0, 2.0])
    exact = np.array([2.0, np.cos(2.0)])
    rows = {
        "forward, h = 1e-6 (the text)": (fixed_step_forward(g, x), None),
        "central, h = sqrt(eps) (the text)": (fixed_step_central(g, x), None),
        "scipy approx_fprime (the text)": (approx_fprime(x, g, np.sqrt(np.finfo(float).eps)), None),
        "dfdx forward": dfdx.gradient(g, x, method="forward"),
        "dfdx central (default)": dfdx.gradient(g, x),
        "dfdx complex step": dfdx.gradient(g, x, method="complex"),
    }
    errors = {}
    print(f"g(x) = x0^2 + sin(x1) at (1, 2); exact gradient (2, cos 2) = {exact}")
    print(f"{'':36}{'max |error|':>14}{'dfdx error estimate':>22}")
    for name, row in rows.items():
        if isinstance(row, dfdx.Result):
            value, estimate = row.value, f"{np.max(row.error):.1e}"
        else:
            value, estimate = row[0], "-"
        errors[name] = float(np.max(np.abs(value - exact)))
        print(f"{name:36}{errors[name]:>14.1e}{estimate:>22}")
    return errors


if __name__ == "__main__":
    main()
