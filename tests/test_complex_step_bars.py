"""The complex step's error bar: what its one evaluation per coordinate can and cannot see."""

from __future__ import annotations

import math

import mpmath
import numpy as np

import dfdx
from dfdx import Status

mpmath.mp.dps = 50


def _covers(res, truth):
    assert res.status == Status.SUCCESS
    assert np.isfinite(res.error)
    assert abs(res.value - truth) <= res.error


def test_log_at_1e300_has_a_finite_bar_that_covers():
    # The step is near 1e280: h**2 alone overflows to an infinite bar.
    res = dfdx.derivative(np.log, 1e300, method="complex")
    _covers(res, 1e-300)
    assert res.error <= 1e-12 * 1e-300


def test_exp_at_minus_700_allows_for_the_subnormal_imaginary_part():
    # Im f(x + ih) = h f'(x) is near 1e-321: rounded to the subnormal spacing, not relatively.
    res = dfdx.derivative(lambda t: np.exp(-t), 700.0, method="complex")
    _covers(res, -float(mpmath.exp(-700)))
    assert res.error <= 0.1 * abs(res.value)


def test_daily_cycle_at_unix_time_allows_for_the_rounding_of_the_phase():
    # sin(2 pi t / 86400) at t = 1.7e9: the phase is rounded by eps times 1.2e5 inside f.
    for fun, x in ((np.sin, 1.7e9), (np.cos, 1733450000.0)):
        res = dfdx.derivative(lambda t, fun=fun: fun(2 * np.pi * t / 86400), x, method="complex")
        w = 2 * mpmath.pi / 86400
        truth = float(w * (mpmath.cos(w * x) if fun is np.sin else -mpmath.sin(w * x)))
        _covers(res, truth)
        assert res.error <= 1e-8 * abs(res.value)


def test_exp_of_a_scaled_argument_allows_for_its_rounding():
    # exp(c u) at u = 1.5e4, c u = 675: the argument's rounding is 675 eps relative.
    c, u = 0.045, 15000.0
    res = dfdx.derivative(lambda t: np.exp(c * t), u, method="complex")
    _covers(res, float(c * mpmath.exp(mpmath.mpf(c) * mpmath.mpf(u))))


def test_exp_turning_fast_at_moderate_x_allows_for_the_rounding_of_its_argument():
    # exp(c u) at u = 14.83, c u = 682: |x| is small but f turns through 682 e-folds.
    c, u = 46.0, 14.83
    res = dfdx.derivative(lambda t: np.exp(c * t), u, method="complex")
    _covers(res, float(c * mpmath.exp(mpmath.mpf(c) * mpmath.mpf(u))))


def test_a_user_step_far_above_eps_gives_an_estimate_not_a_bound():
    # One evaluation measures no truncation: h = 1e-3 on sin at 1e6 misses by 1.6e-7.
    res = dfdx.derivative(np.sin, 1e6, method="complex", step=1e-3)
    assert res.status == Status.ESTIMATED_ERROR
    res = dfdx.derivative(np.log, 1e-3, method="complex", step=0.1)
    assert res.status == Status.ESTIMATED_ERROR


def test_a_root_of_f_does_not_pass_for_a_fast_oscillation():
    # f'/f sees the root, not a frequency: the bar stays far below f' itself.
    for x, bar in ((np.pi, 1e-6), (1e-300, 1e-15), (1e-8, 1e-15)):
        res = dfdx.derivative(np.sin, x, method="complex")
        _covers(res, float(mpmath.cos(x)))
        assert res.error <= bar


def test_default_steps_stay_successful_at_machine_precision():
    res = dfdx.derivative(np.sin, 0.7, method="complex")
    _covers(res, math.cos(0.7))
    assert res.nfev <= 2
    assert res.error <= 1e-15
