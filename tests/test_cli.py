"""The command line: every subcommand, the output formats, the exit codes and the errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dfdx
from dfdx.cli import main
from tests.bank import PROBLEMS, problem

SEED = "(2*w1 + 3*w2 - 5)**2 + (w1 - w2 - 1)**2"
SEED_GRADIENT = "10*w1 + 10*w2 - 22, 10*w1 + 20*w2 - 28"


def run(capsys, *argv):
    """(exit code, stdout, stderr) of ``dfdx argv``."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    """The JSON document of a successful ``dfdx argv --json``, its ``result`` merged in at the top."""
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["schema"] == 1 and data["exit_code"] == 0 and data["error"] is None
    return {**data, **data.get("result", {})}


def needs(option, **kwargs):
    """Skip while `option` is not implemented by the library (the test runs once it is)."""
    try:
        dfdx.gradient(lambda x: x[0] ** 2, [1.0], **kwargs)
    except NotImplementedError:
        pytest.skip(f"`{option}` is not implemented in this version of dfdx")


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    """A directory with a user module ``model.py``, made the current directory."""
    (tmp_path / "model.py").write_text(
        textwrap.dedent("""
        import numpy as np

        def loss(w):
            return (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2

        def loss_grad(w):
            return np.array([10 * w[0] + 10 * w[1] - 22, 10 * w[0] + 20 * w[1] - 28])

        def wrong_grad(w):
            return loss_grad(w) * np.array([1.0, 1.001])

        def residuals(x):
            return np.array([x[0] * x[1], np.sin(x[0])])

        def broken(w):
            raise ZeroDivisionError("the model divided by zero")

        NOT_A_FUNCTION = 3
    """)
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    sys.modules.pop("model", None)


# --- derivative, gradient, jacobian, hessian ------------------------------------------------


def test_gradient_of_the_seed_expression_prints_a_table(capsys):
    code, out, err = run(capsys, "gradient", SEED, "--at", "w1=1,w2=1")
    assert code == 0 and err == ""
    assert out.startswith(f"gradient of {SEED} at w1 = 1, w2 = 1\n")
    assert "df/dw1  -2.0000000000" in out and "df/dw2   2.0000000000" in out
    assert "status SUCCESS" in out and "evaluations of f" in out


def test_gradient_json_matches_the_analytic_gradient_within_its_error(capsys):
    data = run_json(capsys, "gradient", SEED, "--at", "w1=1,w2=1")
    assert data["variables"] == ["w1", "w2"] and data["status"] == "SUCCESS" and data["success"]
    truth = np.array([-2.0, 2.0])
    assert np.all(np.abs(np.array(data["value"]) - truth) <= np.array(data["error"]))
    assert data["method"] == "central" and data["nfev"] >= 5 and len(data["step"]) == 2


@pytest.mark.parametrize("p", [p for p in PROBLEMS if "scaled" not in p.tags], ids=lambda p: p.name)
def test_gradient_of_every_bank_expression_against_sympy(capsys, p):
    at = ",".join(f"x{i}={v!r}" for i, v in enumerate(p.point))
    data = run_json(capsys, "gradient", str(p.expr), "--at", at)
    order = [int(name[1:]) for name in data["variables"]]
    np.testing.assert_allclose(data["value"], p.exact_gradient[order], rtol=1e-8, atol=1e-8)


def test_point_order_follows_at_not_the_expression(capsys):
    data = run_json(capsys, "gradient", "x**2 + 3*y", "--at", "y=5,x=2")
    assert data["variables"] == ["y", "x"]
    np.testing.assert_allclose(data["value"], [3.0, 4.0], rtol=1e-10)


def test_jacobian_of_a_vector_expression(capsys):
    code, out, _ = run(capsys, "jacobian", "x*y, sin(x) + y**2", "--at", "x=1,y=2")
    assert code == 0 and "f0 = x*y" in out and "f1 = sin(x) + y**2" in out and "df1/dx" in out
    data = run_json(capsys, "jacobian", "x*y, sin(x) + y**2", "--at", "x=1,y=2")
    np.testing.assert_allclose(data["value"], [[2.0, 1.0], [np.cos(1.0), 4.0]], rtol=1e-10)


def test_derivative_at_several_points_and_higher_order(capsys):
    data = run_json(capsys, "derivative", "sin(x)", "--at", "0,pi/2,pi", "-n", "2")
    np.testing.assert_allclose(data["value"], -np.sin([0, np.pi / 2, np.pi]), atol=1e-8)
    code, out, _ = run(capsys, "derivative", "sin(x)", "--at", "x=pi/2", "-n", "2")
    assert code == 0 and "d^2f/dx^2 at x = 1.5708" in out


def test_derivative_of_the_lyness_moler_function_by_each_method(capsys):
    p = problem("lyness_moler")
    for method in ("central", "forward", "backward", "complex"):
        data = run_json(capsys, "derivative", str(p.expr), "--at", "x0=1.5", "--method", method)
        assert data["method"] == method
        np.testing.assert_allclose(data["value"], 4.053427893898620657714, rtol=1e-6)


def test_accuracy_and_step_options_reach_the_library(capsys):
    data = run_json(capsys, "gradient", SEED, "--at", "w1=1,w2=1", "--accuracy", "2", "--step", "1e-3,2e-3")
    assert data["accuracy"] == 2 and data["step"] == [(x + h) - x for x, h in ((1.0, 1e-3), (1.0, 2e-3))]
    data = run_json(capsys, "gradient", SEED, "--at", "w1=1,w2=1", "--step", "2**-10")
    assert data["step"] == [2**-10, 2**-10]


def test_negative_values_after_at_are_not_taken_for_options(capsys):
    data = run_json(capsys, "gradient", "x**2", "--at", "-1.5")
    np.testing.assert_allclose(data["value"], [-3.0], rtol=1e-10)
    data = run_json(capsys, "gradient", "x*y", "--at", "x=1,y=-2")
    np.testing.assert_allclose(data["value"], [-2.0, 1.0], rtol=1e-10)


def test_module_function_target(capsys, module_dir):
    data = run_json(capsys, "gradient", "model:loss", "--at", "1,1")
    assert data["variables"] == ["x[0]", "x[1]"]
    np.testing.assert_allclose(data["value"], [-2.0, 2.0], rtol=1e-10)
    data = run_json(capsys, "gradient", "model:loss", "--at", "w1=1,w2=1")
    assert data["variables"] == ["w1", "w2"]
    data = run_json(capsys, "jacobian", "model:residuals", "--at", "1,2")
    np.testing.assert_allclose(data["value"], [[2.0, 1.0], [np.cos(1.0), 0.0]], atol=1e-10)


def test_workers_give_the_same_numbers_as_serial(capsys, module_dir):
    for target, at in ((SEED, "w1=1,w2=1"), ("model:loss", "1,1")):
        serial = run_json(capsys, "gradient", target, "--at", at)
        parallel = run_json(capsys, "gradient", target, "--at", at, "--workers", "2")
        assert parallel["value"] == serial["value"] and parallel["error"] == serial["error"]


def test_adaptive_option(capsys):
    needs("adaptive", adaptive=True)
    data = run_json(capsys, "gradient", SEED, "--at", "w1=1,w2=1", "--adaptive", "--rtol", "1e-10")
    np.testing.assert_allclose(data["value"], [-2.0, 2.0], rtol=1e-10)


@pytest.mark.parametrize("noise", ["1e-6", "auto"])
def test_noise_option(capsys, noise):
    needs("noise", noise=1e-6 if noise != "auto" else "auto")
    data = run_json(capsys, "gradient", SEED, "--at", "w1=1,w2=1", "--noise", noise)
    np.testing.assert_allclose(data["value"], [-2.0, 2.0], rtol=1e-4)

    def seed_loss(w):
        return (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2

    level = dfdx.gradient(seed_loss, [1.0, 1.0], noise=1e-6 if noise != "auto" else "auto").noise
    assert data["noise"] == pytest.approx(level)  # the level used, the estimated one with 'auto'


def test_the_noise_level_used_is_printed(capsys):
    code, out, _ = run(capsys, "gradient", SEED, "--at", "w1=1,w2=1", "--noise", "1e-6")
    assert code == 0 and "method central, accuracy 4, noise level 1e-06, " in out
    code, out, _ = run(capsys, "gradient", SEED, "--at", "w1=1,w2=1")
    assert code == 0 and "noise" not in out
    assert run_json(capsys, "gradient", SEED, "--at", "w1=1,w2=1")["noise"] is None


def test_progress_option(capsys):
    needs("progress", progress=True)
    data = run_json(capsys, "gradient", SEED, "--at", "w1=1,w2=1", "--progress")
    np.testing.assert_allclose(data["value"], [-2.0, 2.0], rtol=1e-10)


def test_hessian(capsys):
    try:
        dfdx.hessian(lambda x: x[0] ** 2, [1.0])
    except NotImplementedError:
        pytest.skip("dfdx.hessian is not implemented in this version")
    data = run_json(capsys, "hessian", SEED, "--at", "w1=1,w2=1")
    np.testing.assert_allclose(data["value"], [[10.0, 10.0], [10.0, 20.0]], rtol=1e-6)
    code, out, _ = run(capsys, "hessian", SEED, "--at", "w1=1,w2=1")
    assert code == 0 and "d2f/dw1 dw2" in out


def test_a_failed_differentiation_exits_1_with_the_status(capsys):
    code, out, _ = run(capsys, "derivative", "sqrt(x) * log(x)", "--at", "x=-1")
    assert code == 1 and "status NONFINITE: f(x) itself is nan." in out


def test_the_status_line_names_the_entries_affected(capsys):
    code, out, _ = run(capsys, "gradient", "log(x-1) + sqrt(y)", "--at", "x=2,y=0")
    assert code == 1 and "status NOT_DIFFERENTIABLE" in out and out.rstrip().endswith("Entries: 1.")


# --- errors: one line, exit code 2, no traceback unless --debug -----------------------------

ERRORS = [
    (
        ["gradient", "np.sin(x)", "--at", "x=1"],
        r"in the expression: only calls of plain function names .*`np.sin`",
    ),
    (["gradient", "x**9**9", "--at", "x=1"], r"the exponent is absurdly large"),
    (["gradient", "x*y", "--at", "1,2"], r"name the values of `--at` .* e.g. --at x=1,y=1"),
    (["gradient", "x*y", "--at", "x=1"], r"`--at` gives no value for y"),
    (["gradient", "x", "--at", "x=1,z=2"], r"`--at` names z, which the expression does not use"),
    (["gradient", "x", "--at", "x=1,2"], r"`--at` mixes named and unnamed values"),
    (
        ["derivative", "sin(x)", "--at", "x=1,2,3"],
        r"name them all \(w1=1,w2=2\), or, for `derivative` at several points, "
        r"give the values alone \(1,2,3\)",
    ),
    (["gradient", "x*y", "--at", "x=1,2,y=3"], r"name them all \(w1=1,w2=2\)$"),
    (["gradient", "x", "--at", "x=1,x=2"], r"`--at` gives x twice"),
    (["gradient", "x", "--at", "x=foo"], r"in `--at x=`: 'foo' is not a number"),
    (["gradient", "x", "--at", ""], r"`--at` needs values"),
    (["gradient", "2 + 3", "--at", "x=1"], r"has no variables; nothing to differentiate"),
    (["gradient", "x", "--at", "x=1", "--noise", "loud"], r"in `--noise \(a number or 'auto'\)`"),
    (["gradient", "x", "--at", "x=1", "--step", "-1"], r"ValueError: `step` must be positive"),
    (["gradient", "x, 2*x", "--at", "x=1"], r"ValueError: `f` must return a scalar for gradient"),
    (["derivative", "x*y", "--at", "x=1,y=1"], r"`derivative` needs a scalar expression in one variable"),
    (["gradient", "x"], r"the following arguments are required: --at \(see dfdx gradient --help\)"),
    (["gradient", "x", "--at", "1", "--method", "magic"], r"argument --method: invalid choice"),
    (["gradient", "x", "--at", "1", "--workers", "0"], r"expected a positive integer, got 0"),
    (["frobnicate"], r"invalid choice: 'frobnicate'"),
    (["plot", "contour", "x*y", "--at", "x=1,y=1", "-o", "out.jpg"], r"`-o` must end in .png, .svg or .pdf"),
    (["demo", "-o", "demo.gif"], r"`-o` must end in .png, .svg or .pdf"),
]


@pytest.mark.parametrize(
    ("argv", "message"), ERRORS, ids=lambda a: " ".join(a) if isinstance(a, list) else ""
)
def test_user_mistakes_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert re.search(message, err), err


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "nosuchmodule:f",
            r"cannot import `nosuchmodule` .*run dfdx from the directory that holds nosuchmodule.py",
        ),
        ("model:missing", r"`model` has no attribute `missing`"),
        ("model:NOT_A_FUNCTION", r"`model:NOT_A_FUNCTION` is not a function \(it is a int\)"),
        (
            "model:broken",
            r"ZeroDivisionError: the model divided by zero \(dfdx: raised by f at x = \[1\.0, 1\.0\]\)",
        ),
    ],
)
def test_module_errors(capsys, module_dir, target, message):
    code, _, err = run(capsys, "gradient", target, "--at", "1,1")
    assert code == 2 and len(err.strip().splitlines()) == 1 and re.search(message, err), err


def test_debug_shows_the_traceback(capsys, module_dir):
    code, _, err = run(capsys, "gradient", "model:broken", "--at", "1,1", "--debug")
    assert code == 2 and "Traceback (most recent call last)" in err and "ZeroDivisionError" in err


def test_unimplemented_features_are_reported_not_raised(capsys, monkeypatch):
    def not_yet(*args, **kwargs):
        raise NotImplementedError("`adaptive` is not implemented yet.")

    monkeypatch.setattr(dfdx._api, "gradient", not_yet)
    code, _, err = run(capsys, "gradient", "x", "--at", "1", "--adaptive")
    assert code == 2 and "NotImplementedError: `adaptive` is not implemented yet." in err


COMMANDS = [
    ["derivative"],
    ["gradient"],
    ["jacobian"],
    ["hessian"],
    ["check"],
    ["plot"],
    ["plot", "contour"],
    ["plot", "step-error"],
    ["demo"],
    [],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "dfdx")
def test_help_on_every_command_has_an_example(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0 and "example:\n  dfdx " in out and "usage: dfdx" in out


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"dfdx {dfdx.__version__}"


def test_python_dash_m_entry_point(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.abspath("src"), *sys.path]))
    proc = subprocess.run(
        [sys.executable, "-m", "dfdx", "gradient", "x**2 + y", "--at", "x=3,y=0", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(json.loads(proc.stdout)["result"]["value"], [6.0, 1.0], rtol=1e-10)
    # Spawned worker processes import dfdx.__main__ again; it must not rerun the command.
    proc = subprocess.run(
        [sys.executable, "-m", "dfdx", "gradient", "x**2 + y", "--at", "x=3,y=0", "--workers", "2"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.count("gradient of") == 1, proc.stdout + proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "dfdx", "gradient", "__import__('os')", "--at", "x=1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "unknown function" in proc.stderr


# --- check ------------------------------------------------------------------------------------


def test_check_passes_and_fails(capsys, module_dir):
    pytest.importorskip("dfdx.check")
    code, out, _ = run(capsys, "check", "model:loss", "model:loss_grad", "--at", "1,1")
    assert code == 0 and out.strip()
    code, out, _ = run(capsys, "check", "model:loss", "model:wrong_grad", "--at", "0.3,0.7")
    assert code == 1 and out.strip()
    code, out, _ = run(capsys, "check", SEED, SEED_GRADIENT, "--at", "w1=1,w2=1", "--json")
    assert code == 0 and json.loads(out)["passed"] is True
    code, out, _ = run(
        capsys,
        "check",
        "model:loss",
        "model:loss_grad",
        "--at",
        "1,1",
        "--mode",
        "directional",
        "--seed",
        "3",
    )
    assert code == 0 and out.strip()
    code, out, _ = run(capsys, "check", "x**2 + y", "2*x, 2", "--at", "x=1,y=1", "--json")
    assert code == 1 and json.loads(out)["passed"] is False and json.loads(out)["report"]


def test_check_reports_bad_input(capsys, monkeypatch):
    code, _, err = run(capsys, "check", "x**2 + y", "2*x, 1", "--at", "1,1")
    assert code == 2 and "name the values of `--at`" in err


# --- plot and demo ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["contour.png", "contour.svg", "contour.pdf"])
def test_plot_contour_writes_the_file(capsys, tmp_path, name):
    pytest.importorskip("matplotlib")
    pytest.importorskip("dfdx.plot")
    output = tmp_path / name
    code, out, err = run(
        capsys,
        "plot",
        "contour",
        SEED,
        "--at",
        "w1=1,w2=1",
        "-o",
        str(output),
        "--extent",
        "-1,3,-1,3",
        "--field",
    )
    assert code == 0, err
    assert output.stat().st_size > 1000 and str(output) in out
    magic = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}[output.suffix]
    assert output.read_bytes().startswith(magic)


def test_plot_step_error_writes_the_file(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("dfdx.plot")
    output = tmp_path / "steps.png"
    code, _, err = run(
        capsys,
        "plot",
        "step-error",
        str(problem("lyness_moler").expr),
        "--at",
        "x0=1.5",
        "-o",
        str(output),
        "--exact",
        "4.053427893898620657714",
    )
    assert code == 0, err
    assert output.read_bytes().startswith(b"\x89PNG")


def test_demo_prints_the_seed_comparison(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "demo")
    assert code == 0
    assert "dfdx" in out and "analytic" in out and "difference" in out and "error est." in out
    assert "the error estimate covers the true difference" in out
    if (tmp_path / "dfdx-demo.png").exists():
        assert f"is in {tmp_path / 'dfdx-demo.png'}" in out
    else:
        assert "No picture:" in out


def test_demo_writes_the_picture(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("dfdx.plot")
    output = tmp_path / "seed.svg"
    code, out, _ = run(capsys, "demo", "-o", str(output))
    assert code == 0 and output.read_bytes().startswith(b"<?xml") and str(output) in out


def test_demo_without_matplotlib_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "demo")
    assert code == 0 and "pip install 'dfdx[plot]'" in out and not (tmp_path / "dfdx-demo.png").exists()
    code, _, err = run(capsys, "plot", "contour", SEED, "--at", "w1=1,w2=1", "-o", "c.png")
    assert code == 2 and "pictures need matplotlib: pip install 'dfdx[plot]'" in err


def test_demo_json(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = run_json(capsys, "demo")
    assert data["analytic"] == [-2.0, 2.0] and data["covered"] is True
    np.testing.assert_allclose(data["value"], [-2.0, 2.0], rtol=1e-12)


# --- hostile command lines: an exit code, never an exception -----------------------------------

_PIECES = [
    "x",
    "y",
    "1",
    "-",
    "**",
    "9",
    "(",
    ")",
    ",",
    "=",
    "__import__('os')",
    "pi",
    "sin(",
    ".",
    "'",
    " ",
    "e",
]


@settings(max_examples=150, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.one_of(st.text(max_size=30), st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)),
    at=st.one_of(st.text(max_size=20), st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)),
    command=st.sampled_from(["derivative", "gradient", "jacobian"]),
)
def test_random_command_lines_end_with_an_exit_code(capsys, target, at, command):
    code = main([command, target, "--at", at])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2)
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_reader_that_stops_early_is_not_an_error(tmp_path):
    """``dfdx ... | head``: the closed pipe ends the command quietly, as SIGPIPE would."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.abspath("src"), *sys.path]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "dfdx", "gradient", "x**2 + y", "--at", "x=3,y=0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before dfdx has written anything
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141, err
    assert err == ""
