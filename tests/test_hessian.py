"""Hessians (from f alone and from a gradient) and higher derivatives, against SymPy."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import dfdx
from dfdx import DifferentiationError, Status

from .bank import PROBLEMS, Problem, problem

# sin(x) at x = 1e6: the step rule, relative to max(1, |x|), spans many periods there
# (the gradient has the same limit); brown_badly_scaled: |f| ~ 1e12 at x leaves no
# digits for second differences of f (its error estimate says so).
SMOOTH = [p for p in PROBLEMS if p.name not in ("sin_large_x", "brown_badly_scaled")]


def gradient_function(p: Problem):
    raw = sp.lambdify([p.symbols], [sp.diff(p.expr, s) for s in p.symbols], modules="numpy")
    return lambda x: np.array(raw(list(np.asarray(x))))


def relative_error(value, exact):
    return float(np.max(np.abs(value - exact)) / max(1.0, float(np.max(np.abs(exact)))))


@pytest.mark.parametrize("p", SMOOTH, ids=lambda p: p.name)
def test_hessian_from_f_matches_sympy_and_is_covered(p: Problem) -> None:
    res = dfdx.hessian(p.f, p.x)
    exact = p.exact_hessian
    assert res.value.shape == exact.shape
    assert np.array_equal(res.value, res.value.T)
    assert np.array_equal(res.error, res.error.T)
    assert relative_error(res.value, exact) < 5e-9
    assert np.all(np.abs(res.value - exact) <= res.error)
    n = p.x.size
    # Each diagonal and each pair also runs its check stencil (two points).
    assert res.nfev <= 1 + 12 * n + 7 * n * (n - 1) // 2


def test_badly_scaled_problem_has_an_honest_error() -> None:
    p = problem("brown_badly_scaled")
    res = dfdx.hessian(p.f, p.x)
    assert np.all(np.abs(res.value - p.exact_hessian) <= res.error)


def ten_variable_problems() -> list[Problem]:
    x = sp.symbols("x0:10")
    point = tuple(0.1 * (i + 1) * (-1) ** i for i in range(10))
    lse = sp.log(sum(sp.exp((i % 3 + 1) * x[i] - x[(i + 1) % 10] / 2) for i in range(10)))
    quartic = sum((i + 1) * x[i] ** 4 for i in range(10)) + sum(x[i] * x[i + 1] for i in range(9))
    trig = sum(sp.sin(x[i]) * sp.cos(x[(i + 1) % 10]) for i in range(10)) + sp.exp(sum(x) / 10)
    rosen = sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(9))
    return [
        Problem("logsumexp_10", lse, point),
        Problem("trig_10", trig, point),
        Problem("quartic_10", quartic, point),
        Problem("rosenbrock_10", rosen, point),
    ]


@pytest.mark.parametrize("p", ten_variable_problems(), ids=lambda p: p.name)
def test_ten_variables_within_300_evaluations(p: Problem) -> None:
    res = dfdx.hessian(p.f, p.x)
    assert res.nfev <= 400  # 300 before every stencil was verified by a check (two points each)
    exact = p.exact_hessian
    assert np.all(np.abs(res.value - exact) <= res.error)
    error = np.max(np.abs(res.value - exact)) / np.max(np.abs(exact))
    if p.name in ("logsumexp_10", "trig_10"):
        # The order-4 rule's floor at the best step of each entry is 3.7e-11 and
        # 5.3e-11 (benchmarks/bench_hessian_floor.py); with the pairs' lines at the
        # axes' steps trig's worst entry was 1.2e-10, at half of them 8.0e-11.
        assert error < 1e-10
    else:
        # Polynomials of degree four: the long steps leave rounding alone (numdifftools
        # reaches 2e-15 and 1.3e-15 here with 3001 evaluations), and the error
        # estimate stays close to it.
        assert error < 1.3e-15
        assert np.max(res.error) / np.max(np.abs(exact)) < 1e-12


def test_polynomial_axes_with_a_degree_six_cross_term() -> None:
    # Along each axis f is a polynomial of degree <= 4 (the scout sees no sixth
    # derivative), but x0^3 x1^3 is of degree six along the pair's diagonal: the check
    # point must send the pair back to short steps.
    x0, x1 = sp.symbols("x0 x1")
    p = Problem("cross", x0**3 * x1**3 + x0**4, (0.7, -0.4))
    res = dfdx.hessian(p.f, p.x)
    assert np.all(np.abs(res.value - p.exact_hessian) <= res.error)
    assert relative_error(res.value, p.exact_hessian) < 1e-9
    assert res.nfev == 1 + 6 * 2 + 5 + 4 + 2  # and the pair's check


def test_polynomial_axis_next_to_a_transcendental_one() -> None:
    x0, x1 = sp.symbols("x0 x1")
    p = Problem("mixed", sp.sin(x0) * x1**3, (0.7, -0.4))
    res = dfdx.hessian(p.f, p.x)
    assert np.all(np.abs(res.value - p.exact_hessian) <= res.error)
    assert relative_error(res.value, p.exact_hessian) < 1e-9
    # The pair takes the short step of x0 along x1 too.
    assert res.step[0] < res.step[1]


@pytest.mark.parametrize("raises", [False, True])
def test_scout_outside_the_domain_falls_back_to_short_steps(raises: bool) -> None:
    def f(x):
        if raises and x[0] <= 0:
            raise ValueError("log of a negative number")
        return np.log(x[0]) + x[1] ** 2 * x[0]

    res = dfdx.hessian(f, [0.5, 1.0])
    exact = np.array([[-4.0, 2.0], [2.0, 1.0]])
    assert np.all(np.abs(res.value - exact) <= res.error)
    assert relative_error(res.value, exact) < 1e-8


def test_hessian_with_user_steps_uses_them() -> None:
    x0, x1 = sp.symbols("x0 x1")
    p = Problem("user_steps", sp.exp(x0) * sp.cos(x1) + x0**4, (0.3, 0.2))
    seen = []
    res = dfdx.hessian(lambda x: seen.append(np.array(x)) or p.f(x), p.x, step=[1e-3, 2e-3])
    assert np.allclose(res.step, [1e-3, 2e-3])
    assert res.nfev == 1 + 4 * 2 + 4 + 2 * 2 + 2  # and the checks of the diagonals and the pair
    # The pair's line goes through x + k (h0, h1), k = +-1, +-2, at the user's steps.
    moves = np.array(seen) - p.x
    on_line = moves[np.all(moves != 0, axis=1)]
    # (and its check's two points, closer to x)
    assert np.allclose(np.sort(on_line[:, 0])[[0, 1, -2, -1]], [-2e-3, -1e-3, 1e-3, 2e-3])
    assert np.allclose(on_line[:, 1], 2 * on_line[:, 0])
    assert np.all(np.abs(res.value - p.exact_hessian) <= res.error)


@pytest.mark.parametrize(
    ("method", "accuracy", "tol"),
    [
        ("central", 2, 1e-5),
        ("central", 4, 5e-9),
        ("central", 6, 5e-9),
        ("central", 8, 5e-9),
        ("forward", 1, 1e-3),
        ("forward", 2, 3e-5),  # a check may shorten a step: less truncation, more rounding
        ("forward", 3, 1e-6),
        ("backward", 1, 1e-3),
        ("backward", 2, 1e-5),
        ("backward", 4, 1e-7),
    ],
)
@pytest.mark.parametrize("name", ["sin_cos", "log_sum", "atan", "wood", "trigonometric", "quartic_mix"])
def test_every_method_and_accuracy(method: str, accuracy: int, tol: float, name: str) -> None:
    p = problem(name)
    res = dfdx.hessian(p.f, p.x, method=method, accuracy=accuracy)
    assert res.accuracy == accuracy and res.method == method
    assert np.array_equal(res.value, res.value.T)
    assert relative_error(res.value, p.exact_hessian) < tol
    assert np.all(np.abs(res.value - p.exact_hessian) <= res.error)


@pytest.mark.parametrize("p", SMOOTH, ids=lambda p: p.name)
def test_hessian_from_gradient(p: Problem) -> None:
    grad = gradient_function(p)
    res = dfdx.hessian(p.f, p.x, grad=grad)
    assert np.array_equal(res.value, res.value.T)
    assert relative_error(res.value, p.exact_hessian) < 1e-10
    assert np.all(np.abs(res.value - p.exact_hessian) <= res.error)
    # Four points and the check's two per column; tanh at its centre of symmetry (where the
    # model understates the truncation) takes one shorter round.
    assert res.nfev == 1 + 6 * p.x.size or (p.name == "tanh" and res.nfev == 1 + 12 * p.x.size)


@pytest.mark.parametrize("p", SMOOTH, ids=lambda p: p.name)
def test_hessian_from_gradient_complex_step_is_exact(p: Problem) -> None:
    res = dfdx.hessian(p.f, p.x, grad=gradient_function(p), method="complex")
    exact = p.exact_hessian
    assert np.all(np.abs(res.value - exact) <= 8 * np.finfo(float).eps * np.maximum(1, np.abs(exact)))
    assert np.all(np.abs(res.value - exact) <= res.error)


def test_gradient_with_asymmetric_jacobian_reports_the_asymmetry() -> None:
    # Not a gradient: its Jacobian [[0, 1], [0, 0]] is not symmetric.
    res = dfdx.hessian(lambda x: 0.0, [1.0, 2.0], grad=lambda x: np.array([x[1], 0.0]))
    assert np.allclose(res.value, [[0, 0.5], [0.5, 0]])
    assert res.error[0, 1] >= 0.5 - 1e-9


def test_f_is_not_called_with_grad() -> None:
    def f(x):
        raise AssertionError("f must not be called")

    res = dfdx.hessian(f, [1.0, 2.0], grad=lambda x: 2 * x)
    assert np.allclose(res.value, 2 * np.eye(2))


def test_matrix_shaped_x() -> None:
    x = np.array([[0.3, -0.2], [0.5, 1.1]])
    res = dfdx.hessian(lambda m: np.sum(m**3) + m[0, 0] * m[1, 1], x)
    exact = np.zeros((2, 2, 2, 2))
    for i in range(2):
        for j in range(2):
            exact[i, j, i, j] = 6 * x[i, j]
    exact[0, 0, 1, 1] = exact[1, 1, 0, 0] = 1.0
    assert res.value.shape == (2, 2, 2, 2)
    assert res.step.shape == (2, 2)
    assert np.allclose(res.value, exact, atol=1e-8)


def test_hessian_with_bounds_stays_in_the_box() -> None:
    lower, upper = np.array([0.0, -1.0, 0.5]), np.array([1.0, 1.0, 2.0])

    def f(x):
        if np.any(x < lower) or np.any(x > upper):
            raise AssertionError(f"evaluated outside the box at {x}")
        return np.exp(x[0]) * np.sin(x[1] + 2 * x[2]) + x[0] * x[2] ** 3

    x = np.array([0.0, 1.0, 1.2])
    p = Problem(
        "boxed",
        sp.exp(sp.Symbol("x0")) * sp.sin(sp.Symbol("x1") + 2 * sp.Symbol("x2"))
        + sp.Symbol("x0") * sp.Symbol("x2") ** 3,
        tuple(x),
    )
    res = dfdx.hessian(f, x, bounds=(lower, upper))
    assert res.status is Status.ONE_SIDED
    assert np.array_equal(res.value, res.value.T)
    assert relative_error(res.value, p.exact_hessian) < 1e-7
    assert np.all(np.abs(res.value - p.exact_hessian) <= res.error)


def test_hessian_errors() -> None:
    with pytest.raises(ValueError, match="`grad` must return an array of x's shape"):
        dfdx.hessian(lambda x: 0.0, [1.0, 2.0], grad=lambda x: np.zeros(3))
    with pytest.raises(ValueError, match="`grad` must return an array of x's shape"):
        dfdx.hessian(lambda x: 0.0, [1.0, 2.0], grad=lambda x: np.zeros((2, 1)))
    with pytest.raises(ValueError, match="method='complex' differences f at fixed steps for hessian"):
        dfdx.hessian(lambda x: np.sum(x**2), [1.0], method="complex", bounds=(0.0, 2.0))
    with pytest.raises(TypeError, match="`grad` must be a callable"):
        dfdx.hessian(lambda x: 0.0, [1.0], grad=3.0)
    with pytest.raises(TypeError, match="`f` must be a callable"):
        dfdx.hessian(None, [1.0])


def test_nonfinite_hessian_raises_with_partial_result() -> None:
    def f(x):
        return np.log(x[0]) + x[1] ** 2 if x[0] == 0.5 else np.nan

    with pytest.raises(DifferentiationError) as info:
        dfdx.hessian(f, [0.5, 1.0])
    assert info.value.result.status is Status.NONFINITE
    res = dfdx.hessian(f, [0.5, 1.0], throw=False)
    assert res.status is Status.NONFINITE and not res.success


# -- higher derivatives ---------------------------------------------------------------

T = sp.Symbol("t")
UNIVARIATE = {
    "lyness_moler": (sp.exp(T) / sp.sqrt(sp.sin(T) ** 3 + sp.cos(T) ** 3), 1.5),
    "exp": (sp.exp(T), 0.7),
    "sin": (sp.sin(T), 1.0),
    "atan": (sp.atan(T), 0.5),
    "log": (sp.log(1 + T**2), 2.0),
    "rational": (1 / (1 + T**2), 3.0),
}
# Relative accuracy reached by the default (central, order 4) stencil, per order n.
TOLERANCE = {1: 1e-11, 2: 1e-9, 3: 1e-7, 4: 1e-5, 5: 1e-4, 6: 1e-3}


@pytest.mark.parametrize("n", sorted(TOLERANCE))
@pytest.mark.parametrize("name", sorted(UNIVARIATE))
def test_derivative_of_order_n_against_sympy(name: str, n: int) -> None:
    expr, x0 = UNIVARIATE[name]
    f = sp.lambdify(T, expr, "numpy")
    exact = float(sp.diff(expr, T, n).evalf(30, subs={T: x0}))
    res = dfdx.derivative(f, x0, n=n)
    error = abs(float(res.value) - exact)
    assert error <= TOLERANCE[n] * max(1.0, abs(exact))
    assert error <= float(res.error)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_higher_derivatives_elementwise_and_higher_accuracy(n: int) -> None:
    x = np.array([0.1, 0.5, 1.3, 2.0])
    exact = np.array([float(sp.diff(sp.sin(T) * sp.exp(T), T, n).subs(T, v)) for v in x])
    res = dfdx.derivative(lambda v: np.sin(v) * np.exp(v), x, n=n, accuracy=6)
    assert np.all(np.abs(res.value - exact) <= 1e-6 * np.maximum(1, np.abs(exact)))
    assert np.all(np.abs(res.value - exact) <= res.error)


def test_derivative_order_errors() -> None:
    with pytest.raises(ValueError, match="`n` \\(the derivative order\\)"):
        dfdx.derivative(np.sin, 1.0, n=0)
    with pytest.raises(ValueError, match="method='complex' gives first derivatives only"):
        dfdx.derivative(np.sin, 1.0, n=2, method="complex")


@pytest.mark.parametrize("box", [(-10.0, 10.0), (0.0, 1.0)])
def test_scout_stays_in_a_box_with_room(box: tuple[float, float]) -> None:
    # With room for the scout (shrunk to a third of the room in the tighter box), a
    # polynomial still gets its long steps, and no point leaves the box.
    lower, upper = np.full(3, box[0]), np.full(3, box[1])
    x = np.array([0.2, 0.5, 0.7])

    def f(v):
        if np.any(v < lower) or np.any(v > upper):
            raise AssertionError(f"evaluated outside the box at {v}")
        return v[0] ** 4 + 3 * v[0] * v[1] ** 2 - v[2] ** 3 * v[1]

    s = sp.symbols("x0:3")
    p = Problem("boxed_poly", s[0] ** 4 + 3 * s[0] * s[1] ** 2 - s[2] ** 3 * s[1], tuple(x))
    res = dfdx.hessian(f, x, bounds=(lower, upper))
    assert np.all(np.abs(res.value - p.exact_hessian) <= res.error)
    assert relative_error(res.value, p.exact_hessian) < 1e-13
    assert np.all(res.step >= 2.0**-5)
