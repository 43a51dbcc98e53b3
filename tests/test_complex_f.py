"""Complex-valued f at a real x under the real methods: the real and imaginary parts together."""

from __future__ import annotations

import numpy as np
import pytest

import dfdx

X = np.array([0.3, 1.5])


def f(x):
    return np.exp(1j * x[0]) * x[1] ** 2


def test_gradient_of_a_complex_f_is_complex_and_equals_the_parts():
    res = dfdx.gradient(f, X)
    exact = np.array([1j * np.exp(0.3j) * 2.25, np.exp(0.3j) * 3.0])
    assert res.value.dtype == np.complex128
    assert np.all(np.abs(res.value - exact) <= res.error)
    real = dfdx.gradient(lambda x: f(x).real, X)
    imag = dfdx.gradient(lambda x: f(x).imag, X)
    np.testing.assert_array_equal(res.value, real.value + 1j * imag.value)
    assert res.nfev == real.nfev + 1  # one more f(x): the one that showed f complex


@pytest.mark.parametrize("vectorized", [False, True])
def test_jacobian_hessian_and_directional(vectorized):
    g = lambda x: np.stack([np.exp(1j * x[0]), 1j * x[1] * x[0]])
    jac = dfdx.jacobian(g, X, vectorized=vectorized)
    exact = np.array([[1j * np.exp(0.3j), 0.0], [1j * X[1], 1j * X[0]]])
    np.testing.assert_allclose(jac.value, exact, atol=1e-10)
    hess = dfdx.hessian(f, X, vectorized=vectorized)
    exact_h = np.array(
        [[-np.exp(0.3j) * 2.25, 1j * np.exp(0.3j) * 3.0], [1j * np.exp(0.3j) * 3.0, 2 * np.exp(0.3j)]]
    )
    np.testing.assert_allclose(hess.value, exact_h, atol=1e-7)
    assert np.all(np.abs(hess.value - exact_h) <= hess.error)
    d = dfdx.directional(f, X, [1.0, 0.0])
    np.testing.assert_allclose(d.value, 1j * np.exp(0.3j) * 2.25, rtol=1e-10)


def test_a_given_complex_f0_is_used():
    res = dfdx.gradient(f, X, f0=f(X))
    assert res.nfev == 2 * 6  # the stencil points (and the check's) only
    np.testing.assert_allclose(res.value, dfdx.gradient(f, X).value, rtol=0, atol=0)


def test_derivative_and_complex_values_off_x_are_refused():
    with pytest.raises(TypeError, match=r"f returned complex values at a real point x"):
        dfdx.derivative(lambda x: np.exp(1j * x), X)
    g = lambda x: x[0] ** 2 if x[0] == 0.3 else x[0] + 1j
    with pytest.raises(TypeError, match=r"f returned complex values at the real point x ="):
        dfdx.gradient(g, X)


def test_a_complex_scalar_as_an_array_of_one():
    g = lambda x: np.array([np.exp(1j * x[0]) * x[1] ** 2])
    np.testing.assert_array_equal(dfdx.gradient(g, X).value, dfdx.gradient(f, X).value)
    with pytest.raises(
        ValueError, match=r"`f` must return a scalar for gradient, but f\(x\) has shape \(2,\)"
    ):
        dfdx.gradient(lambda x: 1j * x, X)
