"""max_evals=: the best estimate within a number of evaluations, f(x) included, said when it binds."""

from __future__ import annotations

import numpy as np
import pytest

import dfdx

X = np.linspace(0.1, 1.6, 6)
CALLS: list[int] = []


def trig(x):
    CALLS.append(1)
    return float(np.sum(np.sin(x) * np.arange(1, x.size + 1)) + x[0] * np.exp(x[-1]))


def trig_grad(x):
    g = np.cos(x) * np.arange(1, x.size + 1)
    g[0] += np.exp(x[-1])
    g[-1] += x[0] * np.exp(x[-1])
    return g


def trig_hess(x):
    h = np.diag(-np.sin(x) * np.arange(1, x.size + 1))
    h[0, -1] += np.exp(x[-1])
    h[-1, 0] += np.exp(x[-1])
    h[-1, -1] += x[0] * np.exp(x[-1])
    return h


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "20", None.__class__])
def test_max_evals_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match=r"`max_evals` must be a positive integer"):
        dfdx.gradient(trig, X, max_evals=bad)


@pytest.mark.parametrize(
    ("front", "args", "budget", "match"),
    [
        (dfdx.gradient, (X,), X.size, r"max_evals=6 is too small for any estimate: .* needs at least 7"),
        (dfdx.jacobian, (X,), 3, r"needs at least 7 evaluations here \(f\(x\) and 1 per coordinate for 6"),
        (dfdx.derivative, (np.sin, X), 1, r"max_evals=1 is too small.*needs at least 2"),
        (dfdx.directional, (X, np.ones(6)), 1, r"needs at least 2 evaluations"),
        (dfdx.hessian, (X,), 40, r"needs at least 43 evaluations .*2 per coordinate for 21"),
    ],
)
def test_a_budget_below_any_estimate_is_refused_before_f_is_called(front, args, budget, match):
    f = args[0] if front is dfdx.derivative else trig
    rest = args[1:] if front is dfdx.derivative else args
    CALLS.clear()
    with pytest.raises(ValueError, match=match):
        front(f, *rest, max_evals=budget)
    assert CALLS == []


@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("budget", [7, 10, 13, 19, 25, 31, 37, 60, 400])
def test_gradient_stays_within_budget_and_its_error_covers(budget, adaptive):
    CALLS.clear()
    res = dfdx.gradient(trig, X, max_evals=budget, adaptive=adaptive, throw=False)
    assert res.nfev == len(CALLS) <= budget
    assert np.all(np.abs(res.value - trig_grad(X)) <= res.error)
    plain = dfdx.gradient(trig, X, adaptive=adaptive)
    if plain.nfev <= budget:  # not binding: the same run, bit for bit, and no note
        np.testing.assert_array_equal(res.value, plain.value)
        np.testing.assert_array_equal(res.error, plain.error)
        assert "max_evals" not in res.message and not res.extras["budget"].bound
    else:
        assert f"max_evals={budget} bound" in res.message and res.extras["budget"].bound


def test_fixed_steps_take_the_most_accurate_stencil_that_fits():
    n = X.size
    cases = [
        (4 * n + 1, "central", 4),
        (4 * n, "central", 2),
        (2 * n + 1, "central", 2),
        (2 * n, "forward", 1),
    ]
    for budget, method, accuracy in cases:
        res = dfdx.gradient(trig, X, max_evals=budget)
        assert (res.method, res.accuracy) == (method, accuracy)
        assert res.nfev == 1 + n * (accuracy if method == "central" else 1)
    lowered = dfdx.gradient(trig, X, max_evals=2 * n + 1)
    assert "the stencil was lowered from central accuracy 4 to central accuracy 2" in lowered.message
    one_sided = dfdx.gradient(trig, X, method="backward", accuracy=3, max_evals=2 * n + 3)
    assert (one_sided.method, one_sided.accuracy, one_sided.nfev) == ("backward", 2, 2 * n + 1)
    complex_step = dfdx.gradient(lambda x: np.sum(np.sin(x)), X, method="complex", max_evals=n + 1)
    assert complex_step.nfev == n + 1


def test_the_adaptive_mode_spends_what_it_is_given_where_the_error_is_largest():
    n = X.size
    res = dfdx.gradient(trig, X, adaptive=True, max_evals=6 * n, throw=False)
    assert res.nfev == 6 * n - 1  # f(x), two steps of every coordinate, a third for n - 1 of them
    assert "the adaptive refinement stopped early" in res.message
    # Errors near the rounding floor: the estimate is within a small factor (on the bank,
    # 97% of the entries are covered: benchmarks/bench_store.py).
    assert np.all(np.abs(res.value - trig_grad(X)) <= 10 * res.error)
    # The one coordinate left at two steps is the one of least relative error after them.
    two_steps = dfdx.gradient(trig, X, adaptive=True, max_evals=4 * n + 1)
    rel = two_steps.error / np.abs(two_steps.value)
    assert res.error[np.argmin(rel)] == pytest.approx(two_steps.error[np.argmin(rel)], rel=1e-12)
    # Fewer than two steps per coordinate: a fixed stencil, said so.
    fixed = dfdx.gradient(trig, X, adaptive=True, max_evals=4 * n)
    assert "a fixed stencil instead" in fixed.message and fixed.nfev <= 4 * n


def test_every_front_end_takes_a_budget():
    CALLS.clear()
    jac = dfdx.jacobian(trig, X, max_evals=13)
    assert jac.nfev <= 13 and np.allclose(jac.value, trig_grad(X), rtol=1e-6)
    der = dfdx.derivative(np.sin, X, max_evals=3)
    assert der.nfev == 3 and np.all(np.abs(der.value - np.cos(X)) <= der.error)
    dd = dfdx.directional(trig, X, np.ones(6), max_evals=3)
    assert dd.nfev == 3 and abs(dd.value - trig_grad(X).sum()) <= dd.error
    n, pairs = X.size, X.size * (X.size - 1) // 2
    hess = dfdx.hessian(trig, X, max_evals=1 + 2 * (n + pairs))
    assert hess.nfev <= 1 + 2 * (n + pairs)
    assert np.all(np.abs(hess.value - trig_hess(X)) <= hess.error)
    assert "max_evals" in hess.message
    plain = dfdx.hessian(trig, X)
    roomy = dfdx.hessian(trig, X, max_evals=10_000)  # room for the scout
    # Within a budget the Hessian's own steps are not checked (its plan has no room for the
    # checks): the same stencils, close to the checked run but not bit for bit.
    np.testing.assert_allclose(roomy.value, plain.value, rtol=1e-9, atol=1e-9)
    assert np.all(np.abs(roomy.value - trig_hess(X)) <= roomy.error)
    from_grad = dfdx.hessian(trig, X, grad=trig_grad, max_evals=n + 1)
    assert from_grad.nfev == n + 1


def test_a_plan_overrun_is_refused_with_the_reason():
    # A domain hole makes the engine redo columns one-sided, beyond the planned points.
    def holed(x):
        with np.errstate(invalid="ignore"):
            return float(np.sum(np.sqrt(x)))

    x = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match=r"max_evals=5 is spent: 5 points were used and \d+ more"):
        dfdx.gradient(holed, x, max_evals=5)


def test_a_budget_and_a_store_count_recorded_points_too(tmp_path):
    path = tmp_path / "run.db"
    first = dfdx.gradient(trig, X, max_evals=13, store=path)
    again = dfdx.gradient(trig, X, max_evals=13, store=path)
    assert (first.nfev, again.nfev) == (13, 0)
    np.testing.assert_array_equal(first.value, again.value)


def test_the_noise_mode_plans_its_probes_within_the_budget():
    rng = np.random.default_rng(1)

    def noisy(x):
        return trig(x) + 1e-9 * rng.standard_normal()

    n = X.size
    # Order 4: 4 points and a 6-point probe of the 5th derivative per coordinate.
    full = dfdx.gradient(noisy, X, noise=1e-9)
    assert full.nfev == 1 + n * (4 + 6)
    lowered = dfdx.gradient(noisy, X, noise=1e-9, max_evals=1 + n * (4 + 6) - 1)
    assert lowered.nfev <= 1 + n * (4 + 6) - 1 and lowered.accuracy == 2
    auto = dfdx.gradient(noisy, X, noise="auto", max_evals=1 + n * 6 + 16)
    assert auto.nfev <= 1 + n * 6 + 16 and np.all(np.abs(auto.value - trig_grad(X)) <= auto.error)
    with pytest.raises(ValueError, match=r"needs at least \d+ evaluations .*and the noise mode's probes"):
        dfdx.gradient(noisy, X, noise=1e-9, max_evals=2 * n)
