"""The fixed-step error model (dfdx.numerics.error_model): where it shrinks, where it must not."""

import numpy as np
import pytest

import dfdx
from dfdx.numerics.error_model import combine
from dfdx.stencils import central

from .bank import problem

EPS = float(np.finfo(np.float64).eps)


def _poly(x):
    # Quadratic along each axis: the stencil's third and fourth differences vanish.
    return x[0] ** 2 * x[1] ** 2 + 3 * x[1] ** 2 - x[0] * x[1]


@pytest.mark.parametrize("accuracy", [4, 6])
def test_exactly_computed_values_give_a_tight_estimate(accuracy):
    # At a dyadic point every value is exact, and the derivative exact to a few ulps.
    x = np.array([1.5, 0.75])
    g = np.array([2 * x[0] * x[1] ** 2 - x[1], 2 * x[0] ** 2 * x[1] + 6 * x[1] - x[0]])
    res = dfdx.gradient(_poly, x, accuracy=accuracy)
    assert np.all(np.abs(res.value - g) <= res.error)
    assert np.all(res.error <= 64 * EPS * np.abs(g))


def test_rounded_values_are_not_shrunk():
    # f(x) and g differ in rounded parts: same polynomial, a non-dyadic coefficient.
    x = np.array([1.5, 0.75])
    res = dfdx.gradient(lambda x: _poly(x) + 0.1 * x[0] * x[1], x)
    exact = dfdx.gradient(_poly, x)
    assert np.all(res.error > 100 * exact.error)


@pytest.mark.parametrize("name", ["brown_badly_scaled", "brown_badly_scaled_x100"])
def test_errors_drifting_along_the_stencil_stay_covered(name):
    # Large exact terms plus a sub-ulp non-dyadic part: the values' rounding errors drift
    # linearly along the stencil, invisible to its highest differences.
    p = problem(name)
    res = dfdx.gradient(p.f, p.x)
    assert np.all(np.abs(res.value - p.exact_gradient) <= res.error)


def test_values_equal_to_the_ulp_are_not_taken_as_exact():
    # f varies far below the ulps of f(x): every value is the same short float.
    res = dfdx.derivative(lambda t: 1.0 + 1e-20 * t, 0.5)
    assert res.value == 0.0 and res.error >= 1e-20


def test_float32_values_are_judged_against_their_own_precision():
    # Every float32 value has short float64 mantissas; that proves nothing.
    s = central(1, 4)
    h = np.array([[2.0**-6]])
    xs = 0.7 + s.offsets * h[0, 0]
    values = np.exp(xs.astype(np.float32)).astype(np.float64).reshape(1, -1, 1)
    f0 = np.exp(np.float32(0.7)).astype(np.float64).reshape(1)
    eps32 = float(np.finfo(np.float32).eps)
    value, error, _ = combine(s, values, f0, h, np.ones((1, 1)), eps32, True)
    assert abs(value[0, 0] - np.exp(0.7)) <= error[0, 0]
    assert error[0, 0] >= eps32 * np.exp(0.7) / h[0, 0]


def test_a_column_gives_the_same_bits_alone_or_with_others():
    s = central(1, 4)
    rng = np.random.default_rng(0)
    values = rng.standard_normal((3, 4, 2)) + 10.0
    f0 = np.full(2, 10.0)
    h = np.array([[1e-3], [2e-3], [4e-3]])
    reach = np.ones((3, 1))
    together = combine(s, values, f0, h, reach, EPS, False)
    for j in range(3):
        alone = combine(s, values[j : j + 1], f0, h[j : j + 1], reach[j : j + 1], EPS, False)
        for a, b in zip(alone, together):
            np.testing.assert_array_equal(a[0], b[j])
