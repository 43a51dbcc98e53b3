"""Bad input gets a clear error naming the argument; failures of f are never silent."""

from __future__ import annotations

import numpy as np
import pytest

import dfdx
from dfdx import DifferentiationError, Status


def sphere(x):
    return float(np.sum(np.asarray(x) ** 2))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"f": 3.0}, TypeError, "`f` must be a callable"),
        ({"x": []}, ValueError, "`x` is empty"),
        ({"x": [1.0, np.nan]}, ValueError, r"`x` must be finite; it has NaN or inf at \[\(1,\)\]"),
        ({"x": [np.inf, 1.0]}, ValueError, "`x` must be finite"),
        ({"x": ["a", "b"]}, TypeError, r"`x\[0\]` must be numeric \(a real number or an array of real"),
        ({"x": [True, False]}, TypeError, "`x` must be numeric"),
        ({"x": [1 + 2j]}, TypeError, "`x` must be real"),
        ({"x": [[1.0, 2.0], ["a"]]}, TypeError, r"`x\[1\]\[0\]` must be numeric .*got str 'a'"),
        ({"method": "fancy"}, ValueError, "`method` must be one of 'central', 'forward', 'backward'"),
        ({"accuracy": 3}, ValueError, "`accuracy` must be an even integer >= 2 for method='central'"),
        ({"accuracy": 0, "method": "forward"}, ValueError, "`accuracy` must be an integer >= 1"),
        ({"accuracy": 2.5}, TypeError, "`accuracy` must be an integer"),
        ({"accuracy": 3, "method": "complex"}, ValueError, "even integer >= 2 for method='complex'"),
        ({"step": 0.0}, ValueError, "`step` must be positive and finite"),
        ({"step": -1e-3}, ValueError, "`step` must be positive and finite"),
        ({"step": np.inf}, ValueError, "`step` must be positive and finite"),
        ({"step": [1e-3, 1e-3, 1e-3]}, ValueError, "`step` must be a float or an array of x's shape"),
        ({"step": "small"}, TypeError, "`step` must be None, a float or an array"),
        ({"throw": "yes"}, TypeError, "`throw` must be True or False"),
        ({"workers": 0}, ValueError, "`workers` must be a positive number of processes, or -1"),
        ({"workers": -2}, ValueError, r"`workers` must be a positive number .* got -2"),
        ({"kwargs": [1]}, TypeError, "`kwargs` must be a dict of keyword arguments for f"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    call = {"f": sphere, "x": [1.0, 2.0], **kwargs}
    with pytest.raises(exc, match=match):
        dfdx.gradient(call.pop("f"), call.pop("x"), **call)


@pytest.mark.parametrize(
    "f, exc, match",
    [
        (lambda x: x, ValueError, r"`f` must return a scalar for gradient, but f\(x\) has shape \(2,\)"),
        (lambda x: [1.0, 2.0], ValueError, "must return a scalar for gradient"),
        (lambda x: "hello", TypeError, "f must return numbers"),
        (lambda x: None, TypeError, "f must return numbers"),
        (lambda x: np.array([1j * x[0], x[1]]), ValueError, "must return a scalar for gradient"),
    ],
)
def test_bad_outputs_at_x(f, exc, match):
    with pytest.raises(exc, match=match):
        dfdx.gradient(f, [1.0, 2.0])


def test_shape_changing_output():
    def f(x):
        return np.zeros(2) if x[0] == 1.0 else np.zeros(3)

    with pytest.raises(ValueError, match=r"f returned shape \(3,\) at x = .* but shape \(2,\)"):
        dfdx.jacobian(f, [1.0, 2.0])


def test_ragged_list_output():
    with pytest.raises(TypeError, match="not a float or an array of numbers of one shape"):
        dfdx.jacobian(lambda x: [1.0, [2.0, 3.0]], [1.0])


def test_exception_in_f_carries_the_point_and_keeps_its_type():
    def f(x):
        if x[1] > 2.0:
            raise ZeroDivisionError("boom")
        return float(x[0])

    with pytest.raises(ZeroDivisionError, match=r"boom \(dfdx: raised by f at x = \[1\.0, 2\.00"):
        dfdx.gradient(f, [1.0, 2.0])


def test_complex_method_needs_complex_safe_f():
    with pytest.raises(TypeError, match="needs f to carry the imaginary part"):
        dfdx.derivative(lambda x: np.abs(x), 1.0, method="complex")
    with pytest.raises(ValueError, match="first derivatives only"):
        dfdx.derivative(np.sin, 1.0, n=2, method="complex")


def test_derivative_wants_elementwise_f():
    with pytest.raises(ValueError, match="must be elementwise for derivative"):
        dfdx.derivative(np.sum, [1.0, 2.0])
    with pytest.raises(ValueError, match="`n` .* must be an integer >= 1"):
        dfdx.derivative(np.sin, 1.0, n=0)


def isolated(x):
    """Finite at x0 = 1 only: NaN on both sides along coordinate 0."""
    return np.where(x[0] == 1.0, 1.0, np.nan) + x[1] ** 2


def test_nonfinite_at_stencil_points_raises_with_partial_result():
    with pytest.raises(DifferentiationError, match="NONFINITE") as info:
        dfdx.gradient(isolated, [1.0, 1.0])
    partial = info.value.result
    assert partial.status is Status.NONFINITE
    assert np.isnan(partial.value[0]) and partial.value[1] == pytest.approx(2.0)
    assert "Entries: 0" in partial.message


def test_nonfinite_reported_in_status_without_throw():
    res = dfdx.gradient(isolated, [1.0, 1.0], throw=False)
    assert res.status is Status.NONFINITE and not res.success
    assert np.isnan(res.value[0]) and np.isinf(res.error[0])
    assert res.value[1] == pytest.approx(2.0)


def test_nonfinite_f_at_x_itself_is_named():
    def f(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x[0] - 1.0) + x[1]

    with pytest.raises(DifferentiationError, match=r"NONFINITE: f\(x\) itself is -inf\. "):
        dfdx.gradient(f, [1.0, 2.0])
    assert "itself" not in dfdx.gradient(isolated, [1.0, 1.0], throw=False).message


def test_nonfinite_outputs_of_f_at_x_are_listed():
    def f(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.array([np.log(x[0] - 1.0), x[1], np.nan * x[1]])

    res = dfdx.jacobian(f, [1.0, 2.0], throw=False)
    assert res.status is Status.NONFINITE
    assert "f(x) itself is not finite in 2 of its 3 outputs: 0, 2." in res.message


def test_domain_hole_on_one_side_switches_to_a_one_sided_stencil():
    def f(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log(x[0]) + x[1] ** 2

    res = dfdx.gradient(f, [1e-5, 1.0], step=1e-3)
    assert res.status is Status.ONE_SIDED and res.success
    assert abs(res.value[0] - 1e5) <= res.error[0] <= 1e-3 * 1e5


def test_nonfinite_at_x_itself():
    with pytest.raises(DifferentiationError, match="NaN or inf"):
        dfdx.gradient(lambda x: np.nan * x[0], [1.0])


def test_x_is_not_modified_and_f_gets_copies():
    x = np.array([1.0, 2.0])
    seen = []

    def f(y):
        seen.append(y.copy())
        y[0] = 99.0  # a rude f must not corrupt other points or x
        return 0.0

    dfdx.gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])
    assert all(abs(p[0] - 1.0) < 0.1 for p in seen)
