"""Automatic steps: balanced for the stencil and the dtype, relative, exactly representable."""

from __future__ import annotations

import numpy as np
import pytest

from dfdx.stencils import central, complex_step, forward
from dfdx.steps import COMPLEX_STEP, absolute_steps, noise_optimal_step, relative_step, unit_roundoff

EPS = np.finfo(np.float64).eps


def test_rules_of_thumb():
    """Forward ~ sqrt(eps), central-2 ~ eps^(1/3), central-4 ~ eps^(1/5)."""
    assert relative_step(forward(1, 1), EPS) == pytest.approx(2 * np.sqrt(EPS))
    assert relative_step(central(1, 2), EPS) == pytest.approx((3 * EPS) ** (1 / 3))
    assert relative_step(central(1, 4), EPS) == pytest.approx((11.25 * EPS) ** (1 / 5))
    assert relative_step(complex_step(2), EPS) == COMPLEX_STEP


def test_step_minimises_the_error_model():
    s = central(1, 4)
    h = relative_step(s, EPS)

    def model(t):
        return abs(s.error_coefficient) * t**s.accuracy + EPS * s.amplification / t

    assert model(h) <= min(model(0.8 * h), model(1.25 * h))


def test_dtype_of_the_coarser_side():
    assert unit_roundoff(np.float64) == EPS
    assert unit_roundoff(np.float64, np.float32) == np.finfo(np.float32).eps
    assert unit_roundoff(np.int64) == EPS
    assert relative_step(central(1, 2), unit_roundoff(np.float32)) > 30 * relative_step(central(1, 2), EPS)


@pytest.mark.parametrize("x", [0.0, 0.3, 1.0, 7.7, -123.456, 1e6, -3e-9])
def test_steps_are_relative_powers_of_two_and_exact(x):
    rel = relative_step(central(1, 4), EPS)
    h = float(absolute_steps(max(1.0, abs(x)), rel))
    assert np.log2(h) == int(np.log2(h))
    assert 0.5 * rel * max(1, abs(x)) < h <= rel * max(1, abs(x))
    for k in (-2, -1, 1, 2):
        # Exact whenever x's last bit is not finer than h's (|x| >= h, no binade
        # crossing); otherwise the offset is still right to a relative eps.
        actual = (x + k * h) - x
        if abs(x) >= h and np.floor(np.log2(abs(x + k * h))) == np.floor(np.log2(abs(x))):
            assert actual == k * h
        assert abs(actual - k * h) <= EPS * abs(k * h)


def test_noise_optimal_forward_step_formula():
    """Forward difference with noise sigma: h ~ 2 sqrt(sigma / |f''|) for the bound model."""
    h = noise_optimal_step(forward(1, 1), 1e-6, 1.0)
    assert h == pytest.approx(2 * np.sqrt(1e-6))
