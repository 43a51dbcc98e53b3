"""dfdx inside SciPy's optimizers: BFGS, L-BFGS-B and least_squares on 12 standard problems.

The problems are sums of squares from Moré, Garbow and Hillstrom (1981), "Testing
unconstrained optimization software", ACM TOMS 7(1): Rosenbrock (n = 2) and the extended
Rosenbrock (n = 10, 50), Freudenstein-Roth, Powell badly scaled, Brown badly scaled,
Beale, helical valley, Bard, Box 3-D (m = 10), Wood and the extended Powell singular
function (n = 8), from their standard starting points. ``minimize`` gets
``f = sum(r**2)``, ``least_squares`` the residuals r.

Each optimizer runs with its default tolerances and one derivative route at a time:

- ``analytic``: the gradient ``2 J^T r`` (or J) from the Jacobian SymPy derives from the
  same residual code (checked here against a central difference at the start);
- SciPy's ``'2-point'``, ``'3-point'`` and ``'cs'`` (complex step);
- ``dfdx.Objective`` with its defaults (f(x) shared, central differences of order 2),
  with ``method='complex'``, with ``method='forward'``, and the plain ``dfdx.jac``
  (order 4, f(x) not shared) for comparison.

A counter around f counts every evaluation (the optimizer's and the derivative's). A run
succeeds when it ends within ``1e-6 * max(1, f*)`` of a known minimum value f* of the
problem (MGH list the global minimum, and for Freudenstein-Roth and Bard also a local one,
which is a correct answer for a local method).

Run: ``python benchmarks/bench_optimizers.py [--detail]``
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from scipy.optimize import least_squares, minimize

import dfdx


def _np_theta(x1: Any, x2: Any) -> Any:
    return np.arctan(x2 / x1) / (2 * np.pi) + (0.5 if np.real(x1) < 0 else 0.0)


NP = types.SimpleNamespace(exp=np.exp, sqrt=np.sqrt, theta=_np_theta)
# The branch of theta is a constant: the derivative is that of arctan(x2 / x1) / (2 pi).
SP = types.SimpleNamespace(exp=sp.exp, sqrt=sp.sqrt, theta=lambda x1, x2: sp.atan(x2 / x1) / (2 * sp.pi))


def rosenbrock(x, m):
    return [10 * (x[1] - x[0] ** 2), 1 - x[0]]


def extended_rosenbrock(x, m):
    out = []
    for i in range(0, len(x), 2):
        out += [10 * (x[i + 1] - x[i] ** 2), 1 - x[i]]
    return out


def freudenstein_roth(x, m):
    return [-13 + x[0] + ((5 - x[1]) * x[1] - 2) * x[1], -29 + x[0] + ((x[1] + 1) * x[1] - 14) * x[1]]


def powell_badly_scaled(x, m):
    return [10**4 * x[0] * x[1] - 1, m.exp(-x[0]) + m.exp(-x[1]) - 1.0001]


def brown_badly_scaled(x, m):
    return [x[0] - 10**6, x[1] - 2 * 10**-6, x[0] * x[1] - 2]


def beale(x, m):
    return [y - x[0] * (1 - x[1] ** i) for i, y in ((1, 1.5), (2, 2.25), (3, 2.625))]


def helical_valley(x, m):
    return [10 * (x[2] - 10 * m.theta(x[0], x[1])), 10 * (m.sqrt(x[0] ** 2 + x[1] ** 2) - 1), x[2]]


BARD_Y = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39]


def bard(x, m):
    out = []
    for i, y in enumerate(BARD_Y, start=1):
        u, v = i, 16 - i
        out.append(y - (x[0] + u / (v * x[1] + min(u, v) * x[2])))
    return out


def box_3d(x, m):
    ts = [0.1 * i for i in range(1, 11)]
    return [m.exp(-t * x[0]) - m.exp(-t * x[1]) - x[2] * (m.exp(-t) - m.exp(-10 * t)) for t in ts]


def wood(x, m):
    s90, s10 = m.sqrt(90), m.sqrt(10)
    return [
        10 * (x[1] - x[0] ** 2),
        1 - x[0],
        s90 * (x[3] - x[2] ** 2),
        1 - x[2],
        s10 * (x[1] + x[3] - 2),
        (x[1] - x[3]) / s10,
    ]


def extended_powell(x, m):
    out = []
    for i in range(0, len(x), 4):
        a, b, c, d = x[i : i + 4]
        out += [a + 10 * b, m.sqrt(5) * (c - d), (b - 2 * c) ** 2, m.sqrt(10) * (a - d) ** 2]
    return out


@dataclass
class Problem:
    name: str
    residuals: Callable[..., list[Any]]
    x0: list[float]
    minima: tuple[float, ...]  # known minimum values of sum(r**2) (MGH 1981)

    def __post_init__(self) -> None:
        n = len(self.x0)
        symbols = sp.symbols(f"x0:{n}")
        r = sp.Matrix(self.residuals(list(symbols), SP))
        self._jac = sp.lambdify([symbols], r.jacobian(symbols), "numpy")
        self.nfun = len(r)

    def r(self, x: Any) -> Any:
        return np.array(self.residuals(x, NP))

    def f(self, x: Any) -> Any:
        r = self.r(x)
        return r @ r  # no abs or conj: analytic, so the complex step applies

    def jacobian(self, x: Any) -> Any:
        return np.array(self._jac(np.asarray(x, dtype=float)), dtype=float).reshape(self.nfun, len(x))

    def gradient(self, x: Any) -> Any:
        return 2 * self.jacobian(x).T @ self.r(x)

    def succeeded(self, x: Any) -> bool:
        value = float(self.f(np.asarray(x, dtype=float)))
        return any(abs(value - fm) <= 1e-6 * max(1.0, fm) for fm in self.minima)


PROBLEMS = [
    Problem("Rosenbrock 2", rosenbrock, [-1.2, 1.0], (0.0,)),
    Problem("Rosenbrock 10", extended_rosenbrock, [-1.2, 1.0] * 5, (0.0,)),
    Problem("Rosenbrock 50", extended_rosenbrock, [-1.2, 1.0] * 25, (0.0,)),
    Problem("Freudenstein-Roth", freudenstein_roth, [0.5, -2.0], (0.0, 48.98425367924)),
    Problem("Powell badly scaled", powell_badly_scaled, [0.0, 1.0], (0.0,)),
    Problem("Brown badly scaled", brown_badly_scaled, [1.0, 1.0], (0.0,)),
    Problem("Beale", beale, [1.0, 1.0], (0.0,)),
    Problem("Helical valley", helical_valley, [-1.0, 0.0, 0.0], (0.0,)),
    Problem("Bard", bard, [1.0, 1.0, 1.0], (8.214877306578e-3, 17.4286)),
    Problem("Box 3-D", box_3d, [0.0, 10.0, 20.0], (0.0,)),
    Problem("Wood", wood, [-3.0, -1.0, -3.0, -1.0], (0.0,)),
    Problem("Extended Powell 8", extended_powell, [3.0, -1.0, 0.0, 1.0] * 2, (0.0,)),
]


class Counted:
    """f with a count of its calls (complex ones too)."""

    def __init__(self, f: Callable[[Any], Any]) -> None:
        self.f, self.calls = f, 0

    def __call__(self, x: Any) -> Any:
        self.calls += 1
        return self.f(x)


ROUTES = [
    "analytic",
    "SciPy 2-point",
    "SciPy 3-point",
    "SciPy cs",
    "dfdx Objective default",
    "dfdx Objective complex",
    "dfdx Objective forward",
    "dfdx.jac (order 4)",
]
SCIPY = {"SciPy 2-point": "2-point", "SciPy 3-point": "3-point", "SciPy cs": "cs"}
OBJECTIVE = {
    "dfdx Objective default": {},
    "dfdx Objective complex": {"method": "complex"},
    "dfdx Objective forward": {"method": "forward", "accuracy": 1},
}


def run(problem: Problem, optimizer: str, route: str) -> tuple[bool, int]:
    """One optimization: (success, evaluations of f)."""
    x0 = np.array(problem.x0)
    squares = optimizer == "least_squares"
    counted = Counted(problem.r if squares else problem.f)
    exact = problem.jacobian if squares else problem.gradient
    if route in OBJECTIVE:
        obj = dfdx.Objective(counted, **OBJECTIVE[route])
        fun, jac = (obj.fun, obj.jac) if squares else (obj, True)
    else:
        jac = exact if route == "analytic" else SCIPY.get(route) or dfdx.jac(counted)
        fun = counted
    if squares:
        sol = least_squares(fun, x0, jac=jac)
    else:
        sol = minimize(fun, x0, jac=jac, method=optimizer)
    return problem.succeeded(sol.x), counted.calls


def check_derivatives() -> None:
    """The SymPy derivatives agree with dfdx's adaptive ones near the starting points."""
    for p in PROBLEMS:
        x0 = np.array(p.x0) + 0.01  # off the starting point's zeros, which hide mistakes
        ref = dfdx.jacobian(p.r, x0, adaptive=True)
        assert np.all(np.abs(p.jacobian(x0) - ref.value) <= 2 * ref.error + 1e-12 * np.abs(ref.value)), p.name
        grad = dfdx.gradient(p.f, x0, adaptive=True).value  # f spans 12 decades here: a norm test
        assert np.max(np.abs(p.gradient(x0) - grad)) <= 1e-6 * np.max(np.abs(grad)), p.name


OPTIMIZERS = ("BFGS", "L-BFGS-B", "least_squares")


def main(detail: bool = False) -> dict[tuple[str, str], list[tuple[bool, int]]]:
    check_derivatives()
    results: dict[tuple[str, str], list[tuple[bool, int]]] = {}
    for optimizer in OPTIMIZERS:
        for route in ROUTES:
            results[optimizer, route] = [run(p, optimizer, route) for p in PROBLEMS]
    if detail:
        print_detail(results)
    print_table(results)
    return results


def print_table(results: dict[tuple[str, str], list[tuple[bool, int]]]) -> None:
    print(f"{len(PROBLEMS)} problems; successes and total evaluations of f per optimizer")
    head = "".join(f"{o:>22}" for o in OPTIMIZERS)
    print(f"{'route':<24}{head}{'all 36 runs':>22}{'/ 2-point':>11}{'/ 3-point':>11}")
    two, three = (
        sum(sum(n for _, n in results[o, r]) for o in OPTIMIZERS) for r in ("SciPy 2-point", "SciPy 3-point")
    )
    for route in ROUTES:
        cells, wins, total = "", 0, 0
        for o in OPTIMIZERS:
            runs = results[o, route]
            ok, evals = sum(s for s, _ in runs), sum(n for _, n in runs)
            cells += f"{ok:>8}/{len(runs)} {evals:>10,}"
            wins, total = wins + ok, total + evals
        ratios = f"{total / two:>11.2f}{total / three:>11.2f}"
        print(f"{route:<24}{cells}{wins:>8}/{3 * len(PROBLEMS)} {total:>10,}{ratios}")


def print_detail(results: dict[tuple[str, str], list[tuple[bool, int]]]) -> None:
    for o in OPTIMIZERS:
        print(f"\n{o}: evaluations of f per problem (* = did not reach a known minimum)")
        print(f"{'problem':<22}" + "".join(f"{r[:11]:>12}" for r in ROUTES))
        for i, p in enumerate(PROBLEMS):
            cells = "".join(f"{n:>11}{' ' if ok else '*'}" for ok, n in (results[o, r][i] for r in ROUTES))
            print(f"{p.name:<22}{cells}")
    print()


if __name__ == "__main__":
    main(detail="--detail" in sys.argv[1:])
