"""dfdx derivatives inside scipy.optimize: least_squares, minimize, root."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sps
from scipy.optimize import least_squares, minimize, root, rosen

import dfdx


def rosenbrock_residuals(x):
    return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def test_least_squares_rosenbrock_in_one_line() -> None:
    sol = least_squares(rosenbrock_residuals, [-1.2, 1.0], jac=dfdx.jac(rosenbrock_residuals))
    assert sol.success
    assert np.allclose(sol.x, [1.0, 1.0], atol=1e-10)


def test_least_squares_exponential_fit_recovers_the_parameters() -> None:
    t = np.linspace(0, 4, 40)
    truth = np.array([2.5, -1.3, 0.4])
    y = truth[0] * np.exp(truth[1] * t) + truth[2]

    def residuals(p):
        return p[0] * np.exp(p[1] * t) + p[2] - y

    sol = least_squares(residuals, [1.0, -0.5, 0.0], jac=dfdx.jac(residuals))
    assert np.allclose(sol.x, truth, atol=1e-9)
    # Fewer iterations than with SciPy's own 2-point differences is not required, but
    # the optimum must be the same.
    ref = least_squares(residuals, [1.0, -0.5, 0.0])
    assert np.allclose(sol.x, ref.x, atol=1e-7)


def test_least_squares_with_a_sparse_jacobian() -> None:
    n = 200

    def residuals(x):  # Broyden tridiagonal function (Moré, Garbow and Hillstrom, no. 30)
        padded = np.concatenate([[0.0], x, [0.0]])
        return (3 - 2 * x) * x - padded[:-2] - 2 * padded[2:] + 1

    pattern = sps.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(n, n))
    jac = dfdx.jac(residuals, sparsity=pattern)
    assert sps.issparse(jac(-np.ones(n)))
    sol = least_squares(residuals, -np.ones(n), jac=jac, tr_solver="lsmr", gtol=1e-14, xtol=1e-14)
    assert sol.success and np.max(np.abs(sol.fun)) < 1e-12
    assert sol.njev < 20


def test_minimize_bfgs_and_newton_with_dfdx_derivatives() -> None:
    x0 = np.array([-1.2, 1.0, -0.5])  # 3-D Rosenbrock: (1, 1, 1) is the only minimum
    sol = minimize(rosen, x0, jac=dfdx.jac(rosen), method="BFGS", options={"gtol": 1e-9})
    assert np.allclose(sol.x, np.ones(3), atol=1e-6)
    hess = lambda x: dfdx.hessian(rosen, x).value  # noqa: E731
    sol = minimize(rosen, x0, jac=dfdx.jac(rosen), hess=hess, method="trust-exact")
    assert sol.success and np.allclose(sol.x, np.ones(3), atol=1e-8)


def test_newton_cg_with_hessian_vector_products() -> None:
    x0 = np.array([-1.2, 1.0, 0.3])
    grad = dfdx.jac(rosen)
    hessp = lambda x, p: dfdx.directional(grad, x, p).value  # noqa: E731
    sol = minimize(rosen, x0, jac=grad, hessp=hessp, method="Newton-CG", options={"xtol": 1e-10})
    assert np.allclose(sol.x, np.ones(3), atol=1e-6)


def test_root_with_the_jacobian() -> None:
    def f(x):
        return np.array([x[0] ** 2 + x[1] ** 2 - 4, np.exp(x[0]) + x[1] - 1])

    sol = root(f, [1.0, -1.0], jac=dfdx.jac(f))
    assert sol.success and np.max(np.abs(f(sol.x))) < 1e-12


def test_jac_passes_args_and_options() -> None:
    def residuals(p, t, y):
        return p[0] * t + p[1] - y

    t = np.linspace(0, 1, 5)
    sol = least_squares(residuals, [0.0, 0.0], jac=dfdx.jac(residuals, method="complex"), args=(t, 3 * t + 1))
    assert np.allclose(sol.x, [3.0, 1.0], atol=1e-12)


@pytest.mark.parametrize("bounded", [True, False])
def test_minimize_with_bounds_never_leaves_them(bounded: bool) -> None:
    def f(x):
        if np.any(x < 0):
            raise AssertionError("outside")
        return np.sum((x - 0.5) ** 2) + np.sum(np.sqrt(x + 1))

    options = {"bounds": (0.0, np.inf)} if bounded else {}
    bounds = [(0.0, None)] * 3
    x0 = np.array([0.0, 1.0, 2.0])
    if not bounded:
        with pytest.raises(AssertionError, match="outside"):
            minimize(f, x0, jac=dfdx.jac(f, **options), bounds=bounds, method="L-BFGS-B")
        return
    sol = minimize(
        f,
        x0,
        jac=dfdx.jac(f, **options),
        bounds=bounds,
        method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 1e-15},
    )
    # Stationary: 2 (x - 0.5) + 1 / (2 sqrt(x + 1)) = 0.
    assert np.allclose(2 * (sol.x - 0.5) + 0.5 / np.sqrt(sol.x + 1), 0, atol=1e-7)
