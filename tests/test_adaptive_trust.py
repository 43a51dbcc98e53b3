"""The adaptive mode's trust contract on the failures it used to hide.

A trusted status (SUCCESS, ONE_SIDED) must cover the truth; where dfdx cannot tell it says so
with a weaker status. References are closed forms; the noise is deterministic (a hash of x),
so every run sees the same values.
"""

from __future__ import annotations

import numpy as np
import pytest

import dfdx
from dfdx import Status
from dfdx.numerics.richardson import noise_weights

TRUSTED = (Status.SUCCESS, Status.ONE_SIDED)


def covered(res, truth):
    return bool(np.all(np.abs(np.asarray(res.value) - truth) <= np.asarray(res.error)))


def honest(res, truth):
    """Covered, or a status that says the bar is not to be trusted."""
    return covered(res, truth) or res.status not in TRUSTED


def hashed(x):
    """A deterministic 'random' number in [-1, 1) per float64 value of x (a 64-bit finaliser)."""
    b = np.array(x, dtype=np.float64, ndmin=1).view(np.uint64).copy()
    for mult in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        b ^= b >> np.uint64(33)
        b *= np.uint64(mult)
    b ^= b >> np.uint64(33)
    return ((b >> np.uint64(11)).astype(np.float64) / 2.0**52 - 1.0).reshape(np.shape(x))


# -- steps above f's scale -----------------------------------------------------------------


@pytest.mark.parametrize("x", [3e4, 1e5, 1e7, 1.7e9])
def test_large_x_is_not_aliased(x):
    with np.errstate(all="ignore"):
        res = dfdx.derivative(np.sin, x, adaptive=True, throw=False)
    assert honest(res, np.cos(x)), res


def test_chirp_at_large_t():
    res = dfdx.derivative(lambda t: np.sin(t**2), 300.25, adaptive=True, throw=False)
    assert honest(res, 2 * 300.25 * np.cos(300.25**2)), res


def test_floor_far_from_zero_has_derivative_zero():
    """floor on steps of 2^k >= 1 looks like the identity; the probe below an absolute step sees 0."""
    res = dfdx.derivative(np.floor, 1e6 + 0.5, adaptive=True, throw=False)
    assert honest(res, 0.0), res


def test_user_step_far_above_the_scale():
    res = dfdx.derivative(np.sin, 1.0, adaptive=True, step=100.0, throw=False)
    assert honest(res, np.cos(1.0)), res


def test_steps_below_fs_resolution_are_not_a_zero_derivative():
    """(t + 1e8)^2 - 1e16: at steps below 1e-8, t + 1e8 rounds to the same value."""
    f = lambda t: (t + 1e8) ** 2 - 1e16  # noqa: E731
    res = dfdx.derivative(f, 1.0, adaptive=True, throw=False)
    assert honest(res, 2e8 + 2), res
    assert abs(res.value) > 1e8 or res.status not in TRUSTED


# -- domain edges and NaN outputs ------------------------------------------------------------


def test_elementwise_with_bounds():
    res = dfdx.derivative(np.exp, [0.1, 1.0], adaptive=True, bounds=([0, 0], [2, 2]))
    assert covered(res, np.exp([0.1, 1.0])) and np.all(res.error < 1e-9), res


def test_nan_outside_the_domain_is_handled_per_element():
    f = lambda x: np.where((x >= 0) & (x <= 2), np.exp(x), np.nan)  # noqa: E731
    x = np.linspace(0, 2, 10)
    with np.errstate(invalid="ignore"):
        res = dfdx.derivative(f, x, adaptive=True)
    assert res.status in TRUSTED and covered(res, np.exp(x)), res
    assert np.all(res.error < 1e-9), res.error


def test_one_nan_output_leaves_the_others():
    f = lambda x: np.array([np.sin(x[0]), np.sqrt(x[1] - 3.0), x[0] * x[1]])  # noqa: E731
    with np.errstate(invalid="ignore"):
        res = dfdx.jacobian(f, [1.0, 2.0], adaptive=True, throw=False)
    assert res.status is Status.NONFINITE
    value = np.asarray(res.value)
    assert np.all(np.isnan(value[1]))
    np.testing.assert_allclose(value[[0, 2]], [[np.cos(1.0), 0.0], [2.0, 1.0]], rtol=1e-12, atol=1e-14)


# -- noise that f does not announce ----------------------------------------------------------


@pytest.mark.parametrize("amplitude", [1e-12, 1e-10, 1e-8])
def test_unannounced_noise_is_measured(amplitude):
    f = lambda t: np.sin(t) + amplitude * hashed(t)  # noqa: E731
    res = dfdx.derivative(f, 1.0, adaptive=True, throw=False)
    assert res.status is not Status.NOT_DIFFERENTIABLE, res
    assert covered(res, np.cos(1.0)), res


def test_float32_inside_f():
    f = lambda t: np.float64(np.exp(np.float32(t)))  # noqa: E731
    res = dfdx.derivative(f, 2.0, adaptive=True, throw=False)
    assert res.status is not Status.NOT_DIFFERENTIABLE and covered(res, np.exp(2.0)), res


def test_quantised_outputs():
    f = lambda t: np.round(np.sin(t) / 1e-10) * 1e-10  # noqa: E731
    res = dfdx.derivative(f, 1.0, adaptive=True, throw=False)
    assert covered(res, np.cos(1.0)), res


def test_noisy_gradient():
    f = lambda x: x[0] ** 2 + 3 * x[0] * x[1] + 1e-9 * hashed(x[0] + 7 * x[1])  # noqa: E731
    x = np.array([0.7, -0.2])
    res = dfdx.gradient(f, x, adaptive=True, throw=False)
    assert covered(res, [2 * x[0] + 3 * x[1], 3 * x[0]]), res


def test_rounding_of_a_huge_constant_is_counted():
    """Brown's function along x1 at (1, 1): f ~ 1e12, the change over the step ~1e-6."""
    f = lambda x: (x[0] - 1e6) ** 2 + (x[1] - 2e-6) ** 2 + (x[0] * x[1] - 2) ** 2  # noqa: E731
    for step in (2.0**10, 2.0**16):
        res = dfdx.directional(f, np.array([1.0, 1.0]), [0.0, 1.0], adaptive=True, step=step, throw=False)
        assert covered(res, -4e-6 + 4e-12), (step, res)


# -- the noise measurement ---------------------------------------------------------------------


@pytest.mark.parametrize("nodes", [[0.0, 1.0, 2.0, 4.0], [-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0]])
def test_noise_weights_annihilate_low_polynomials_and_have_unit_norm(nodes):
    a = noise_weights(nodes)
    t = np.asarray(nodes)
    assert np.isclose(np.sum(a * a), 1.0)
    for k in range(len(t) - 1):
        assert abs(np.sum(a * t**k)) < 1e-12 * np.sum(np.abs(a * t**k)) + 1e-15
    assert abs(np.sum(a * t ** (len(t) - 1))) > 1e-3


# -- an oscillation whose period divides the lattice step a multiple of 8 times -------------


@pytest.mark.parametrize("periods", [40, 56, 120])
def test_oscillation_aliased_by_the_lattice_and_a_3_8_probe(periods):
    """Steps ``2^-k`` that hold ``periods`` periods of sin alias it; so would a probe at 3/8 of them."""
    s = 2.0**-7 / periods / (2 * np.pi)  # a step of 2^-7 holds `periods` periods

    def f(t):
        return 0.2 * (t / s) ** 2 - 0.04 * np.sin(t / s + 4.4)

    x = 4.376e-4
    truth = 0.4 * x / s**2 - 0.04 * np.cos(x / s + 4.4) / s
    res = dfdx.derivative(f, x, adaptive=True, throw=False)
    assert honest(res, truth)
    assert res.status in TRUSTED  # answered, at a step below the oscillation's scale


# -- second derivatives at a kink of the slope ----------------------------------------------


@pytest.mark.parametrize("smooth", [np.sin, np.exp, lambda t: 0.5 * t * t])
def test_second_derivative_at_a_kink_of_the_slope_is_not_differentiable(smooth):
    """``s (t - k)|t - k|`` has a jump of ``2 s`` in its second derivative at k."""
    k, s = -0.5156559440032353, 0.133
    res = dfdx.derivative(
        lambda t: s * (t - k) * np.abs(t - k) + smooth(t), k, n=2, adaptive=True, throw=False
    )
    assert res.status is Status.NOT_DIFFERENTIABLE
    with pytest.raises(dfdx.DifferentiationError, match="NOT_DIFFERENTIABLE"):
        dfdx.derivative(lambda t: s * (t - k) * np.abs(t - k) + smooth(t), k, n=2, adaptive=True)


@pytest.mark.parametrize(
    ("f", "d2", "x"),
    [
        (np.sin, lambda t: -np.sin(t), 1.0),
        (np.exp, np.exp, -3.0),
        (lambda t: t**3 + t * t, lambda t: 6 * t + 2, 0.0),
    ],
)
def test_second_derivative_of_a_smooth_f_is_not_a_kink(f, d2, x):
    res = dfdx.derivative(f, x, n=2, adaptive=True)
    assert res.status is Status.SUCCESS and covered(res, d2(x))


def test_brown_badly_scaled_small_entry_is_covered():
    """f near 1e12 with one gradient entry near 0.04: that entry's bar carries f's rounding."""

    def f(x):
        return (x[0] - 1e6) ** 2 + (x[1] - 2e-6) ** 2 + (x[0] * x[1] - 2) ** 2

    x0, x1 = 1.01, 1.01
    truth = [2 * (x0 - 1e6) + 2 * (x0 * x1 - 2) * x1, 2 * (x1 - 2e-6) + 2 * (x0 * x1 - 2) * x0]
    assert honest(dfdx.gradient(f, [x0, x1], adaptive=True, throw=False), truth)


@pytest.mark.parametrize("quantum", [1.61e-6, 1e-3])
def test_outputs_rounded_to_a_quantum_that_makes_them_affine_in_the_step(quantum):
    """At small steps the rounded values step by whole quanta, exactly linearly: D2 = 0 to the bit."""
    c, x = -0.26534396025169293, 2.235584927605375

    def f(t):
        return np.round(np.exp(c * t) / quantum) * quantum

    res = dfdx.derivative(f, x, n=2, adaptive=True, throw=False)
    assert honest(res, c * c * np.exp(c * x))


@pytest.mark.parametrize("x", [(-12.0, 10.0), (3.0, -4.0)])
def test_a_polynomial_exact_at_dyadic_points_is_not_quantised(x):
    """Exact values on dyadic steps share a power-of-two divisor: not a rounding quantum."""
    res = dfdx.gradient(lambda z: 100 * (z[1] - z[0] ** 2) ** 2 + (1 - z[0]) ** 2, x, adaptive=True)
    truth = [-400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]), 200 * (x[1] - x[0] ** 2)]
    assert res.status is Status.SUCCESS and covered(res, truth)
    assert np.all(np.asarray(res.error) < 1e-9 * np.abs(truth))
