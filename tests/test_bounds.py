"""Bounds (no evaluation outside the box, one-sided stencils) and domain holes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dfdx
from dfdx import DifferentiationError, Status
from dfdx.engine.bounds import plan
from dfdx.stencils import backward, central, forward

LOWER = np.array([0.0, -1.0, 0.5])
UPPER = np.array([1.0, 1.0, 2.0])


def guarded(f, lower, upper):
    """f that raises if evaluated outside [lower, upper]."""

    def inner(x):
        x = np.asarray(x)
        if np.any(x.real < lower) or np.any(x.real > upper):
            raise AssertionError(f"evaluated outside the box at {x!r}")
        return f(x)

    return inner


def smooth(x):
    return np.exp(x[0]) * np.sin(x[1] + 2 * x[2]) + x[0] * x[2] ** 3


def smooth_gradient(x):
    return np.array(
        [
            np.exp(x[0]) * np.sin(x[1] + 2 * x[2]) + x[2] ** 3,
            np.exp(x[0]) * np.cos(x[1] + 2 * x[2]),
            2 * np.exp(x[0]) * np.cos(x[1] + 2 * x[2]) + 3 * x[0] * x[2] ** 2,
        ]
    )


# -- the plan -------------------------------------------------------------------------


def test_plan_keeps_central_where_it_fits_and_goes_one_sided_at_a_bound() -> None:
    h = np.full(3, 2.0**-10)
    groups = plan(np.array([np.inf, 0.0, 1.0]), np.array([np.inf, 1.0, 0.0]), central(1, 4), h)
    kinds = {g.stencil.kind: g.index.tolist() for g in groups}
    assert kinds == {"central": [0], "forward": [1], "backward": [2]}
    assert all(g.stencil.accuracy == 4 for g in groups)
    assert [g.one_sided for g in groups] == [False, True, True]


def test_plan_shrinks_the_step_to_a_power_of_two_inside_the_room() -> None:
    h = np.array([2.0**-10])
    (group,) = plan(np.array([0.0]), np.array([1e-3]), forward(1, 2), h)
    assert group.stencil.kind == "forward"
    assert group.steps[0] * 2 <= 1e-3 and np.log2(group.steps[0]) == int(np.log2(group.steps[0]))
    # Backward stencil with room only ahead: switches to forward of the same accuracy.
    (group,) = plan(np.array([0.0]), np.array([1.0]), backward(1, 3), h)
    assert group.stencil.kind == "forward" and group.stencil.accuracy == 3


def test_plan_prefers_central_in_a_tight_symmetric_box() -> None:
    h = np.array([2.0**-4])
    (group,) = plan(np.array([2.0**-6]), np.array([2.0**-6]), central(1, 2), h)
    assert group.stencil.kind == "central" and group.steps[0] == 2.0**-6


@settings(max_examples=60, deadline=None)
@given(
    minus=st.floats(0, 1),
    plus=st.floats(0, 1),
    accuracy=st.sampled_from([2, 4, 6]),
    n=st.integers(1, 3),
)
def test_plan_never_leaves_the_room(minus: float, plus: float, accuracy: int, n: int) -> None:
    h = np.array([2.0**-8])
    try:
        groups = plan(np.array([minus]), np.array([plus]), central(n, accuracy), h)
    except ValueError as exc:
        assert "too tight" in str(exc)
        assert max(minus, plus) < 2.0**-8 * 2 * (n + accuracy)
        return
    (g,) = groups
    offsets = g.stencil.offsets * g.steps[0]
    assert offsets.max() <= plus and -offsets.min() <= minus
    assert g.stencil.accuracy == accuracy and g.stencil.n == n


# -- front-ends -----------------------------------------------------------------------


@pytest.mark.parametrize("x", [[0.0, 1.0, 0.5], [1.0, -1.0, 2.0], [1e-4, 0.99999, 1.9999], [0.5, 0.0, 1.0]])
@pytest.mark.parametrize(
    ("method", "accuracy", "tol"),
    [
        ("central", 4, 1e-9),
        ("central", 2, 1e-6),
        ("forward", 1, 1e-6),
        ("backward", 2, 1e-8),
        ("central", 6, 1e-9),
    ],
)
def test_gradient_in_a_box_never_crosses_it(x, method: str, accuracy: int, tol: float) -> None:
    f = guarded(smooth, LOWER, UPPER)
    res = dfdx.gradient(f, x, bounds=(LOWER, UPPER), method=method, accuracy=accuracy)
    exact = smooth_gradient(np.array(x))
    assert np.all(np.abs(res.value - exact) <= tol * np.maximum(1, np.abs(exact)))
    assert np.all(np.abs(res.value - exact) <= res.error)
    assert res.accuracy == accuracy


def test_one_sided_status_only_where_a_bound_forced_it() -> None:
    res = dfdx.gradient(guarded(smooth, LOWER, UPPER), [0.0, 0.0, 1.0], bounds=(LOWER, UPPER))
    assert res.status is Status.ONE_SIDED
    assert "Entries: 0" in res.message
    inside = dfdx.gradient(smooth, [0.5, 0.0, 1.0], bounds=(LOWER, UPPER))
    assert inside.status is Status.SUCCESS
    assert np.array_equal(inside.value, dfdx.gradient(smooth, [0.5, 0.0, 1.0]).value)


@pytest.mark.parametrize("accuracy", [1, 2, 3, 4])
def test_one_sided_stencils_keep_the_order_of_accuracy(accuracy: int) -> None:
    # At the lower bound with steps large enough for truncation to dominate, halving
    # the step divides the error by 2**accuracy.
    errors = []
    for h in (2.0**-3, 2.0**-4):
        res = dfdx.derivative(np.exp, 0.0, step=h, method="backward", accuracy=accuracy, bounds=(0.0, np.inf))
        errors.append(abs(float(res.value) - 1.0))
    slope = np.log2(errors[0] / errors[1])
    assert abs(slope - accuracy) < 0.35


def test_jacobian_directional_derivative_and_hessian_in_a_box() -> None:
    f = guarded(
        lambda x: np.array([np.sqrt(x[0]) + x[1], np.log(x[0]) * x[1] ** 2]),
        np.array([0.25, -np.inf]),
        np.array([4.0, 1.0]),
    )
    x = np.array([0.25, 1.0])
    jac = dfdx.jacobian(f, x, bounds=([0.25, -np.inf], [4.0, 1.0]))
    exact = np.array([[1.0, 1.0], [4.0, 2 * np.log(0.25)]])
    assert np.allclose(jac.value, exact, rtol=1e-9, atol=1e-9)
    assert np.all(np.abs(jac.value - exact) <= jac.error)
    box = ([0.25, -np.inf], [4.0, 1.0])
    for v in ([1.0, -1.0], [-1.0, 1.0], [0.0, -2.0]):
        d = dfdx.directional(f, x, v, bounds=box)
        assert np.allclose(d.value, exact @ v, rtol=1e-8)
        assert np.all(np.abs(d.value - exact @ v) <= d.error)
    # Along (1, 1) both directions leave the box at once (x is in its corner).
    with pytest.raises(ValueError, match="`bounds` are too tight"):
        dfdx.directional(f, x, [1.0, 1.0], bounds=box)


def test_elementwise_derivative_in_a_box() -> None:
    x = np.array([0.0, 0.3, 1.0])
    f = guarded(np.arcsin, -1.0, 1.0)
    res = dfdx.derivative(f, x[:2], bounds=(-1.0, 1.0))
    assert np.allclose(res.value, 1 / np.sqrt(1 - x[:2] ** 2), rtol=1e-10)
    res = dfdx.derivative(guarded(np.sqrt, 0.0, np.inf), [0.0 + 1.0, 2.0, 3.0], n=2, bounds=(1.0, 3.0))
    exact = -0.25 * np.array([1.0, 2.0, 3.0]) ** -1.5
    assert np.allclose(res.value, exact, rtol=1e-6)
    assert np.all(np.abs(res.value - exact) <= res.error)
    assert res.status is Status.ONE_SIDED


def test_complex_step_ignores_bounds_except_for_x() -> None:
    res = dfdx.gradient(
        guarded(smooth, LOWER, UPPER), [0.0, 1.0, 2.0], method="complex", bounds=(LOWER, UPPER)
    )
    assert np.allclose(res.value, smooth_gradient(np.array([0.0, 1.0, 2.0])), rtol=1e-14)


def test_bounds_errors() -> None:
    f, x = smooth, [0.5, 0.0, 1.0]
    with pytest.raises(ValueError, match="`bounds` must be a pair"):
        dfdx.gradient(f, x, bounds=(0.0,))
    with pytest.raises(ValueError, match="`bounds` must be a pair"):
        dfdx.gradient(f, x, bounds=1.0)
    with pytest.raises(ValueError, match=r"`bounds` upper must be a float or an array of x's shape \(3,\)"):
        dfdx.gradient(f, x, bounds=(0.0, [1.0, 2.0]))
    with pytest.raises(ValueError, match="lower < upper everywhere; at index 1"):
        dfdx.gradient(f, x, bounds=([0, 0, 0], [1, 0, 2]))
    with pytest.raises(ValueError, match="lower < upper"):
        dfdx.gradient(f, x, bounds=(2.0, 1.0))
    with pytest.raises(ValueError, match="`bounds` lower has NaN"):
        dfdx.gradient(f, x, bounds=(np.nan, 1.0))
    with pytest.raises(TypeError, match="`bounds` lower must be a float"):
        dfdx.gradient(f, x, bounds=("a", 1.0))
    with pytest.raises(ValueError, match="`x` is outside `bounds` at index 2"):
        dfdx.gradient(f, x, bounds=(LOWER, [1.0, 1.0, 0.9]))
    with pytest.raises(ValueError, match="`bounds` are too tight"):
        dfdx.gradient(f, x, bounds=(np.array(x) - 1e-12, np.array(x) + 1e-12))
    with pytest.raises(ValueError, match="`bounds` are too tight"):
        dfdx.hessian(f, x, bounds=(np.array(x) - 1e-9, np.array(x) + 1e-9))


# -- domain holes ---------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("x", [1e-8, 1e-6, 1e-4, 1e-3])
@pytest.mark.parametrize(
    ("f", "df"),
    [
        (np.log, lambda x: 1 / x),
        (np.sqrt, lambda x: 0.5 / np.sqrt(x)),
        (lambda x: x * np.log(x), lambda x: np.log(x) + 1),
    ],
)
def test_domain_hole_goes_one_sided_with_an_honest_error(f, df, x: float) -> None:
    res = dfdx.derivative(f, x)
    assert res.status is Status.ONE_SIDED
    assert "one-sided" in res.message
    assert abs(float(res.value) - df(x)) <= float(res.error)
    assert abs(float(res.value) - df(x)) <= 1e-5 * abs(df(x))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_gradient_with_a_hole_in_one_coordinate() -> None:
    res = dfdx.gradient(lambda x: np.sum(np.log(x)) + x[0] * x[1], [1e-4, 2.0, 3.0])
    exact = np.array([1e4 + 2.0, 0.5 + 1e-4, 1 / 3])
    assert np.all(np.abs(res.value - exact) <= res.error)
    assert np.allclose(res.value, exact, rtol=1e-8)
    assert res.status is Status.ONE_SIDED and "Entries: 0." in res.message


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_vector_function_keeps_central_entries_where_they_are_finite() -> None:
    f = lambda x: np.array([np.log(x[0]), np.sin(x[0]) * x[1]])  # noqa: E731
    res = dfdx.jacobian(f, [1e-4, 2.0])
    central = dfdx.jacobian(lambda x: np.sin(x[0]) * x[1], [1e-4, 2.0])
    assert res.value[1, 0] == central.value[0]
    assert abs(res.value[0, 0] - 1e4) <= res.error[0, 0]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_infinite_derivative_is_not_differentiable() -> None:
    with pytest.raises(DifferentiationError, match="NOT_DIFFERENTIABLE") as info:
        dfdx.derivative(np.sqrt, 0.0)
    assert info.value.result.status is Status.NOT_DIFFERENTIABLE
    res = dfdx.derivative(np.sqrt, [0.0, 1.0], throw=False)
    assert res.status is Status.NOT_DIFFERENTIABLE and res.value[1] == pytest.approx(0.5)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_narrow_domain_is_found_by_shrinking_the_step() -> None:
    f = lambda x: np.sqrt(1e-12 - (x - 1.0) ** 2) + x  # noqa: E731  finite only within 1e-6 of 1
    res = dfdx.derivative(f, 1.0)
    assert res.status is Status.ONE_SIDED and abs(float(res.value) - 1.0) <= float(res.error) < 1e-5


def test_hole_on_both_sides_is_nonfinite() -> None:
    f = lambda x: x if x == 1.0 else np.nan  # noqa: E731  an isolated point
    with pytest.raises(DifferentiationError, match="NONFINITE"):
        dfdx.derivative(f, 1.0)
    res = dfdx.derivative(f, 1.0, throw=False)
    assert res.status is Status.NONFINITE and np.isnan(res.value) and np.isinf(res.error)
    assert res.nfev < 120


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_hole_next_to_a_bound_respects_the_bound() -> None:
    # Bound on the left, hole on the right: neither side may be crossed.
    f = guarded(lambda x: np.log(2.0 - x[0]) + x[0] ** 2, np.array([1.0]), np.array([np.inf]))
    res = dfdx.gradient(f, [1.0], bounds=([1.0], [np.inf]))
    assert abs(res.value[0] - (-1.0 + 2.0)) <= res.error[0] < 1e-6


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("mode", ["serial", "vectorized", "workers"])
def test_bounds_and_holes_give_the_same_numbers_in_every_evaluation_mode(mode: str) -> None:
    def f(x):  # x of shape (3,) or, vectorized, (3, k)
        if np.any(x[0] < 0.0):
            raise AssertionError("outside")
        return np.log(x[1]) + np.exp(x[0]) * x[2]

    x = np.array([0.0, 1e-4, 2.0])
    options = {"vectorized": mode == "vectorized", "workers": map if mode == "workers" else None}
    res = dfdx.gradient(f, x, bounds=([0.0, -np.inf, -np.inf], np.inf), **options)
    serial = dfdx.gradient(f, x, bounds=([0.0, -np.inf, -np.inf], np.inf))
    assert np.array_equal(res.value, serial.value) and res.nfev == serial.nfev
    exact = np.array([2.0, 1e4, 1.0])
    assert np.all(np.abs(res.value - exact) <= res.error)
    assert res.status is Status.ONE_SIDED
    hess = dfdx.hessian(f, x, bounds=([0.0, -np.inf, -np.inf], np.inf), **options)
    exact_h = np.array([[2.0, 0, 1.0], [0, -1e8, 0], [1.0, 0, 0]])
    assert np.all(np.abs(hess.value - exact_h) <= hess.error)
    # Off-diagonal entries with x1 share its short step (x1 is 1e-4 from the hole).
    assert np.allclose(hess.value, exact_h, rtol=1e-4, atol=0.2)
