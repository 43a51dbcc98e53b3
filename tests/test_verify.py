"""Fixed steps verified by a check stencil (dfdx.engine.verify): what the statuses promise."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dfdx
from dfdx import DifferentiationError, Status


def covered(res: dfdx.Result, truth: float) -> bool:
    return bool(np.all(np.abs(np.asarray(res.value) - truth) <= res.error))


def test_an_aliased_step_is_shortened_until_the_check_agrees() -> None:
    # sin(1e6 + 1024 k) looks like sin sampled every 0.159: the first step is useless.
    res = dfdx.derivative(np.sin, 1e6)
    assert res.status is Status.SUCCESS and covered(res, math.cos(1e6))
    assert res.step < 1 and abs(res.value - math.cos(1e6)) < 1e-8


def test_the_smooth_case_costs_the_stencil_and_the_check() -> None:
    res = dfdx.derivative(np.exp, 0.7)
    assert res.nfev == 1 + 4 + 2 and res.status is Status.SUCCESS and covered(res, math.exp(0.7))


@pytest.mark.parametrize("f", [np.abs, lambda t: np.maximum(t, 0.0), lambda t: np.sqrt(np.abs(t))])
def test_a_kink_at_x_is_not_differentiable(f) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DifferentiationError, match="NOT_DIFFERENTIABLE: f does not look differentiable"):
        dfdx.derivative(f, 0.0)


def test_a_jump_at_x_is_not_differentiable() -> None:
    with pytest.raises(DifferentiationError, match="NOT_DIFFERENTIABLE"):
        dfdx.derivative(np.floor, 2.0)


@pytest.mark.parametrize(("f", "x", "truth"), [(np.log, 1e-5, 1e5), (np.sqrt, 1e-6, 500.0)])
def test_a_one_sided_step_next_to_a_bound_stays_short(f, x, truth) -> None:  # type: ignore[no-untyped-def]
    res = dfdx.derivative(f, x, bounds=(0.0, np.inf))
    assert res.status is Status.ONE_SIDED and covered(res, truth)
    assert res.step <= x / 16


def test_a_feature_narrower_than_every_step_raises_unresolved() -> None:
    with pytest.raises(DifferentiationError, match="UNRESOLVED: No step was found on f's own scale") as info:
        dfdx.derivative(lambda t: np.sin(t * 1e13), 1e-13)
    assert info.value.result.status is Status.UNRESOLVED
    assert Status.UNRESOLVED.failed


def test_a_user_step_that_does_not_move_x_is_replaced_and_said() -> None:
    res = dfdx.gradient(lambda w: float(np.sum(np.sin(w))), [1.0, 2.0], step=1e-300, throw=False)
    assert res.status is not Status.SUCCESS
    assert "does not move x by a representable amount" in res.message
    assert np.all(res.step > 1e-300) and covered(res, np.cos([1.0, 2.0]))


def test_a_user_step_is_realised_on_the_grid_of_floats() -> None:
    res = dfdx.derivative(np.sinh, 1.0, step=1.49e-8, accuracy=2, throw=False)
    h = (1.0 + 1.49e-8) - 1.0
    assert res.step == h
    assert res.value == (np.sinh(1.0 + h) - np.sinh(1.0 - h)) / (2 * h)


def test_a_long_user_step_is_not_trusted() -> None:
    res = dfdx.derivative(np.sin, 1.0, step=100.0, throw=False)
    assert res.status is not Status.SUCCESS and res.step == 100.0


def test_noise_that_f_does_not_announce_widens_the_bar() -> None:
    def f(t):  # float32 inside
        return float(np.sin(np.float32(t)))

    res = dfdx.derivative(f, 1.0, throw=False)
    assert res.status is Status.ROUNDOFF and covered(res, math.cos(1.0))
