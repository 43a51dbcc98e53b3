"""Speed of the command line's compiled expressions against hand-written Python.

    python benchmarks/bench_expr.py

The command line compiles an expression once into closures over NumPy
(``dfdx.cli.expressions``) and never uses ``eval``. This script measures, in one process, the
time per evaluation of such an expression against the same function written in Python,
and against SymPy's ``lambdify`` (which generates Python source and ``exec``-s it, the
usual fast route that the command line must not take), and the time of a whole
``dfdx.gradient`` call the way the command line makes it (vectorized) against a Python
function evaluated point by point. Medians of repeats; ratios to the hand-written code.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

import numpy as np
import sympy as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import dfdx  # noqa: E402
from dfdx.cli.expressions import compile_expression  # noqa: E402

CASES = {
    "seed loss": (
        "(2*w1 + 3*w2 - 5)**2 + (w1 - w2 - 1)**2",
        lambda w: (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2,
        [1.0, 1.0],
    ),
    "Lyness-Moler": (
        "exp(x)/sqrt(sin(x)**3 + cos(x)**3)",
        lambda w: np.exp(w[0]) / np.sqrt(np.sin(w[0]) ** 3 + np.cos(w[0]) ** 3),
        [1.5],
    ),
    "10-variable Rosenbrock": (
        " + ".join(f"100*(x{i + 1} - x{i}**2)**2 + (1 - x{i})**2" for i in range(9)),
        lambda x: sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(9)),
        [0.5] * 10,
    ),
    "100-variable Rosenbrock": (
        " + ".join(f"100*(x{i + 1} - x{i}**2)**2 + (1 - x{i})**2" for i in range(99)),
        lambda x: sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(99)),
        [0.5] * 100,
    ),
}


def per_call(func, arg, number=2000, repeat=7) -> float:
    """Median seconds per call."""
    return float(np.median(timeit.repeat(lambda: func(arg), number=number, repeat=repeat)) / number)


def rows(text: str, python, x: np.ndarray) -> list[tuple[str, float, float]]:
    """(label, seconds per call, ratio) for one function."""
    expr = compile_expression(text)
    compiled = expr.function()
    symbols = [sp.Symbol(v) for v in expr.variables]
    lambdified = sp.lambdify([symbols], sp.sympify(text), modules="numpy")
    assert np.isclose(compiled(x), python(x)) and np.isclose(lambdified(list(x)), python(x))
    base = per_call(python, x)
    grad_python = per_call(lambda v: dfdx.gradient(python, v), x, number=100)
    return [
        ("hand-written Python", base, 1.0),
        ("dfdx expression (compiled closures)", t := per_call(compiled, x), t / base),
        ("SymPy lambdify (exec-generated)", t := per_call(lambda v: lambdified(list(v)), x), t / base),
        ("gradient, Python f, point by point", grad_python, 1.0),
        (
            "gradient, expression, vectorized",
            t := per_call(lambda v: dfdx.gradient(compiled, v, vectorized=True), x, number=100),
            t / grad_python,
        ),
    ]


def main() -> None:
    print(f"{'function':24}{'evaluation':>40}{'time':>12}{'ratio':>8}")
    for name, (text, python, point) in CASES.items():
        for label, seconds, ratio in rows(text, python, np.array(point)):
            print(f"{name:24}{label:>40}{seconds * 1e6:>10.1f}us{ratio:>8.2f}")
        print()


if __name__ == "__main__":
    main()
