"""dfdx.Objective and dfdx.as_linear_operator inside scipy.optimize and scipy.sparse.linalg."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares, minimize, rosen, rosen_der, rosen_hess
from scipy.sparse.linalg import gmres, lsqr

import dfdx


class Counted:
    """f with a count of the points it was evaluated at (a vectorized batch counts its points)."""

    def __init__(self, f, vectorized=False):
        self.f, self.vectorized, self.calls = f, vectorized, 0

    def __call__(self, x, *args, **kwargs):
        self.calls += x.shape[-1] if self.vectorized else 1
        return self.f(x, *args, **kwargs)


def residuals(x):
    return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0], np.sin(x[0] * x[1])])


def residuals_jacobian(x):
    c = np.cos(x[0] * x[1])
    return np.array([[-20 * x[0], 10.0], [-1.0, 0.0], [x[1] * c, x[0] * c]])


X3 = np.array([-1.2, 1.0, 0.5])


# --- the recipes converge ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "CG"])
@pytest.mark.parametrize(
    "options",
    [{}, {"method": "complex"}, {"method": "forward", "accuracy": 1}, {"method": "central", "accuracy": 2}],
)
def test_minimize_with_jac_true_converges(method, options):
    obj = dfdx.Objective(rosen, **options)
    sol = minimize(obj, X3, jac=True, method=method, options={"maxiter": 20000})
    assert np.allclose(sol.x, np.ones(3), atol=1e-4)


@pytest.mark.parametrize("method", ["trust-ncg", "trust-krylov", "Newton-CG", "trust-constr"])
def test_hessp_recipes_converge(method):
    obj = dfdx.Objective(rosen)
    sol = minimize(obj, X3, jac=True, hessp=obj.hessp, method=method)
    assert sol.success and np.allclose(sol.x, np.ones(3), atol=1e-4)
    assert obj.nhev > 0


@pytest.mark.parametrize("method", ["trust-exact", "dogleg", "Newton-CG", "trust-constr"])
def test_hess_recipes_converge(method):
    obj = dfdx.Objective(rosen)
    sol = minimize(obj.fun, X3, jac=obj.jac, hess=obj.hess, method=method)
    # Converged as the optimizer defines it (gtol = 1e-5 on the true gradient).
    assert sol.success and np.allclose(sol.x, np.ones(3), atol=1e-4)
    assert np.max(np.abs(rosen_der(sol.x))) <= 1e-5


def test_least_squares_with_fun_and_jac_shares_f_of_x():
    ref = least_squares(residuals, [-1.2, 1.0], jac=residuals_jacobian)
    f = Counted(residuals)
    obj = dfdx.Objective(f)
    sol = least_squares(obj.fun, [-1.2, 1.0], jac=obj.jac)
    assert sol.success and np.allclose(sol.x, ref.x, atol=1e-8)
    # Every Jacobian is taken where least_squares had just evaluated f: 2 n = 4 points each.
    assert f.calls == obj.nfev == sol.nfev + 4 * sol.njev
    f = Counted(residuals)
    obj = dfdx.Objective(f, method="complex")  # n = 2 complex points per Jacobian
    sol = least_squares(obj.fun, [-1.2, 1.0], jac=obj.jac)
    assert sol.success and np.allclose(sol.x, ref.x, atol=1e-10)
    assert f.calls == obj.nfev == sol.nfev + 2 * sol.njev


# --- f(x) shared, every evaluation counted ----------------------------------------------


@pytest.mark.parametrize(
    ("options", "per_gradient"),
    [
        ({}, 6),  # central differences of order 2 by default
        ({"method": "central"}, 12),  # dfdx's own default order, 4
        ({"method": "complex"}, 3),
        ({"method": "forward", "accuracy": 1}, 3),
        ({"method": "central", "accuracy": 4}, 12),
    ],
)
def test_value_and_gradient_share_f_of_x(options, per_gradient):
    f = Counted(rosen)
    obj = dfdx.Objective(f, **options)
    value, grad = obj(X3)
    assert value == rosen(X3) and isinstance(value, float)
    np.testing.assert_allclose(grad, rosen_der(X3), rtol=1e-6)
    assert f.calls == obj.nfev == 1 + per_gradient and obj.njev == 1
    obj(X3), obj.fun(X3), obj.jac(X3)  # the same point again: nothing new
    assert f.calls == obj.nfev == 1 + per_gradient
    x = X3 + 0.1
    obj.fun(x)
    obj.jac(x)  # fun then jac, as minimize(obj.fun, x0, jac=obj.jac) calls them
    assert f.calls == obj.nfev == 2 * (1 + per_gradient)


def test_inside_bfgs_each_call_costs_one_value_and_one_gradient():
    f = Counted(rosen)
    obj = dfdx.Objective(f, method="central", accuracy=2)
    sol = minimize(obj, X3, jac=True, method="BFGS")
    assert f.calls == obj.nfev == sol.nfev * (1 + 2 * 3) and obj.njev == sol.njev


def test_vectorized_batches_count_their_points():
    f = Counted(lambda x: np.sum(x**2, axis=0), vectorized=True)
    obj = dfdx.Objective(f, vectorized=True)
    value, grad = obj(np.array([1.0, 2.0]))
    assert value == 5.0 and np.allclose(grad, [2.0, 4.0])
    assert f.calls == obj.nfev == 5


def test_a_gradient_where_f_is_not_finite_is_nan_and_costs_nothing():
    f = Counted(lambda x: np.inf if x[0] > 1 else x @ x)
    obj = dfdx.Objective(f)
    value, grad = obj(np.array([2.0, 0.0]))
    assert value == np.inf and np.all(np.isnan(grad)) and f.calls == obj.nfev == 1 and obj.njev == 0


def test_args_of_the_optimizer_win_and_kwargs_reach_f():
    def f(x, a, b=0.0, *, c=1.0):
        return c * ((a - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2) + b

    obj = dfdx.Objective(f, args=(5.0,), kwargs={"c": 2.0})
    assert obj.fun(np.array([0.0, 0.0])) == 50.0  # its own args when the optimizer passes none
    sol = minimize(obj, [-1.2, 1.0], args=(3.0, 1.0), jac=True, method="BFGS")
    assert np.allclose(sol.x, [3.0, 9.0], atol=1e-4) and np.isclose(sol.fun, 1.0)


def test_dfdx_jac_takes_the_same_args_as_minimize():
    def f(x, a, b):
        return (a - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2 + b

    sol = minimize(f, [-1.2, 1.0], args=(3.0, 1.0), jac=dfdx.jac(f, args=(3.0, 1.0)), method="BFGS")
    assert np.allclose(sol.x, [3.0, 9.0], atol=1e-4)


# --- the budget is exact -----------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"method": "complex"}, {"method": "central", "adaptive": True}])
def test_budget_is_never_exceeded_and_counted_exactly(options):
    full = dfdx.Objective(rosen, **options)
    unlimited = minimize(full, X3, jac=True, method="BFGS")
    # The run's own total is enough, bit for bit the same run; one less is not.
    obj = dfdx.Objective(rosen, budget=full.nfev, **options)
    sol = minimize(obj, X3, jac=True, method="BFGS")
    assert obj.nfev == full.nfev and np.array_equal(sol.x, unlimited.x)
    for budget in sorted({1, 2, 6, 7, 8, 13, 14, full.nfev // 3, full.nfev // 2, full.nfev - 1}):
        f = Counted(rosen)
        obj = dfdx.Objective(f, budget=budget, **options)
        with pytest.raises(
            dfdx.BudgetExhausted, match=f"budget of {budget} evaluations of f is exhausted"
        ) as info:
            minimize(obj, X3, jac=True, method="BFGS")
        assert f.calls == obj.nfev == info.value.nfev <= budget
        stop = info.value
        assert stop.x is not None and stop.fun == rosen(stop.x) and stop.fun <= rosen(X3)
        res = stop.result()
        assert not res.success and res.nfev == f.calls and np.array_equal(res.x, stop.x)


def test_a_fixed_step_gradient_that_would_not_fit_is_not_started():
    f = Counted(rosen)
    obj = dfdx.Objective(f, budget=16, method="central", accuracy=2)
    obj(X3), obj.fun(X3 + 1)  # 1 + 6, then 1: the next gradient needs 6, 8 are left
    obj(X3 + 2)  # 1 + 6: 15 spent, 1 left
    with pytest.raises(dfdx.BudgetExhausted, match=r"\(15 made; the next step needs more\)"):
        obj.jac(X3 + 1)
    assert f.calls == obj.nfev == 15
    obj.fun(X3 + 3)  # a value still fits
    assert f.calls == obj.nfev == 16
    with pytest.raises(dfdx.BudgetExhausted):
        obj.fun(X3 + 4)
    assert f.calls == 16


def test_budget_with_vectorized_f_counts_points():
    f = Counted(lambda x: rosen(x), vectorized=True)
    obj = dfdx.Objective(f, budget=10, vectorized=True)
    with pytest.raises(dfdx.BudgetExhausted):
        minimize(obj, X3, jac=True, method="BFGS")
    assert f.calls == obj.nfev <= 10


def test_budget_large_enough_lets_the_optimizer_finish():
    f = Counted(rosen)
    obj = dfdx.Objective(f, budget=10**6)
    sol = minimize(obj, X3, jac=True, method="BFGS")
    assert sol.success and f.calls == obj.nfev


def test_budget_covers_hessians_and_best_point_of_least_squares():
    f = Counted(residuals)
    obj = dfdx.Objective(f, budget=20)
    with pytest.raises(dfdx.BudgetExhausted) as info:
        least_squares(obj.fun, [-1.2, 1.0], jac=obj.jac)
    assert f.calls == obj.nfev <= 20
    assert np.allclose(info.value.fun, residuals(info.value.x))
    h = Counted(rosen)
    obj = dfdx.Objective(h, budget=500)
    with pytest.raises(dfdx.BudgetExhausted):  # the products' gradients count too
        minimize(obj, X3, jac=True, hessp=obj.hessp, method="trust-ncg")
    assert h.calls == obj.nfev <= 500 and obj.nhev > 0
    g = Counted(rosen)
    obj = dfdx.Objective(g, budget=30)
    with pytest.raises(dfdx.BudgetExhausted):
        obj.hess(X3)  # 1 + 40-odd points
    assert g.calls == obj.nfev <= 30


# --- Hessians ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "rtol"),
    [
        ({}, 1e-5),
        ({"method": "forward", "accuracy": 1}, 1e-3),
        ({"method": "complex"}, 1e-8),
        ({"method": "central", "accuracy": 4}, 1e-6),
    ],
)
def test_hessp_agrees_with_the_hessian_times_p(options, rtol):
    # The product keeps about two thirds of the gradients' digits: forward ones give five.
    rng = np.random.default_rng(1)
    obj = dfdx.Objective(rosen, **options)
    for _ in range(20):
        x, p = 2 * rng.normal(size=4), rng.normal(size=4)
        exact = rosen_hess(x) @ p
        assert np.max(np.abs(obj.hessp(x, p) - exact)) <= rtol * np.max(np.abs(exact))
    assert np.array_equal(obj.hessp(x, np.zeros(4)), np.zeros(4))


def test_hess_agrees_with_the_hessian():
    f = Counted(rosen)
    obj = dfdx.Objective(f)
    np.testing.assert_allclose(obj.hess(X3), rosen_hess(X3), rtol=1e-8, atol=1e-8)
    assert f.calls == obj.nfev and obj.nhev == 1


# --- the linear operator -----------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"method": "complex"}, {"accuracy": 2}])
def test_matvec_agrees_with_the_dense_jacobian(options):
    rng = np.random.default_rng(2)
    x = np.array([0.7, -0.4])
    f = Counted(residuals)
    op = dfdx.as_linear_operator(f, x, **options)
    assert op.shape == (3, 2) and op.dtype == np.float64
    for _ in range(4):
        vec = rng.normal(size=2)
        np.testing.assert_allclose(op @ vec, residuals_jacobian(x) @ vec, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(op @ np.eye(2), residuals_jacobian(x), rtol=1e-8, atol=1e-10)
    assert np.array_equal(op @ np.zeros(2), np.zeros(3))
    z = np.array([1.0 + 2.0j, -1.0j])
    np.testing.assert_allclose(op @ z, residuals_jacobian(x) @ z, rtol=1e-8)
    assert op.nfev == f.calls


def test_rmatvec_forms_the_jacobian_once():
    x = np.array([0.7, -0.4])
    f = Counted(residuals)
    op = dfdx.as_linear_operator(f, x)
    assert f.calls == op.nfev == 1
    op @ np.ones(2)
    assert f.calls == op.nfev == 7  # one order-4 central stencil along v, and its check
    u = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(op.T @ u, residuals_jacobian(x).T @ u, rtol=1e-10)
    assert f.calls == op.nfev == 7 + 12  # and the Jacobian (two columns), with its checks
    np.testing.assert_allclose(op.rmatvec(2 * u), 2 * residuals_jacobian(x).T @ u, rtol=1e-10)
    np.testing.assert_allclose(op @ np.ones(2), residuals_jacobian(x) @ np.ones(2), rtol=1e-10)
    assert f.calls == op.nfev == 19


def test_linear_operator_recipes_gmres_and_lsqr():
    def f(x):
        return np.array([x[0] ** 2 * x[1], 5 * x[0] + np.sin(x[1]), x[0] * x[1]])

    x = np.array([1.0, 2.0])
    jac = np.array([[4.0, 1.0], [5.0, np.cos(2.0)], [2.0, 1.0]])
    b = np.array([1.0, 2.0, 0.5])
    s = lsqr(dfdx.as_linear_operator(f, x), b, atol=1e-14, btol=1e-14)[0]
    np.testing.assert_allclose(s, np.linalg.lstsq(jac, b, rcond=None)[0], rtol=1e-9)
    square = lambda x: f(x)[:2]
    s, info = gmres(dfdx.as_linear_operator(square, x, method="complex"), b[:2], rtol=1e-13)
    assert info == 0 and np.allclose(jac[:2] @ s, b[:2], rtol=1e-12)


def test_linear_operator_passes_args_and_kwargs():
    op = dfdx.as_linear_operator(lambda x, a, *, b: a * x + b, [1.0, 2.0], args=(3.0,), kwargs={"b": 1.0})
    np.testing.assert_allclose(op @ np.array([1.0, 1.0]), [3.0, 3.0], rtol=1e-12)


# --- errors ------------------------------------------------------------------------------


def test_unknown_option_is_refused():
    with pytest.raises(TypeError, match=r"Objective got unknown option\(s\) 'acuracy'; it takes those of"):
        dfdx.Objective(rosen, acuracy=2)


@pytest.mark.parametrize("budget", [0, -3, 2.5, True, "10"])
def test_a_budget_that_is_not_a_positive_integer_is_refused(budget):
    with pytest.raises(ValueError, match="`budget` must be a positive integer"):
        dfdx.Objective(rosen, budget=budget)


def test_budget_with_workers_is_refused():
    with pytest.raises(ValueError, match="`budget` counts evaluations as they are made in this process"):
        dfdx.Objective(rosen, budget=10, workers=map)


def test_f_must_be_callable():
    with pytest.raises(TypeError, match="`f` must be a callable"):
        dfdx.Objective(3.0)
    with pytest.raises(TypeError, match="`f` must be a callable"):
        dfdx.as_linear_operator(3.0, [1.0])


@pytest.mark.parametrize("name", ["hessp", "hess"])
def test_hessians_need_a_scalar_f(name):
    obj = dfdx.Objective(residuals)
    call = (lambda: obj.hessp([1.0, 2.0], [1.0, 0.0])) if name == "hessp" else (lambda: obj.hess([1.0, 2.0]))
    with pytest.raises(ValueError, match=rf"Objective.{name} needs a scalar f, but f\(x\) has shape \(3,\)"):
        call()


def test_bad_options_are_reported_by_the_front_ends():
    with pytest.raises(ValueError, match="method"):
        dfdx.Objective(rosen, method="centre").jac(X3)


def test_the_check_is_opt_in_and_doubles_a_gradient():
    f = Counted(rosen)
    obj = dfdx.Objective(f, check=True)
    obj(X3)
    assert f.calls == obj.nfev == 1 + 4 * 3  # the order-2 stencil and its check per coordinate
    with pytest.raises(TypeError, match="check"):
        dfdx.Objective(rosen, check="yes")


def test_an_objective_reads_in_the_repl():
    obj = dfdx.Objective(rosen, budget=100)
    obj(X3)
    assert repr(obj) == "Objective(rosen, method='central', budget=100, nfev=7, njev=1, nhev=0)"
