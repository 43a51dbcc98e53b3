"""The pictures in docs/img/ are what the code beside them draws today.

docs/make_figures.py draws them from the README's quickstart and the gallery's scripts;
here they are drawn again and compared with the committed files, pixel by pixel (RMS
difference, as matplotlib's own image tests do). When a change to dfdx.plot changes a
picture, rerun ``python docs/make_figures.py`` and commit the result.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("matplotlib")
compare = pytest.importorskip("matplotlib.testing.compare")


def _make_figures():
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "docs" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    return _make_figures().draw(tmp_path_factory.mktemp("img"))


@pytest.mark.parametrize("name", ["contour.png", "step_error.png"])
def test_committed_picture_is_what_the_code_draws(drawn, name):
    (fresh,) = [p for p in drawn if p.name == name]
    committed = ROOT / "docs" / "img" / name
    assert committed.exists(), f"docs/img/{name} is missing: run python docs/make_figures.py"
    result = compare.compare_images(str(committed), str(fresh), tol=1.0)
    assert result is None, f"docs/img/{name} is stale (run python docs/make_figures.py): {result}"


#: Pictures of measurements (times, memory) drawn by their own scripts, run by hand: a
#: redraw would differ with the machine, so they are not compared.
MEASURED = {"sparse_scaling.png"}  # docs/sparse_scaling.py


def test_the_pages_show_only_pictures_that_are_drawn(drawn):
    shown = {p.name for p in (ROOT / "docs" / "img").iterdir()}
    assert shown - MEASURED == {p.name for p in drawn}
    assert all((ROOT / "docs" / "img" / name).exists() for name in MEASURED)
