"""Hessians of vector-valued f, and by the complex step from f alone."""

from __future__ import annotations

import numpy as np
import pytest

import dfdx
from tests.bank import PROBLEMS

X = np.array([0.5, 1.5, 2.0])


def vector_f(x):
    return np.array([x[0] ** 2 * x[1], np.sin(x[0] * x[1]), x[2] ** 3])


def exact_vector_hessian(x):
    s, c = np.sin(x[0] * x[1]), np.cos(x[0] * x[1])
    h1 = np.array([[2 * x[1], 2 * x[0], 0], [2 * x[0], 0, 0], [0, 0, 0]])
    h2 = np.array(
        [[-s * x[1] ** 2, c - s * x[0] * x[1], 0], [c - s * x[0] * x[1], -s * x[0] ** 2, 0], [0, 0, 0]]
    )
    h3 = np.zeros((3, 3))
    h3[2, 2] = 6 * x[2]
    return np.stack([h1, h2, h3])


@pytest.mark.parametrize("method", ["central", "complex"])
def test_hessian_of_a_vector_f_has_the_outputs_first(method):
    res = dfdx.hessian(vector_f, X, method=method)
    assert res.value.shape == (3, 3, 3) and res.entry_status.shape == (3, 3, 3)
    exact = exact_vector_hessian(X)
    np.testing.assert_allclose(res.value, exact, atol=1e-8)
    assert np.all(np.abs(res.value - exact) <= res.error)
    np.testing.assert_array_equal(res.value, np.swapaxes(res.value, 1, 2))


def test_each_output_equals_its_own_hessian_on_the_same_points():
    # Every output is differenced at the default steps: component 1 alone, at those steps,
    # gives the same numbers.
    res = dfdx.hessian(vector_f, X)
    one = dfdx.hessian(lambda x: vector_f(x)[1], X, step=res.step)
    np.testing.assert_allclose(res.value[1], one.value, rtol=1e-12, atol=1e-15)


def test_a_matrix_valued_f():
    f = lambda x: np.outer(x, x)  # f_ab = x_a x_b: d2/dx_i dx_j = d_ai d_bj + d_aj d_bi
    res = dfdx.hessian(f, X[:2])
    exact = np.zeros((2, 2, 2, 2))
    for a in range(2):
        for b in range(2):
            exact[a, b, a, b] += 1
            exact[a, b, b, a] += 1
    assert res.value.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(res.value, exact, atol=1e-9)


ANALYTIC = [
    "seed_loss",
    "exp",
    "sin_cos",
    "gaussian",
    "cubic",
    "rosenbrock",
    "wood",
    "trigonometric",
    "quartic_mix",
]


@pytest.mark.parametrize("p", [p for p in PROBLEMS if p.name in ANALYTIC], ids=lambda p: p.name)
def test_complex_step_hessian_from_f_alone(p):
    res = dfdx.hessian(p.f, p.x, method="complex")
    n = p.x.size
    assert res.nfev == n * (n + 1) + 1
    scale = max(1.0, float(np.max(np.abs(p.exact_hessian))))
    assert np.max(np.abs(res.value - p.exact_hessian)) <= 1e-8 * scale
    assert np.all(np.abs(res.value - p.exact_hessian) <= res.error)
    assert res.status is dfdx.Status.ESTIMATED_ERROR


def test_complex_step_hessian_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match=r"does not combine with `adaptive`, `noise` or `bounds`"):
        dfdx.hessian(lambda x: np.sum(x**2), [1.0], method="complex", adaptive=True)
    with pytest.raises(TypeError, match=r"method='complex' needs f to carry the imaginary part"):
        dfdx.hessian(lambda x: float(np.sum(np.real(x) ** 2)), [1.0, 2.0], method="complex")
