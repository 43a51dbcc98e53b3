"""The API at its edges: SciPy-style bounds, x None or masked, a scalar returned as shape
(1,), a trusted f0, and what a directional check can miss."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import Bounds

import dfdx


def roots(x):
    return np.sum(np.sqrt(x))


def roots_gradient(x):
    return 0.5 / np.sqrt(x)


X = np.array([1.0, 2.0])


# --- bounds -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bounds",
    [
        Bounds([0.0, 0.0], [2.0, 3.0]),
        ([0.0, 0.0], [2.0, 3.0]),
        [(0.0, 2.0), (0.0, 3.0)],  # SciPy's pairs (the (lower, upper) reading is no box)
        [(0.0, None), (None, 3.0)],
        (0.0, 3.0),
    ],
    ids=["Bounds", "pair", "pairs", "pairs-None", "scalars"],
)
def test_bounds_in_every_form(bounds):
    res = dfdx.gradient(roots, X, bounds=bounds)
    np.testing.assert_allclose(res.value, roots_gradient(X), rtol=1e-10)


def test_scipy_pairs_bound_each_coordinate():
    # x0 sits on its lower bound: the first coordinate is differenced one-sided, inside
    # [0.5, 1] (the ONE_SIDED status says so), the others centrally.
    x = np.array([0.5, 2.0, 5.0])
    res = dfdx.gradient(roots, x, bounds=[(0.5, 1.0), (1.0, 3.0), (4.0, None)])
    assert res.status == dfdx.Status.ONE_SIDED
    np.testing.assert_allclose(res.value, roots_gradient(x), rtol=1e-8)
    same = dfdx.gradient(roots, x, bounds=Bounds([0.5, 1.0, 4.0], [1.0, 3.0, np.inf]))
    np.testing.assert_array_equal(res.value, same.value)
    free = dfdx.gradient(roots, x)
    assert free.status == dfdx.Status.SUCCESS and free.value[0] != res.value[0]


def test_a_shape_that_reads_two_ways_is_refused():
    message = (
        r"`bounds` \[\(0, 1\), \(5, 6\)\] reads two ways for x of shape \(2,\): as \(lower, upper\), "
        r"lower = \[0.0, 1.0\], upper = \[5.0, 6.0\]; or as one \(lo, hi\) pair per coordinate, "
        r"lower = \[0.0, 5.0\], upper = \[1.0, 6.0\]. Say which: pass scipy.optimize.Bounds"
    )
    with pytest.raises(ValueError, match=message):
        dfdx.gradient(roots, X, bounds=[(0, 1), (5, 6)])
    # The same numbers, said one way, are read that way.
    with pytest.raises(ValueError, match=r"`x` is outside `bounds` at index 1: x = 2.0 not in \[5.0, 6.0\]"):
        dfdx.gradient(roots, X, bounds=Bounds([0, 5], [1, 6]))
    assert dfdx.gradient(roots, X, bounds=Bounds([0, 1], [5, 6])).success


def test_wrong_numbers_of_pairs_are_named():
    with pytest.raises(ValueError, match=r"or a sequence of 2 \(lo, hi\) pairs, one per coordinate"):
        dfdx.gradient(roots, X, bounds=[(0, 2), (1, 3), (0, 5)])
    with pytest.raises(ValueError, match=r"lower < upper everywhere; at index 0 lower = 2.0 >= upper = 1.0"):
        dfdx.gradient(roots, X, bounds=Bounds([2, 0], [1, 3]))


# --- x ----------------------------------------------------------------------------------------


def test_x_none_is_named():
    with pytest.raises(TypeError, match=r"`x` is None; give the point"):
        dfdx.gradient(roots, None)
    with pytest.raises(TypeError, match=r"`x` is None"):
        dfdx.derivative(np.sin, None)


def test_a_masked_x_is_refused_when_anything_is_masked():
    masked = np.ma.array([1.0, 2.0, 3.0], mask=[False, True, False])
    with pytest.raises(ValueError, match=r"`x` is a masked array with masked entries at \[\(1,\)\]"):
        dfdx.gradient(roots, masked)
    with pytest.raises(ValueError, match=r"`x` is a masked array"):
        dfdx.check_gradient(roots, roots_gradient, masked)
    clear = np.ma.array([1.0, 2.0, 3.0], mask=False)
    res = dfdx.gradient(roots, clear)
    assert type(res.value) is np.ndarray
    np.testing.assert_allclose(res.value, roots_gradient(np.array([1.0, 2.0, 3.0])), rtol=1e-10)


# --- a scalar as shape (1,) -------------------------------------------------------------------

A = np.array([[2.0, 1.0], [1.0, 3.0]])


@pytest.mark.parametrize("options", [{}, {"method": "forward"}, {"method": "complex"}, {"adaptive": True}])
def test_gradient_of_f_returning_shape_one(options):
    res = dfdx.gradient(lambda x: np.array([x @ A @ x]), X, **options)
    assert res.value.shape == X.shape
    np.testing.assert_allclose(res.value, 2 * A @ X, rtol=1e-6)
    batched = dfdx.gradient(lambda x: np.sum(x**2, axis=0, keepdims=True), X, vectorized=True, **options)
    np.testing.assert_allclose(batched.value, 2 * X, rtol=1e-6)


def test_jacobian_of_shape_one_keeps_its_row():
    res = dfdx.jacobian(lambda x: np.array([x @ A @ x]), X)
    assert res.value.shape == (1, 2)


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_check_gradient_of_f_returning_shape_one(mode):
    f = lambda x: np.array([x @ A @ x])  # noqa: E731
    assert dfdx.check_gradient(f, lambda x: 2 * A @ x, X, mode=mode, seed=0).passed
    assert not dfdx.check_gradient(f, lambda x: 2.01 * A @ x, X, mode=mode, seed=0).passed


def test_a_vector_is_still_refused():
    with pytest.raises(
        ValueError, match=r"`f` must return a scalar for gradient, but f\(x\) has shape \(2,\)"
    ):
        dfdx.gradient(lambda x: x**2, X)


# --- f0 ---------------------------------------------------------------------------------------


def test_f0_is_documented_as_trusted_and_is_used_as_documented():
    doc = " ".join(dfdx.gradient.__doc__.split())
    assert "it is trusted: checking it would cost the evaluation it saves" in doc
    f = lambda x: x[0] ** 2 + 3 * x[1]  # noqa: E731
    right = dfdx.gradient(f, X, method="forward")
    given = dfdx.gradient(f, X, method="forward", f0=f(X))
    wrong = dfdx.gradient(f, X, method="forward", f0=123.0, throw=False)
    assert right.nfev == given.nfev + 1 and abs(wrong.value[0]) > 1e6
    central = dfdx.gradient(f, X, f0=123.0, throw=False)
    np.testing.assert_allclose(central.value, [2.0, 3.0], rtol=1e-10)  # values do not weigh f(x) ...
    assert np.all(central.error > 1e3)  # ... but the error estimates do


# --- what a directional check can miss --------------------------------------------------------


def smooth(z):
    return np.sum(np.sin(z)) + 0.5 * np.sum(z**2)


def smooth_gradient(z):
    return np.cos(z) + z


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_the_missable_error_of_a_directional_check_is_honest(seed):
    x = np.random.default_rng(0).standard_normal(200)
    report = dfdx.check_gradient(smooth, smooth_gradient, x, mode="directional", seed=seed)
    assert report.passed and report.missable is not None and report.missable > 0
    (j,) = report.missable_index
    g = smooth_gradient(x)
    assert report.missable_relative == pytest.approx(report.missable / np.max(np.abs(g)))

    def off_by(delta):
        def grad(z):
            out = smooth_gradient(z)
            out[j] += delta
            return out

        return grad

    # Half the bound at the least covered entry passes every direction ...
    assert dfdx.check_gradient(smooth, off_by(0.5 * report.missable), x, mode="directional", seed=seed).passed
    # ... which the full check catches; three times the bound is caught.
    assert not dfdx.check_gradient(smooth, off_by(0.5 * report.missable), x).passed
    caught = dfdx.check_gradient(smooth, off_by(3 * report.missable), x, mode="directional", seed=seed)
    assert not caught.passed and caught.mismatches == ((j,),)
    assert "could miss: one entry off by up to" in str(report)
    assert report.to_dict()["missable_index"] == [j]


def test_a_full_check_states_no_missable_error():
    report = dfdx.check_gradient(smooth, smooth_gradient, np.array([0.3, 1.0]))
    assert report.missable is None and "could miss" not in str(report)


def test_the_missable_error_of_a_directional_jacobian_check():
    f = lambda x: np.array([np.sum(x**2), np.sum(np.sin(x))])  # noqa: E731
    jac = lambda x: np.array([2 * x, np.cos(x)])  # noqa: E731
    x = np.linspace(0.1, 1.0, 30)
    report = dfdx.check_jacobian(f, jac, x, mode="directional", seed=1)
    assert report.passed and len(report.missable_index) == 2
    i, j = report.missable_index

    def off(z):
        out = jac(z)
        out[i, j] += 3 * report.missable
        return out

    assert not dfdx.check_jacobian(f, off, x, mode="directional", seed=1).passed
