"""Draw the pictures of the README and the docs into docs/img/ with dfdx.plot.

Run from the repository root: ``python docs/make_figures.py``. Every picture is drawn
by dfdx itself, from the examples of the README.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import dfdx  # noqa: E402
import dfdx.plot  # noqa: E402

OUT = Path(__file__).resolve().parent / "img"


def loss(w):
    """The seed tutorial's loss L(w1, w2) = (2 w1 + 3 w2 - 5)^2 + (w1 - w2 - 1)^2."""
    return (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2


def loss_gradient(w):
    return np.array([10 * w[0] + 10 * w[1] - 22, 10 * w[0] + 20 * w[1] - 28])


def lyness_moler(x):
    """The classic test function of Lyness and Moler (1967)."""
    return np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)


def contour() -> None:
    ax = dfdx.plot.contour(
        loss, [1.0, 1.0], extent=(-1, 3, -1, 3), names=("w1", "w2"), descent=True, label="L"
    )
    ax.set_title("The seed loss L(w1, w2) and its gradient at (1, 1)")
    save(ax, "contour.png")


def field() -> None:
    ax = dfdx.plot.contour(loss, [1.0, 1.0], extent=(-1, 3, -1, 3), names=("w1", "w2"), field=True, label="L")
    ax.set_title("The gradient field of L(w1, w2), by dfdx")
    save(ax, "field.png")


def step_error() -> None:
    ax = dfdx.plot.step_error(lyness_moler, 1.5, exact=4.053427893898620657714)
    ax.set_title("Error versus step for f(x) = eˣ / √(sin³x + cos³x) at x = 1.5")
    save(ax, "step_error.png")


def check() -> None:
    report = check_report()
    save(dfdx.plot.check(report), "check.png")


def check_report():
    """A check of a hand-written gradient with a bug in one component."""

    def f(x):
        return np.sum(x**2 * np.arange(1, x.size + 1)) + np.sin(x[0] * x[1])

    def buggy_gradient(x):
        g = 2 * x * np.arange(1, x.size + 1)
        g[0] += x[1] * np.cos(x[0] * x[1])
        g[1] += x[0] * np.cos(x[0] * x[1])
        g[4] *= 1.001  # the bug: 0.1 % off
        return g

    x = np.linspace(0.5, 2.0, 8)
    if hasattr(dfdx, "check_gradient"):
        return dfdx.check_gradient(f, buggy_gradient, x)
    # Until dfdx.check_gradient exists: the same comparison by hand, with a tolerance of
    # a hundred times dfdx's error estimate.
    res = dfdx.gradient(f, x)
    analytic = buggy_gradient(x)
    tolerance = 100 * np.asarray(res.error) / np.abs(res.value)
    failing = np.abs(analytic - res.value) > 100 * np.asarray(res.error)
    return SimpleNamespace(
        analytic=analytic, numeric=res.value, tolerance=tolerance, passed=not failing.any()
    )


def save(ax, name: str) -> None:
    path = OUT / name
    ax.figure.savefig(path, dpi=110)
    plt.close(ax.figure)
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for draw in (contour, field, step_error, check):
        draw()
    return 0


if __name__ == "__main__":
    sys.exit(main())
