"""The seeds' examples, redone in examples/, run and come out better than the seeds."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    return runpy.run_path(str(EXAMPLES / name))


def test_seed_tutorial_example(capsys):
    difference = load("seed_tutorial.py")["main"]()
    assert difference < 1.89e-11 / 10
    assert "Analytical gradient: [-2.  2.]" in capsys.readouterr().out


def test_seed_tutorial_example_draws_the_picture(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("dfdx.plot")
    out = tmp_path / "contour.png"
    load("seed_tutorial.py")["main"](str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seed_answer_example_beats_the_text():
    errors = load("seed_answer.py")["main"]()
    assert errors["dfdx central (default)"] < errors["central, h = sqrt(eps) (the text)"] / 100
    assert errors["dfdx forward"] < errors["forward, h = 1e-6 (the text)"]
    assert errors["dfdx complex step"] <= 2 * np.finfo(float).eps
