"""Directional derivatives: scalar and vector f (J v), Hessian-vector products, cost."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import dfdx

from .bank import PROBLEMS, Problem, problem

SMOOTH = [p for p in PROBLEMS if p.name not in ("sin_large_x", "brown_badly_scaled")]


def gradient_function(p: Problem):
    raw = sp.lambdify([p.symbols], [sp.diff(p.expr, s) for s in p.symbols], modules="numpy")
    return lambda x: np.array(raw(list(np.asarray(x))))


def direction(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=n)


@pytest.mark.parametrize("p", SMOOTH, ids=lambda p: p.name)
def test_scalar_f_gives_gradient_dot_v(p: Problem) -> None:
    v = direction(p.x.size)
    res = dfdx.directional(p.f, p.x, v)
    exact = p.exact_gradient @ v
    assert np.ndim(res.value) == 0 and np.ndim(res.step) == 0
    assert abs(res.value - exact) <= 1e-9 * max(1.0, np.abs(p.exact_gradient) @ np.abs(v))
    # tanh at its centre of symmetry: the even derivatives vanish and the measured
    # third understates the growth to the fifth (poles of tanh at distance pi/2), so
    # the estimate there falls short by less than 2x; everywhere else it covers.
    slack = 2.0 if p.name == "tanh" else 1.0
    assert abs(res.value - exact) <= slack * res.error
    assert res.nfev == 7  # four points and the check's two


@pytest.mark.parametrize("p", SMOOTH, ids=lambda p: p.name)
@pytest.mark.parametrize(("method", "tol"), [("central", 1e-9), ("complex", 1e-14)])
def test_hessian_vector_product_from_the_gradient(p: Problem, method: str, tol: float) -> None:
    v = direction(p.x.size, 1)
    res = dfdx.directional(gradient_function(p), p.x, v, method=method)
    exact = p.exact_hessian @ v
    scale = max(1.0, float(np.max(np.abs(p.exact_hessian) @ np.abs(v))))
    assert res.value.shape == p.x.shape
    assert np.all(np.abs(res.value - exact) <= tol * scale)
    # Rounding inside a gradient of several operations can exceed the model's two
    # ulps per value by a little (atan: 3 %); the estimate must stay that close.
    assert np.all(np.abs(res.value - exact) <= 1.5 * res.error)


def test_vector_f_gives_jacobian_times_v() -> None:
    def f(x):
        return np.array([[x[0] * x[1], np.sin(x[2])], [np.exp(x[0]), x[1] ** 2 + x[2]]])

    x, v = np.array([0.3, -1.2, 0.8]), np.array([1.0, 2.0, -0.5])
    jac = dfdx.jacobian(f, x).value
    res = dfdx.directional(f, x, v)
    assert res.value.shape == (2, 2)
    assert np.allclose(res.value, jac @ v, rtol=1e-11, atol=1e-12)


def test_result_scales_with_v_and_does_not_normalise_it() -> None:
    p = problem("trigonometric")
    v = direction(5, 2)
    one = dfdx.directional(p.f, p.x, v).value
    three = dfdx.directional(p.f, p.x, 3 * v).value
    assert three == pytest.approx(3 * one, rel=1e-10)


def test_cost_does_not_depend_on_the_size_of_x() -> None:
    for n in (2, 100, 10_000):
        x = np.linspace(-1, 1, n)
        res = dfdx.directional(lambda y: np.sum(np.sin(y)), x, np.ones(n))
        assert res.nfev == 7  # four points and the check's two
        assert res.value == pytest.approx(np.sum(np.cos(x)), rel=1e-10)


@pytest.mark.parametrize(
    ("method", "accuracy", "tol"),
    [
        ("forward", 1, 1e-6),
        ("backward", 2, 1e-8),
        ("central", 2, 1e-8),
        ("central", 6, 1e-11),
        ("complex", 2, 1e-15),
    ],
)
def test_methods_and_orders(method: str, accuracy: int, tol: float) -> None:
    p = problem("extended_rosenbrock")
    v = direction(8, 3)
    res = dfdx.directional(p.f, p.x, v, method=method, accuracy=accuracy)
    exact = p.exact_gradient @ v
    assert abs(res.value - exact) <= tol * np.abs(p.exact_gradient) @ np.abs(v)
    assert abs(res.value - exact) <= res.error


def test_sparse_direction_and_matrix_x() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    v = np.array([[0.0, 0.0], [1.0, 0.0]])
    res = dfdx.directional(lambda m: np.sum(m**2), x, v)
    assert res.value == pytest.approx(6.0, rel=1e-12)


def test_user_step_and_vectorized_f() -> None:
    x, v = np.array([0.2, 0.4]), np.array([1.0, -1.0])
    res = dfdx.directional(lambda y: np.exp(y[0]) * y[1], x, v, step=1e-3)
    exact = np.exp(0.2) * 0.4 - np.exp(0.2)
    assert res.step == 1e-3 and res.value == pytest.approx(exact, rel=1e-10)
    vec = dfdx.directional(lambda y: np.exp(y[0]) * y[1], x, v, vectorized=True)
    assert vec.value == pytest.approx(exact, rel=1e-11)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=3, max_size=3), st.lists(st.floats(-3, 3), min_size=3, max_size=3))
def test_agrees_with_the_gradient_at_random_points(xs: list[float], vs: list[float]) -> None:
    if not np.any(vs):
        return
    p = problem("tanh")
    x, v = np.array(xs), np.array(vs)
    res = dfdx.directional(p.f, x, v)
    grad = dfdx.gradient(p.f, x)
    # The step in t is sized by max |v|; when f changes along v faster than that says
    # (here tanh of x0 - 2 x1 + x2 along (0, 2.25, -2): rate 6.5) the truncation error
    # model can fall short, by 1.4x at worst found so far; hence the factor 2.
    assert abs(res.value - grad.value @ v) <= 2 * (res.error + np.abs(grad.error) @ np.abs(v))


def test_errors() -> None:
    f = lambda x: np.sum(x**2)  # noqa: E731
    with pytest.raises(ValueError, match=r"`v` must have x's shape \(2,\), got \(3,\)"):
        dfdx.directional(f, [1.0, 2.0], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="`v` must be a nonzero direction"):
        dfdx.directional(f, [1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="`v` must be finite"):
        dfdx.directional(f, [1.0, 2.0], [np.nan, 0.0])
    with pytest.raises(TypeError, match="`v` must be real"):
        dfdx.directional(f, [1.0, 2.0], [1j, 0.0])
