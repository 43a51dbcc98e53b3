"""A bank of smooth test problems with exact derivatives from computer algebra.

Each problem is a SymPy expression in variables ``x0 .. x{n-1}`` and a point. Its
value, gradient and Hessian are turned into NumPy functions by ``lambdify``; the
exact gradient and Hessian are evaluated at the point in 50-digit arithmetic, so the
references are correctly rounded and independent of dfdx. The functions accept
complex input, for the complex step.

Used by the tests and by ``benchmarks/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp

__all__ = ["Problem", "PROBLEMS", "EXTENDED", "problem"]


@dataclass(frozen=True)
class Problem:
    name: str
    expr: sp.Expr
    point: tuple[float, ...]
    tags: tuple[str, ...] = field(default=())

    @cached_property
    def symbols(self) -> list[sp.Symbol]:
        return [sp.Symbol(f"x{i}") for i in range(len(self.point))]

    @cached_property
    def f(self) -> Callable[[Any], Any]:
        raw = sp.lambdify([self.symbols], self.expr, modules="numpy")
        return lambda x: raw(list(np.asarray(x)))

    @property
    def x(self) -> np.ndarray:
        return np.array(self.point, dtype=np.float64)

    @cached_property
    def exact_gradient(self) -> np.ndarray:
        subs = dict(zip(self.symbols, [sp.Float(p, 50) for p in self.point]))
        return np.array([float(sp.diff(self.expr, s).evalf(50, subs=subs)) for s in self.symbols])

    @cached_property
    def exact_hessian(self) -> np.ndarray:
        subs = dict(zip(self.symbols, [sp.Float(p, 50) for p in self.point]))
        n = len(self.symbols)
        out = np.empty((n, n))
        for i, a in enumerate(self.symbols):
            for j, b in enumerate(self.symbols[i:], start=i):
                out[i, j] = out[j, i] = float(sp.diff(self.expr, a, b).evalf(50, subs=subs))
        return out


def _x(n: int) -> list[sp.Symbol]:
    return [sp.Symbol(f"x{i}") for i in range(n)]


def _build() -> list[Problem]:
    x = _x(12)
    x0, x1, x2, x3 = x[:4]
    p: list[Problem] = []

    def add(name: str, expr: sp.Expr, point: tuple[float, ...], *tags: str) -> None:
        p.append(Problem(name, expr, point, tags))

    # The seeds.
    add("seed_loss", (2 * x0 + 3 * x1 - 5) ** 2 + (x0 - x1 - 1) ** 2, (1.0, 1.0), "seed")
    add("seed_answer", x0**2 + sp.sin(x1), (1.0, 2.0), "seed")
    # Classics and elementary functions.
    lm = sp.exp(x0) / sp.sqrt(sp.sin(x0) ** 3 + sp.cos(x0) ** 3)
    add("lyness_moler", lm, (1.5,))
    add("exp", sp.exp(x0), (0.7,))
    add("sin_cos", sp.sin(x0) * sp.cos(x1), (0.3, -1.2))
    add("log_sum", sp.log(1 + x0**2 + x1**2), (0.5, 2.0))
    add("atan", sp.atan(x0 * x1), (1.3, -0.4))
    add("sqrt", sp.sqrt(1 + x0**2 + 2 * x1**2), (2.0, 3.0))
    add("tanh", sp.tanh(x0 - 2 * x1 + x2), (0.1, 0.2, 0.3))
    add("gaussian", sp.exp(-(x0**2 + x1**2) / 2), (0.8, -0.6))
    add("logistic_loss", sp.log(1 + sp.exp(-(1.5 * x0 - 0.5 * x1 + 0.25))), (0.4, 1.1))
    add("cubic", x0**3 - 3 * x0 * x1**2 + x2, (1.1, 0.7, -2.0))
    add("rational", (1 + x0) / (2 + x1**2), (0.3, 1.7))
    add("power", (x0**2 + 1) ** sp.Rational(5, 2), (1.2,))
    # Optimisation test functions (Moré, Garbow and Hillstrom style) at their starts.
    add("rosenbrock", (1 - x0) ** 2 + 100 * (x1 - x0**2) ** 2, (-1.2, 1.0), "mgh")
    add(
        "beale",
        (1.5 - x0 + x0 * x1) ** 2 + (2.25 - x0 + x0 * x1**2) ** 2 + (2.625 - x0 + x0 * x1**3) ** 2,
        (1.0, 1.0),
        "mgh",
    )
    add(
        "powell_singular",
        (x0 + 10 * x1) ** 2 + 5 * (x2 - x3) ** 2 + (x1 - 2 * x2) ** 4 + 10 * (x0 - x3) ** 4,
        (3.0, -1.0, 0.0, 1.0),
        "mgh",
    )
    add(
        "wood",
        100 * (x1 - x0**2) ** 2
        + (1 - x0) ** 2
        + 90 * (x3 - x2**2) ** 2
        + (1 - x2) ** 2
        + 10 * (x1 + x3 - 2) ** 2
        + (x1 - x3) ** 2 / 10,
        (-3.0, -1.0, -3.0, -1.0),
        "mgh",
    )
    add("helical_like", (x0 - 1) ** 2 + sp.atan(x1 / x0) ** 2 + x2**2, (-1.0, 0.5, 0.0), "mgh")
    add(
        "brown_badly_scaled",
        (x0 - 1e6) ** 2 + (x1 - 2e-6) ** 2 + (x0 * x1 - 2) ** 2,
        (1.0, 1.0),
        "mgh",
        "scaled",
    )
    add(
        "freudenstein_roth",
        (-13 + x0 + ((5 - x1) * x1 - 2) * x1) ** 2 + (-29 + x0 + ((x1 + 1) * x1 - 14) * x1) ** 2,
        (0.5, -2.0),
        "mgh",
    )
    add(
        "trigonometric",
        sum(
            (3 - sum(sp.cos(xj) for xj in x[:5]) + (i + 1) * (1 - sp.cos(xi)) - sp.sin(xi)) ** 2
            for i, xi in enumerate(x[:5])
        ),
        (0.2,) * 5,
        "mgh",
    )
    add(
        "extended_rosenbrock",
        sum(100 * (x[2 * i + 1] - x[2 * i] ** 2) ** 2 + (1 - x[2 * i]) ** 2 for i in range(4)),
        (-1.2, 1.0) * 4,
        "mgh",
    )
    # Larger |x| and small scales.
    add("sin_large_x", sp.sin(x0), (1e6,), "scaled")
    add("exp_scaled", sp.exp(x0 / 100) + x1**2 / 1e4, (250.0, -300.0), "scaled")
    add("softplus_sum", sum(sp.log(1 + sp.exp(xi)) for xi in x[:6]), (-2.0, -1.0, 0.0, 0.5, 1.0, 3.0))
    add("quartic_mix", sum((i + 1) * xi**4 for i, xi in enumerate(x[:4])) + x0 * x3, (0.5, -0.5, 1.5, 2.0))
    return p


def _extend(base: list[Problem]) -> list[Problem]:
    """The calibration bank: more Moré-Garbow-Hillstrom problems, every one at 10x and 100x
    its start, and two problems whose scale no step relative to max(1, |x|) resolves."""
    x = _x(12)
    p: list[Problem] = list(base)

    def add(name: str, expr: sp.Expr, point: tuple[float, ...], *tags: str) -> None:
        p.append(Problem(name, expr, point, tags))

    _more_mgh(add, x)
    _scaled_starts(p)
    add("tiny_scale", sp.sin(x[0] * 10**6) + sp.exp(-x[1] * 10**6), (1e-6, 2e-6), "scaled", "tiny")
    add("huge_offset", sp.sin(x[0]) * sp.cos(x[1]), (1e6, -3e5), "scaled")
    return p


def _more_mgh(add: Callable[..., None], x: list[sp.Symbol]) -> None:
    """More sums of squares from Moré, Garbow and Hillstrom (1981), at their standard starts."""
    x0, x1, x2, x3 = x[:4]
    add(
        "jennrich_sampson",
        sum((2 + 2 * i - (sp.exp(i * x0) + sp.exp(i * x1))) ** 2 for i in range(1, 11)),
        (0.3, 0.4),
        "mgh",
        "scaled",
    )
    t = [sp.Rational(i, 10) for i in range(1, 11)]
    add(
        "box_3d",
        sum((sp.exp(-ti * x0) - sp.exp(-ti * x1) - x2 * (sp.exp(-ti) - sp.exp(-10 * ti))) ** 2 for ti in t),
        (0.0, 10.0, 20.0),
        "mgh",
    )
    y = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39]
    bard = 0
    for i, yi in enumerate(y, start=1):
        u, v = i, 16 - i
        w = min(u, v)
        bard += (sp.Float(yi) - (x0 + u / (v * x1 + w * x2))) ** 2
    add("bard", bard, (1.0, 1.0, 1.0), "mgh")
    ts = [sp.Rational(i, 10) for i in range(1, 14)]
    biggs = sum(
        (
            x2 * sp.exp(-ti * x0)
            - x3 * sp.exp(-ti * x1)
            + x[5] * sp.exp(-ti * x[4])
            - (sp.exp(-ti) - 5 * sp.exp(-10 * ti) + 3 * sp.exp(-4 * ti))
        )
        ** 2
        for ti in ts
    )
    add("biggs_exp6", biggs, (1.0, 2.0, 1.0, 1.0, 1.0, 1.0), "mgh")
    add(
        "penalty_1",
        sp.Rational(1, 10**5) * sum((xi - 1) ** 2 for xi in x[:4])
        + (sum(xi**2 for xi in x[:4]) - sp.Rational(1, 4)) ** 2,
        (1.0, 2.0, 3.0, 4.0),
        "mgh",
    )
    n = 5
    r = sum((j + 1) * (x[j] - 1) for j in range(n))
    add(
        "variably_dimensioned",
        sum((xj - 1) ** 2 for xj in x[:n]) + r**2 + r**4,
        tuple(1 - (j + 1) / n for j in range(n)),
        "mgh",
    )
    xs = x[:6]
    bt = 0
    for i in range(6):
        left = xs[i - 1] if i > 0 else 0
        right = xs[i + 1] if i < 5 else 0
        bt += ((3 - 2 * xs[i]) * xs[i] - left - 2 * right + 1) ** 2
    add("broyden_tridiagonal", bt, (-1.0,) * 6, "mgh")
    bd = 0
    for i in range(1, 21):
        ti = sp.Rational(i, 5)
        bd += ((x0 + ti * x1 - sp.exp(ti)) ** 2 + (x2 + x3 * sp.sin(ti) - sp.cos(ti)) ** 2) ** 2
    add("brown_dennis", bd, (25.0, 5.0, -5.0, -1.0), "mgh")
    yk = [0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246]
    uk = [4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625]
    ko = sum(
        (
            sp.Float(yi)
            - x0 * (sp.Float(ui) ** 2 + sp.Float(ui) * x1) / (sp.Float(ui) ** 2 + sp.Float(ui) * x2 + x3)
        )
        ** 2
        for yi, ui in zip(yk, uk, strict=True)
    )
    add("kowalik_osborne", ko, (0.25, 0.39, 0.415, 0.39), "mgh", "scaled")


#: Starts where f overflows float64 (exp(10 * 40)): not a differentiation problem.
_OVERFLOWS = {("jennrich_sampson", 100)}


def _scaled_starts(p: list[Problem]) -> None:
    """Every Moré-Garbow-Hillstrom problem again at 10x and 100x its standard start."""
    for base in [q for q in p if "mgh" in q.tags]:
        for factor in (10, 100):
            if (base.name, factor) in _OVERFLOWS:
                continue
            point = tuple(factor * c for c in base.point)
            tags = tuple(t for t in base.tags if t != "mgh") + ("mgh_scaled", "scaled")
            p.append(Problem(f"{base.name}_x{factor}", base.expr, point, tags))


#: The smooth bank every test may iterate over.
PROBLEMS: list[Problem] = _build()
#: PROBLEMS and the harder calibration problems (ill-conditioned, badly scaled, far-out
#: starts): what the error estimates are calibrated on (tests/test_calibration.py,
#: benchmarks/bench_accuracy.py). Kept apart so that tests written for PROBLEMS hold.
EXTENDED: list[Problem] = _extend(PROBLEMS)


def problem(name: str) -> Problem:
    return next(p for p in EXTENDED if p.name == name)
