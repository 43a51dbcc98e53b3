"""The seeds' examples, redone in examples/, run and come out better than the seeds."""

from __future__ import annotations

import runpy
import sys
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


GALLERY = sorted(EXAMPLES.glob("plot_*.py"))


@pytest.fixture
def from_examples(monkeypatch):
    """Run from examples/, as its README says; its `model` module is forgotten afterwards."""
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delitem(sys.modules, "model", raising=False)
    yield
    sys.modules.pop("model", None)


@pytest.mark.parametrize("script", GALLERY, ids=[p.name for p in GALLERY])
def test_gallery_script_draws_a_figure(script, monkeypatch, from_examples):
    """Each gallery script runs from examples/ (as the site's build does) and draws."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    runpy.run_path(str(script), run_name="__main__")
    try:
        assert plt.get_fignums(), f"{script.name} drew nothing"
        assert plt.gcf().axes[0].has_data()
    finally:
        plt.close("all")


@pytest.mark.parametrize("script", GALLERY, ids=[p.name for p in GALLERY])
def test_gallery_script_has_a_titled_docstring(script):
    """sphinx-gallery takes the title from the docstring's first lines: text over ====."""
    import ast

    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")), clean=True)
    title, underline, *_ = doc.splitlines()
    assert title and underline == "=" * len(title)


def test_model_for_the_command_line(capsys, from_examples):
    """The README's `dfdx check model:loss ...` commands, run from examples/."""
    from dfdx.cli import main

    assert main(["check", "model:loss", "model:loss_grad", "--at", "1,1"]) == 0
    assert main(["check", "model:loss", "model:bad_grad", "--at", "1,1"]) == 1
    assert "MISMATCH" in capsys.readouterr().out
