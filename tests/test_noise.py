"""Noise estimation (ECnoise) against known sigma, and noise-optimal steps."""

import numpy as np
import pytest

import dfdx
from dfdx.noise import ecnoise


def noisy_sin(sigma, seed):
    rng = np.random.default_rng(seed)
    return lambda x: np.sin(x) + sigma * rng.standard_normal(np.shape(x))


@pytest.mark.parametrize("sigma", [1e-4, 1e-6, 1e-9])
@pytest.mark.parametrize("seed", range(4))
def test_noise_level_recovers_sigma(sigma, seed):
    est = dfdx.noise_level(noisy_sin(sigma, seed), 1.0)
    assert est.trustworthy, est.message
    assert sigma / 3 < est.level < 3 * sigma
    assert est.nfev >= 9


def test_noise_level_multivariate_direction_and_seed():
    rng = np.random.default_rng(5)
    f = lambda x: np.sum(np.cos(x)) + 1e-7 * rng.standard_normal()  # noqa: E731
    est = dfdx.noise_level(f, np.ones(4), seed=3)
    assert est.trustworthy and 3e-8 < est.level < 3e-7
    est2 = dfdx.noise_level(f, np.ones(4), direction=[1.0, 0, 0, 0])
    assert est2.trustworthy


def test_constant_function_is_not_given_a_level():
    est = dfdx.noise_level(lambda x: 2.5, 1.0)
    assert not est.trustworthy and np.isnan(est.level)
    assert "same value" in est.message


def test_step_too_small_and_too_large():
    f = noisy_sin(1e-6, 0)
    small = dfdx.noise_level(lambda x: np.round(np.sin(x), 6), 1.0, step=1e-12)
    assert not small.trustworthy and np.isnan(small.level)
    large = dfdx.noise_level(lambda x: np.exp(5 * x) + 1e-12 * np.sin(1e3 * x), 1.0, step=0.3)
    assert not large.trustworthy and "too large" in large.message
    assert dfdx.noise_level(f, 1.0, step=1e-3).trustworthy


def test_ecnoise_rejects_short_input():
    with pytest.raises(ValueError, match="at least 5 values"):
        ecnoise([1.0, 2.0, 3.0])
    level, ok, msg = ecnoise([1.0, np.nan, 1, 2, 3])
    assert not ok and "not finite" in msg


def test_noise_level_bad_input():
    with pytest.raises(ValueError, match="`points` must be an integer >= 4"):
        dfdx.noise_level(np.sin, 1.0, points=2)
    with pytest.raises(ValueError, match="`step` must be positive"):
        dfdx.noise_level(np.sin, 1.0, step=-1.0)
    with pytest.raises(ValueError, match="`direction` must be a nonzero"):
        dfdx.noise_level(lambda x: x.sum(), [1.0, 2.0], direction=[0.0, 0.0])
    with pytest.raises(ValueError, match="must return a scalar"):
        dfdx.noise_level(lambda x: x, [1.0, 2.0])


@pytest.mark.parametrize("method,accuracy,optimum", [("forward", 1, 1e-3), ("central", 2, 5e-5)])
def test_noise_auto_reaches_the_optimum(method, accuracy, optimum):
    """sin + N(0, 1e-6^2) at 1: within 3x of the theoretical optimum (REFERENCE.md)."""
    errors = []
    for seed in range(3):
        f = noisy_sin(1e-6, seed)
        for _ in range(7):
            r = dfdx.derivative(f, 1.0, method=method, accuracy=accuracy, noise="auto")
            errors.append(abs(r.value - np.cos(1.0)))
            assert 3e-7 < r.noise < 3e-6
    assert np.median(errors) < 3 * optimum
    fixed = [
        abs(
            dfdx.derivative(noisy_sin(1e-6, s), 1.0, method=method, accuracy=accuracy, throw=False).value
            - np.cos(1.0)
        )
        for s in range(5)
    ]
    assert np.median(fixed) > 30 * optimum


def test_known_noise_level_is_reported_and_used():
    f = noisy_sin(1e-6, 7)
    r = dfdx.gradient(lambda x: f(x[0]) + x[1] ** 2, [1.0, 2.0], noise=1e-6, method="forward")
    assert r.noise == 1e-6
    assert abs(r.value[0] - np.cos(1.0)) < 1e-2 and abs(r.value[1] - 4.0) < 1e-2
    assert dfdx.gradient(lambda x: x[0] ** 2, [1.0]).noise is None


def test_noise_auto_fails_loudly_on_constant_function():
    with pytest.raises(ValueError, match="noise='auto' could not estimate"):
        dfdx.derivative(lambda x: 0 * x + 1.0, 1.0, noise="auto")


@pytest.mark.parametrize(
    "bad,exc,match",
    [
        (-1e-3, ValueError, "finite absolute noise level >= 0"),
        (float("nan"), ValueError, "finite absolute noise level"),
        (float("inf"), ValueError, "finite absolute noise level"),
        ("loud", ValueError, "None, a float or 'auto'"),
        ([1e-3], TypeError, "`noise` must be None"),
    ],
)
def test_bad_noise(bad, exc, match):
    with pytest.raises(exc, match=match):
        dfdx.derivative(np.sin, 1.0, noise=bad)


def test_noise_with_adaptive_is_rejected():
    with pytest.raises(ValueError, match="do not combine"):
        dfdx.derivative(np.sin, 1.0, noise=1e-6, adaptive=True)


@pytest.mark.parametrize("method,accuracy", [("forward", 1), ("central", 2), ("central", 4)])
def test_error_estimate_covers_noisy_results(method, accuracy):
    covered, ratio = [], []
    for seed in range(30):
        f = noisy_sin(1e-6, 100 + seed)
        r = dfdx.derivative(f, 1.0, method=method, accuracy=accuracy, noise=1e-6)
        err = abs(r.value - np.cos(1.0))
        covered.append(r.error >= err)
        ratio.append(r.error / err)
    assert np.mean(covered) >= 0.95
    assert np.median(ratio) < 20


def test_noise_auto_on_vector_valued_and_elementwise_f():
    rng = np.random.default_rng(11)
    F = lambda x: np.array([np.sin(x[0]) * x[1], x[0] ** 2]) + 1e-7 * rng.standard_normal(2)  # noqa: E731
    r = dfdx.jacobian(F, [1.0, 2.0], noise="auto")
    exact = np.array([[2 * np.cos(1.0), np.sin(1.0)], [2.0, 0.0]])
    assert 3e-8 < r.noise < 3e-7
    assert np.all(np.abs(r.value - exact) <= r.error) and np.all(r.error < 1e-4)
    f = noisy_sin(1e-6, 12)
    x = np.array([0.5, 1.0, 2.0])
    d = dfdx.derivative(f, x, noise="auto")
    assert 3e-7 < d.noise < 3e-6
    assert np.all(np.abs(d.value - np.cos(x)) <= d.error) and np.all(d.error < 1e-3)
