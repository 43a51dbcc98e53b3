"""The first seed text, redone with dfdx.

The tutorial writes a central-difference loop with h = 1e-5 to get the gradient of
L(w1, w2) = (2 w1 + 3 w2 - 5)**2 + (w1 - w2 - 1)**2 at (1, 1), compares it with the
analytic gradient (-2, 2) (difference 1.9e-11) and draws the contour plot with the
gradient arrow. With dfdx it is one call, with an error estimate, and one more call
for the picture.

Run: ``python examples/seed_tutorial.py [OUTPUT.png]``
"""

from __future__ import annotations

import sys

import numpy as np

import dfdx


def loss(w: np.ndarray) -> float:
    w1, w2 = w
    return (2 * w1 + 3 * w2 - 5) ** 2 + (w1 - w2 - 1) ** 2


def analytic_gradient(w: np.ndarray) -> np.ndarray:
    w1, w2 = w
    return np.array([10 * w1 + 10 * w2 - 22, 10 * w1 + 20 * w2 - 28])


def main(output: str | None = None) -> float:
    point = np.array([1.0, 1.0])
    res = dfdx.gradient(loss, point)
    exact = analytic_gradient(point)
    difference = float(np.linalg.norm(res.value - exact))
    print(f"Point (w1, w2): {point}")
    print(f"Numerical gradient: {res.value}  (error estimate {res.error})")
    print(f"Analytical gradient: {exact}")
    print(f"Difference: {difference:.2e}  (the tutorial's loop with h = 1e-5: 1.89e-11)")
    if output:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from dfdx import plot

        ax = plot.contour(loss, point, extent=(-1, 3, -1, 3), names=("w1", "w2"))
        ax.figure.savefig(output, dpi=120, bbox_inches="tight")
        plt.close(ax.figure)
        print(f"Contour plot with the gradient arrow written to {output}")
    return difference


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
