"""The option set shared by the front-ends: `kwargs=`, `args=` with SciPy, integer `workers`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import least_squares, minimize

import dfdx
from dfdx.cli import main

X = np.array([0.3, -1.2, 2.0])


def scaled(x, a=1.0, *, b=0.0):
    """A scalar function with a positional and a keyword parameter (module level: picklable)."""
    return a * float(np.sum(np.sin(x))) + b * float(x @ x)


def scaled_gradient(x, a=1.0, *, b=0.0):
    return a * np.cos(x) + 2 * b * x


def residuals(x, a, *, b=0.0):
    return np.array([a * (x[1] - x[0] ** 2), 1 - x[0] + b])


@pytest.mark.parametrize(
    "front_end, extra",
    [
        (dfdx.gradient, {}),
        (dfdx.jacobian, {}),
        (dfdx.hessian, {}),
        (dfdx.directional, {"v": np.array([1.0, 0.5, -1.0])}),
    ],
)
def test_kwargs_reach_f_on_every_front_end(front_end, extra):
    with_kwargs = front_end(scaled, X, **extra, args=(2.0,), kwargs={"b": 0.5})
    bound = front_end(lambda x: scaled(x, 2.0, b=0.5), X, **extra)
    np.testing.assert_array_equal(with_kwargs.value, bound.value)
    assert with_kwargs.nfev == bound.nfev


def test_kwargs_of_derivative_and_checker():
    res = dfdx.derivative(lambda x, *, k: np.sin(k * x), X, kwargs={"k": 3.0})
    np.testing.assert_allclose(res.value, 3 * np.cos(3 * X), rtol=1e-10)
    report = dfdx.check_gradient(scaled, scaled_gradient, X, args=(2.0,), kwargs={"b": 0.5})
    assert report.passed
    # The keyword arguments reach grad too: without them grad disagrees.
    assert not dfdx.check_gradient(scaled, lambda x, **kw: scaled_gradient(x), X, kwargs={"b": 0.5}).passed
    dfdx.assert_gradient(scaled, scaled_gradient, X, kwargs={"b": 0.25})
    jac = dfdx.check_jacobian(
        residuals,
        lambda x, a, b: np.array([[-2 * a * x[0], a], [-1.0, 0.0]]),
        X[:2],
        args=(10.0,),
        kwargs={"b": 1},
    )
    assert jac.passed


def test_bad_kwargs_are_named():
    with pytest.raises(TypeError, match=r"`kwargs` must be a dict of keyword arguments for f"):
        dfdx.gradient(scaled, X, kwargs=("b", 1))
    with pytest.raises(TypeError, match=r"`kwargs` must be a dict of keyword arguments for f"):
        dfdx.check_gradient(scaled, scaled_gradient, X, kwargs=[("b", 1)])
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'c'"):
        dfdx.gradient(scaled, X, kwargs={"c": 1.0})


def test_jac_takes_scipy_args_without_a_clash():
    rosen = lambda x, a, b: (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2
    args = (1.0, 100.0)
    sol = minimize(rosen, [-1.2, 1.0], args=args, jac=dfdx.jac(rosen, args=args), method="BFGS")
    assert sol.success
    np.testing.assert_allclose(sol.x, [1.0, 1.0], atol=1e-5)
    # The optimizer's args win over the bound ones; the bound ones serve a caller without args.
    g = dfdx.jac(rosen, args=(0.0, 0.0))
    np.testing.assert_allclose(g(np.array([2.0, 3.0]), 1.0, 100.0), [802.0, -200.0])
    np.testing.assert_allclose(g(np.array([2.0, 3.0])), [4.0, 0.0], atol=1e-9)


def test_jac_passes_kwargs_and_refuses_unknown_options():
    fit = least_squares(residuals, [-1.2, 1.0], args=(10.0,), jac=dfdx.jac(residuals, kwargs={"b": 0.0}))
    np.testing.assert_allclose(fit.x, [1.0, 1.0], atol=1e-7)
    with pytest.raises(TypeError, match=r"dfdx.jac got unknown option\(s\) 'tol'"):
        dfdx.jac(residuals, tol=1e-3)


def test_an_integer_workers_is_a_process_pool_with_the_serial_bits():
    serial = dfdx.gradient(scaled, X, args=(2.0,), kwargs={"b": 0.5})
    pooled = dfdx.gradient(scaled, X, args=(2.0,), kwargs={"b": 0.5}, workers=2)
    np.testing.assert_array_equal(pooled.value, serial.value)
    assert pooled.nfev == serial.nfev


@pytest.mark.parametrize("workers", [0, -2, -10])
def test_integer_workers_below_minus_one_or_zero_are_refused(workers):
    with pytest.raises(
        ValueError, match=rf"`workers` must be a positive number of processes, .* got {workers}"
    ):
        dfdx.gradient(scaled, X, workers=workers)


def test_the_command_line_passes_kwargs_to_a_module_function(capsys):
    code = main(
        ["gradient", "tests.test_options:scaled", "--at", "0.3,-1.2,2", "--kwargs", '{"b": 0.5}', "--json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    value = np.array(json.loads(out)["result"]["value"])
    np.testing.assert_allclose(value, scaled_gradient(X, b=0.5), rtol=1e-10)
    code = main(
        ["check", "tests.test_options:scaled", "tests.test_options:scaled_gradient", "--at", "0.3,-1.2,2"]
        + ["--kwargs", '{"b": 2}']
    )
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["gradient", "x**2 + y", "--at", "x=1,y=2", "--kwargs", '{"b": 1}'],
            "--kwargs applies to module:function",
        ),
        (
            ["gradient", "tests.test_options:scaled", "--at", "1,2", "--kwargs", "{b: 1}"],
            "--kwargs must be a JSON",
        ),
        (
            ["gradient", "tests.test_options:scaled", "--at", "1,2", "--kwargs", "[1]"],
            "--kwargs must be a JSON object",
        ),
    ],
)
def test_the_command_line_refuses_bad_kwargs(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_script_without_a_main_guard_is_told_why_its_pool_broke(tmp_path):
    """workers=N starts fresh interpreters that import the script: unguarded, the pool breaks."""
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text("import dfdx\nprint(dfdx.gradient(sum, [1.0, 2.0], workers=2).value)\n")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("dfdx.evaluation.pools.WorkerError: ")
    assert 'must sit under `if __name__ == "__main__":`' in last
    guarded = tmp_path / "guarded.py"
    guarded.write_text(
        "import dfdx\nif __name__ == '__main__':\n"
        "    print(dfdx.gradient(sum, [1.0, 2.0], workers=2).value)\n"
    )
    done = subprocess.run([sys.executable, str(guarded)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[1. 1.]"
