"""The command line's edges: JSON for every outcome, the options of `check`, constant
gradients, expressions that start with a minus sign, and literals too small for float64."""

from __future__ import annotations

import json
import re
import textwrap

import numpy as np
import pytest

import dfdx
from dfdx.cli import main
from dfdx.cli.output import COMMON_KEYS, SCHEMA

SEED = "(2*w1 + 3*w2 - 5)**2 + (w1 - w2 - 1)**2"
SEED_GRADIENT = "10*w1 + 10*w2 - 22, 10*w1 + 20*w2 - 28"
BAD_GRADIENT = "10*w1 + 10*w2 - 22, 10*w1 + 20*w2 - 28.01"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def seed_loss(w):
    return (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2


def seed_grad(w):
    return np.array([10 * w[0] + 10 * w[1] - 22, 10 * w[0] + 20 * w[1] - 28])


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    (tmp_path / "jmodel.py").write_text(
        textwrap.dedent("""
        def broken(w):
            raise ZeroDivisionError("the model divided by zero")
        """)
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


# --- one JSON document per outcome ------------------------------------------------------------

OUTCOMES = [
    (["gradient", SEED, "--at", "w1=1,w2=1"], 0, None),
    (["derivative", "1/x", "--at", "x=0"], 1, None),
    (["check", SEED, BAD_GRADIENT, "--at", "w1=1,w2=1"], 1, None),
    (["gradient", "x.__class__", "--at", "x=1"], 2, "usage"),
    (["gradient", "x"], 2, "usage"),
    (["frobnicate"], 2, "usage"),
    (["derivative", "x*1e-400", "--at", "x=1"], 2, "usage"),
    (["gradient", "jmodel:broken", "--at", "1,1"], 2, "ZeroDivisionError"),
    (["check", SEED, "3", "--at", "w1=1,w2=1"], 2, "usage"),
]


@pytest.mark.parametrize(
    ("argv", "code", "error"), OUTCOMES, ids=lambda a: " ".join(a) if isinstance(a, list) else ""
)
def test_every_outcome_is_one_json_document(capsys, module_dir, argv, code, error):
    got, out, err = run(capsys, *argv, "--json")
    assert got == code, err
    data = json.loads(out)  # exactly one document: json.loads refuses trailing text
    assert list(data)[: len(COMMON_KEYS)] == list(COMMON_KEYS)
    assert data["schema"] == SCHEMA and data["exit_code"] == code
    if error is None:
        assert data["error"] is None
    else:
        assert data["error"]["type"] == error and data["error"]["message"]
        assert data["error"]["message"] in err  # the same message as the text on stderr
        assert set(data) == set(COMMON_KEYS)
    assert data["command"] == (None if argv[0] == "frobnicate" else argv[0])


def test_a_failed_differentiation_in_json_carries_the_result(capsys):
    code, out, _ = run(capsys, "derivative", "1/x", "--at", "x=0", "--json")
    data = json.loads(out)
    assert code == 1 and data["command"] == "derivative" and data["result"]["success"] is False
    assert data["result"]["value"] is None and data["result"]["status"] == "NONFINITE"


def test_check_json_is_the_structured_report(capsys):
    code, out, _ = run(capsys, "check", SEED, BAD_GRADIENT, "--at", "w1=1,w2=1", "--json")
    data = json.loads(out)

    def bad_grad(w):
        return np.array([10 * w[0] + 10 * w[1] - 22, 10 * w[0] + 20 * w[1] - 28.01])

    expected = dfdx.check_gradient(seed_loss, bad_grad, np.array([1.0, 1.0])).to_dict()
    assert code == 1 and data["passed"] is False
    assert data["report"]["verdict"] == "fail" and data["report"]["mismatches"] == [[1]]
    assert data["report"] == expected
    assert (data["function"], data["gradient"], data["variables"]) == (SEED, BAD_GRADIENT, ["w1", "w2"])


def test_plot_and_demo_json(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out_file = tmp_path / "c.png"
    code, out, _ = run(capsys, "plot", "contour", SEED, "--at", "w1=1,w2=1", "-o", str(out_file), "--json")
    data = json.loads(out)
    assert code == 0 and data["command"] == "plot" and data["picture"] == "contour"
    assert data["output"] == str(out_file) and out_file.stat().st_size > 0
    code, out, _ = run(capsys, "demo", "-o", str(tmp_path / "d.png"), "--json")
    data = json.loads(out)
    assert code == 0 and data["result"]["covered"] is True and data["error"] is None


# --- check's options --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "options"),
    [
        (["--adaptive"], dict(adaptive=True)),
        (["--adaptive", "--max-steps", "4"], dict(adaptive=True, max_steps=4)),
        (["--noise", "1e-9"], dict(noise=1e-9)),
        (["--noise", "auto"], dict(noise="auto")),
        (["--progress"], dict(progress=True)),
    ],
)
def test_check_options_reach_check_gradient(capsys, flags, options):
    code, out, err = run(capsys, "check", SEED, SEED_GRADIENT, "--at", "w1=1,w2=1", "--json", *flags)
    assert code == 0, err
    report = json.loads(out)["report"]
    expected = dfdx.check_gradient(seed_loss, seed_grad, np.array([1.0, 1.0]), **options)
    assert report["nfev"] == expected.nfev
    plain = dfdx.check_gradient(seed_loss, seed_grad, np.array([1.0, 1.0]))
    if "progress" not in options:
        assert report["nfev"] != plain.nfev  # the option changed the numerical side
    else:
        assert "f evaluations" in err


def test_check_rtol_loosens_the_check_and_says_so(capsys):
    _, help_text, _ = run(capsys, "check", "--help")
    assert "relative tolerance of --adaptive" not in help_text
    assert "add RTOL x |analytic entry| to every entry's tolerance" in help_text
    assert run(capsys, "check", SEED, BAD_GRADIENT, "--at", "w1=1,w2=1")[0] == 1
    code, out, _ = run(capsys, "check", SEED, BAD_GRADIENT, "--at", "w1=1,w2=1", "--rtol", "1e-2")
    assert code == 0 and "+ rtol 0.01 x |g_i|" in out  # the report names the loosening
    # With --adaptive, --rtol stays the check's allowance (adaptive keeps its defaults).
    code, out, err = run(
        capsys, "check", SEED, SEED_GRADIENT, "--at", "w1=1,w2=1", "--adaptive", "--rtol", "1e-3"
    )
    assert code == 0, err


# --- gradients, minus signs, literals ---------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "gradient", "at", "code"),
    [
        ("3*x", "3", "x=1", 0),
        ("3*x", "4", "x=1", 1),
        ("x**2", "2*x", "x=1.5", 0),
        ("x**2 + 2*y", "2*x, 2", "x=1,y=3", 0),
        ("x + y", "1, 1", "x=1,y=3", 0),
    ],
)
def test_constant_and_one_variable_gradients(capsys, function, gradient, at, code):
    got, out, err = run(capsys, "check", function, gradient, "--at", at)
    assert got == code, err + out


def test_a_gradient_with_the_wrong_number_of_components_is_named(capsys):
    code, _, err = run(capsys, "check", "x**2 + y**2", "2*x", "--at", "x=1,y=1")
    assert code == 2
    assert "the gradient '2*x' has 1 component, but the function has 2 variables (x, y)" in err
    code, _, err = run(capsys, "check", "x**2", "2*x + z", "--at", "x=1")
    assert code == 2 and "the gradient uses z, which `--at` does not give" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["derivative", "-sin(x)", "--at", "x=1"], -np.cos(1.0)),
        (["derivative", "-sin(x)", "--at", "x=1", "-n", "2"], np.sin(1.0)),
        (["derivative", "-x**3", "--at", "-2"], -12.0),
        (["derivative", "-x", "--at", "x=2"], -1.0),
        (["gradient", "-x*y", "--at", "x=2,y=3"], [-3.0, -2.0]),
        (["derivative", "-1*x**2", "--at", "x=2"], -4.0),
        (["derivative", "-.5*x", "--at", "x=1"], -0.5),
        (["derivative", "-sin(x)", "--at", "x=1", "-n2"], np.sin(1.0)),
    ],
)
def test_expressions_that_start_with_a_minus(capsys, argv, expected):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["target"] == argv[1]
    np.testing.assert_allclose(data["result"]["value"], expected, rtol=1e-9)


def test_an_unknown_option_is_still_an_error(capsys):
    code, _, err = run(capsys, "gradient", "x", "--at", "x=1", "--frobnicate")
    assert code == 2 and "unrecognized arguments: --frobnicate" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["derivative", "x*1e-400", "--at", "x=1"], r"too small for float64: it underflows to zero"),
        (["derivative", "x + 3e-320", "--at", "x=1"], r"underflows to a subnormal number"),
        (["derivative", "x", "--at", "x=1e-400"], r"in `--at x=`: this number is too small for float64"),
    ],
)
def test_underflowing_literals_are_refused(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert re.search(message, err), err


def test_a_zero_written_with_an_exponent_is_fine(capsys):
    code, out, err = run(capsys, "derivative", "x + 0e-500 + 0.0", "--at", "x=1", "--json")
    assert code == 0 and json.loads(out)["result"]["value"] == pytest.approx(1.0)
