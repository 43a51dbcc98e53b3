"""Problems for the gradient-checker tests: the bank plus further functions, with analytic
gradients and Jacobians from SymPy, evaluated in the dtype of the point (so float32 code is
genuinely float32, with its own rounding)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from .bank import PROBLEMS, Problem

__all__ = ["CHECK_PROBLEMS", "analytic_gradient", "JACOBIAN_PROBLEMS", "VectorProblem"]


def _more() -> list[Problem]:
    x = [sp.Symbol(f"x{i}") for i in range(8)]
    x0, x1, x2, x3 = x[:4]
    return [
        Problem("logsumexp", sp.log(sum(sp.exp(xi) for xi in x[:5])), (0.1, -0.4, 1.2, 0.3, -2.0)),
        Problem(
            "quadratic_form",
            sum((i + j + 1) * x[i] * x[j] / (1 + abs(i - j)) for i in range(5) for j in range(5)),
            (1.0, -2.0, 0.5, 3.0, -1.5),
        ),
        Problem("cross_entropy", -x1 + sp.log(sp.exp(x0) + sp.exp(x1) + sp.exp(x2)), (0.2, 0.9, -0.6)),
        Problem("cosh_mix", sp.cosh(x0 - x1) * sp.exp(-(x2**2)) + x3**3, (0.4, -0.2, 0.9, 1.3)),
        Problem("norm", sp.sqrt(sum(xi**2 for xi in x[:6])), (1.0, -2.0, 0.5, 0.25, 3.0, -1.0)),
        Problem("rational_3", (x0**2 + x1) / (1 + x2**2 + x0**2), (0.7, -1.1, 2.2)),
        Problem("himmelblau", (x0**2 + x1 - 11) ** 2 + (x0 + x1**2 - 7) ** 2, (-0.27, -0.92)),
        Problem("erf_mix", sp.erf(x0 * x1) + sp.log(2 + sp.sin(x2)), (0.6, 0.8, -1.0)),
    ]


CHECK_PROBLEMS: list[Problem] = PROBLEMS + _more()


def analytic_gradient(p: Problem) -> Callable[[Any], np.ndarray]:
    """The exact gradient as NumPy code, computed in the dtype of its argument."""
    raw = sp.lambdify([p.symbols], [sp.diff(p.expr, s) for s in p.symbols], modules="numpy")

    def grad(x: Any) -> np.ndarray:
        x = np.asarray(x)
        return np.array([np.asarray(v) for v in raw(list(x))], dtype=x.dtype)

    return grad


class VectorProblem:
    """A vector function of x with its exact Jacobian (rows: outputs, columns: inputs)."""

    def __init__(self, name: str, exprs: list[sp.Expr], point: tuple[float, ...]) -> None:
        self.name = name
        self.symbols = [sp.Symbol(f"x{i}") for i in range(len(point))]
        self.x = np.array(point)
        raw_f = sp.lambdify([self.symbols], exprs, modules="numpy")
        raw_j = sp.lambdify([self.symbols], sp.Matrix(exprs).jacobian(self.symbols).tolist(), modules="numpy")
        self.f = lambda x: np.array(
            [np.asarray(v) for v in raw_f(list(np.asarray(x)))], dtype=np.asarray(x).dtype
        )
        self.jac = lambda x: np.array(raw_j(list(np.asarray(x))), dtype=np.asarray(x).dtype)

    def __repr__(self) -> str:
        return self.name


def _vector_problems() -> list[VectorProblem]:
    x0, x1, x2 = sp.symbols("x0 x1 x2")
    return [
        VectorProblem("polar", [x0 * sp.cos(x1), x0 * sp.sin(x1)], (2.0, 0.7)),
        VectorProblem("mixed", [x0 * x1 * x2, x0**2 - x2, sp.sin(x1) + sp.exp(x2)], (0.5, 1.2, -0.3)),
        VectorProblem(
            "lorenz", [10 * (x1 - x0), x0 * (28 - x2) - x1, x0 * x1 - sp.Rational(8, 3) * x2], (1.0, 2.0, 3.0)
        ),
        VectorProblem("cubic_map", [x0 + 2 * x1**2, 3 * x0**3 - x1], (0.8, -1.3)),
    ]


JACOBIAN_PROBLEMS: list[VectorProblem] = _vector_problems()
