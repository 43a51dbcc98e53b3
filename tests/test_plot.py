"""Tests of dfdx.plot: every picture is drawn with Agg, saved, and checked through its artists."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dfdx

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

import dfdx.plot  # noqa: E402
from dfdx.plot.report import FAIL_COLOR, PASS_COLOR, relative_error  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[1]
LM_EXACT = 4.053427893898620657714


def loss(w):
    return (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2


def loss_gradient(w):
    return np.array([10 * w[0] + 10 * w[1] - 22, 10 * w[0] + 20 * w[1] - 28])


def lyness_moler(x):
    return np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def save_png(ax, tmp_path, name="picture.png"):
    path = tmp_path / name
    ax.figure.savefig(path)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 5000
    image = plt.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    return image


def by_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def unit(v):
    v = np.asarray(v, dtype=float)
    return v / np.hypot(*v)


# --- lazy import and the missing extra ------------------------------------------------


def run_python(code):
    env = {"PYTHONPATH": str(ROOT / "src"), "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_dfdx_or_dfdx_plot_does_not_import_matplotlib():
    code = (
        "import sys, dfdx, dfdx.plot\n"
        "from dfdx import plot\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'mpl_toolkits')))\n"
        "plot.contour(lambda w: w[0] ** 2 + w[1] ** 2, [1.0, 0.5])\n"
        "print('matplotlib.pyplot' in sys.modules)"
    )
    assert run_python(code).splitlines() == ["[]", "True"]


def test_dfdx_does_not_import_its_plot_module():
    assert run_python("import sys, dfdx; print('dfdx.plot' in sys.modules)") == "False"


@pytest.mark.parametrize(
    "draw",
    [
        lambda: dfdx.plot.contour(loss, [1.0, 1.0]),
        lambda: dfdx.plot.step_error(np.sin, 1.0),
        lambda: dfdx.plot.check(SimpleNamespace(analytic=[1.0], numeric=[1.0], tolerance=1e-8, passed=True)),
    ],
)
def test_missing_matplotlib_names_the_extra(monkeypatch, draw):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "dfdx\[plot\]"'):
        draw()


def test_plot_extra_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'plot = ["matplotlib' in text


# --- contour ------------------------------------------------------------------------------


def test_seed_contour_arrow_starts_at_point_along_gradient(tmp_path):
    ax = dfdx.plot.contour(loss, [1.0, 1.0], names=("w1", "w2"))
    (arrow,) = by_gid(ax.texts, "gradient")
    tail, head = np.array(arrow.xyann), np.array(arrow.xy)
    np.testing.assert_allclose(tail, [1.0, 1.0])
    np.testing.assert_allclose(unit(head - tail), unit([-2.0, 2.0]), atol=1e-12)
    # The seed's range [-1, 3]^2 by default, square, and the arrow 22 % of a side long.
    assert ax.get_xlim() == (-1.0, 3.0) and ax.get_ylim() == (-1.0, 3.0)
    assert ax.get_aspect() == 1.0
    assert np.hypot(*(head - tail)) == pytest.approx(0.22 * 4)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("w1", "w2")
    assert "gradient" in ax.get_title() and "(1, 1)" in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("(\u22122, 2)" in t for t in legend)
    assert len(ax.figure.axes) == 2  # the colour bar
    assert ax.figure.axes[1].get_ylabel() == "loss(w1, w2)"
    save_png(ax, tmp_path)


def test_arrow_is_perpendicular_to_the_level_line_through_the_point():
    f = lambda w: w[0] ** 2 + np.sin(w[1]) + 0.3 * w[0] * w[1]  # noqa: E731
    x = np.array([1.0, 2.0])
    grad = np.array([2 * x[0] + 0.3 * x[1], np.cos(x[1]) + 0.3 * x[0]])
    ax = dfdx.plot.contour(f, x, extent=(-1, 3, 0, 4), resolution=301)
    (arrow,) = by_gid(ax.texts, "gradient")
    direction = unit(np.subtract(arrow.xy, arrow.xyann))
    np.testing.assert_allclose(direction, unit(grad), atol=1e-10)
    (level,) = by_gid([c for c in ax.collections if isinstance(c, ContourSet)], "level")
    (path,) = [p for p in level.get_paths() if len(p.vertices)]
    vertices = path.vertices
    i = int(np.argmin(np.hypot(*(vertices - x).T)))
    assert np.hypot(*(vertices[i] - x)) < 0.02  # the line passes through x
    tangent = unit(vertices[min(i + 2, len(vertices) - 1)] - vertices[max(i - 2, 0)])
    assert abs(tangent @ direction) < 0.02


finite = st.floats(-50, 50, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


@settings(max_examples=15, deadline=None)
@given(a=finite, b=finite, x0=st.floats(-5, 5), x1=st.floats(-5, 5))
def test_arrow_follows_the_gradient_of_any_plane(a, b, x0, x1):
    ax = dfdx.plot.contour(lambda w: a * w[0] + b * w[1] + 1.0, [x0, x1], resolution=11, colorbar=False)
    (arrow,) = by_gid(ax.texts, "gradient")
    np.testing.assert_allclose(arrow.xyann, [x0, x1])
    np.testing.assert_allclose(unit(np.subtract(arrow.xy, arrow.xyann)), unit([a, b]), atol=1e-9)
    plt.close(ax.figure)


def hidden_arrows(quiver):
    """Which arrows of a quiver are masked (not drawn)."""
    if quiver.Umask is np.ma.nomask:
        return np.zeros(quiver.U.size, dtype=bool)
    return np.broadcast_to(np.asarray(quiver.Umask), quiver.U.shape).ravel()


def test_descent_arrow_is_opposite_and_field_matches_the_gradient():
    ax = dfdx.plot.contour(loss, [1.0, 1.0], field=6, descent=True, colorbar=False)
    (up,) = by_gid(ax.texts, "gradient")
    (down,) = by_gid(ax.texts, "descent")
    np.testing.assert_allclose(down.xyann, up.xyann)
    np.testing.assert_allclose(np.subtract(down.xy, down.xyann), -np.subtract(up.xy, up.xyann))
    (quiver,) = by_gid([c for c in ax.collections if isinstance(c, Quiver)], "field")
    assert quiver.U.size == 36
    shown = ~hidden_arrows(quiver)  # arrows under the legend are left out
    exact = loss_gradient(np.array([quiver.X, quiver.Y]))[:, shown]
    arrows = np.array([quiver.U, quiver.V])[:, shown]
    ratio = arrows / exact  # one common positive factor: the direction and the relative size
    np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-8)
    assert ratio.flat[0] > 0
    assert len(ax.figure.axes) == 1


def test_field_true_is_a_15_by_15_grid_inside_the_extent():
    ax = dfdx.plot.contour(loss, [1.0, 1.0], extent=(0, 2, 0, 1), field=True)
    (quiver,) = by_gid(ax.collections, "field")
    assert quiver.U.size == 225
    assert 0 < quiver.X.min() and quiver.X.max() < 2 and 0 < quiver.Y.min() and quiver.Y.max() < 1
    assert any("on a grid" in t.get_text() for t in ax.get_legend().get_texts())


def test_contour_on_given_axes_uses_them_and_passes_options_to_gradient(tmp_path):
    fig, (left, right) = plt.subplots(1, 2)
    out = dfdx.plot.contour(loss, [1.0, 1.0], ax=right, method="forward", colorbar=False, title="mine")
    assert out is right and len(fig.axes) == 2 and not left.texts
    assert right.get_title() == "mine"
    (arrow,) = by_gid(right.texts, "gradient")
    forward = dfdx.gradient(loss, [1.0, 1.0], method="forward").value
    np.testing.assert_allclose(unit(np.subtract(arrow.xy, arrow.xyann)), unit(forward), rtol=1e-12)
    with pytest.raises(TypeError, match="unexpected keyword"):
        dfdx.plot.contour(loss, [1.0, 1.0], bogus=1)
    save_png(right, tmp_path)


def test_no_arrow_where_the_gradient_vanishes_within_its_error():
    bowl = lambda w: (w[0] - 1) ** 2 + 3 * (w[1] - 0.5) ** 2  # noqa: E731
    ax = dfdx.plot.contour(bowl, [1.0, 0.5], descent=True)
    assert not by_gid(ax.texts, "gradient") and not by_gid(ax.texts, "descent")
    assert any("no arrow" in t.get_text() for t in ax.get_legend().get_texts())


def test_pointwise_and_broadcasting_functions_give_the_same_picture():
    calls = []

    def pointwise(w):
        calls.append(1)
        return float((2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2)

    def summed(w):  # broadcasts, but sums the whole grid: must not be taken as a batch
        return np.sum(np.asarray(w) ** 2)

    a = dfdx.plot.contour(loss, [1.0, 1.0], resolution=21, colorbar=False)
    b = dfdx.plot.contour(pointwise, [1.0, 1.0], resolution=21, colorbar=False)
    assert len(calls) > 21 * 21
    levels = [[c for c in ax.collections if isinstance(c, ContourSet)][0].levels for ax in (a, b)]
    np.testing.assert_allclose(levels[0], levels[1])
    c = dfdx.plot.contour(summed, [1.0, 1.0], resolution=21, colorbar=False)
    top = [col for col in c.collections if isinstance(col, ContourSet)][0].levels.max()
    assert top == pytest.approx(18.0, rel=0.15)  # max of w0^2 + w1^2 on [-1, 3]^2


def test_points_outside_the_domain_of_f_are_holes():
    def f(w):  # scalar code: math.log raises outside its domain
        return math.log(w[0]) + w[1] ** 2

    ax = dfdx.plot.contour(f, [1.0, 1.0], resolution=41)
    (filled,) = [c for c in ax.collections if isinstance(c, ContourSet) and c.filled]
    vertices = np.concatenate([p.vertices for p in filled.get_paths() if len(p.vertices)])
    assert vertices[:, 0].min() > 0  # nothing drawn where w1 <= 0
    (arrow,) = by_gid(ax.texts, "gradient")
    np.testing.assert_allclose(unit(np.subtract(arrow.xy, arrow.xyann)), unit([1.0, 2.0]), atol=1e-10)


def test_default_extent_grows_with_the_point():
    ax = dfdx.plot.contour(lambda w: w[0] ** 2 + w[1] ** 2, [10.0, -4.0], colorbar=False)
    assert ax.get_xlim() == (5.0, 15.0) and ax.get_ylim() == (-9.0, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(x=[1.0, 2.0, 3.0]), ValueError, "`x` must be a point with two coordinates"),
        (dict(names="w1"), ValueError, "`names` must be two names"),
        (dict(names=("a", "b", "c")), ValueError, "`names` must be two names"),
        (dict(extent=(1, 0, 0, 1)), ValueError, r"`extent` must be \(xmin, xmax, ymin, ymax\)"),
        (dict(extent=(0, 1, 0)), ValueError, "`extent` must be"),
        (dict(field=1), ValueError, "`field` must be True, False or a grid size >= 2"),
        (dict(field=2.5), ValueError, "`field` must be True, False or a grid size"),
        (dict(resolution=2), ValueError, "`resolution` must be an integer >= 3"),
        (dict(resolution=50.0), ValueError, "`resolution` must be an integer >= 3"),
        (dict(arrow_length=0), ValueError, r"`arrow_length` must be a fraction of the picture in \(0, 1\]"),
    ],
)
def test_contour_rejects_bad_arguments(kwargs, error, match):
    x = kwargs.pop("x", [1.0, 1.0])
    with pytest.raises(error, match=match):
        dfdx.plot.contour(loss, x, **kwargs)


# --- step_error ---------------------------------------------------------------------------


def curves(ax):
    return [line for line in ax.get_lines() if str(line.get_gid()).startswith("curve:")]


def slope(line, lo, hi):
    h, err = line.get_data()
    keep = (h >= lo) & (h <= hi) & np.isfinite(err)
    return np.polyfit(np.log(h[keep]), np.log(err[keep]), 1)[0]


@pytest.fixture(scope="module")
def lm_picture():
    ax = dfdx.plot.step_error(lyness_moler, 1.5, exact=LM_EXACT)
    yield ax
    plt.close(ax.figure)


def test_step_error_draws_one_curve_per_scheme_with_truncation_slopes(lm_picture, tmp_path):
    ax = lm_picture
    lines = curves(ax)
    assert [line.get_gid() for line in lines] == [
        "curve:forward1",
        "curve:central2",
        "curve:central4",
        "curve:complex2",
    ]
    assert [line.get_label().split("  ")[0] for line in lines] == [
        "forward, order 1",
        "central, order 2",
        "central, order 4",
        "complex step, order 2",
    ]
    # Truncation on the right: slope = order of accuracy.
    assert slope(lines[0], 1e-6, 1e-3) == pytest.approx(1, abs=0.1)
    assert slope(lines[1], 1e-4, 1e-2) == pytest.approx(2, abs=0.15)
    assert slope(lines[2], 3e-3, 3e-2) == pytest.approx(4, abs=0.3)
    assert slope(lines[3], 1e-5, 1e-2) == pytest.approx(2, abs=0.1)
    # Round-off on the left: slope -1 for the differences, nothing for the complex step.
    assert slope(lines[1], 1e-14, 1e-8) == pytest.approx(-1, abs=0.25)
    h, err = lines[3].get_data()
    assert np.all(err[h < 1e-8] <= 4.5e-16)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "step h" in ax.get_xlabel() and "relative error" in ax.get_ylabel()
    save_png(ax, tmp_path)


def test_curves_are_the_differences_computed_by_hand(lm_picture):
    central2, complex2 = curves(lm_picture)[1], curves(lm_picture)[3]
    h, err = central2.get_data()
    right = (h >= 1e-4) & (h <= 1e-1)
    x = 1.5
    step = (x + h[right]) - x  # the step as realised on the grid of floats
    by_hand = (lyness_moler(x + step) - lyness_moler(x - step)) / (2 * step)
    np.testing.assert_allclose(err[right], abs(by_hand - LM_EXACT) / LM_EXACT, rtol=1e-6)
    # REFERENCE.md: the complex-step error is the truncation model f'''h^2 / (6 f') exactly.
    h, err = complex2.get_data()
    near = np.argmin(abs(np.log(h / 1e-2)))
    assert err[near] == pytest.approx(32.1679045137 * h[near] ** 2 / (6 * LM_EXACT), rel=1e-3)


def test_automatic_steps_are_marked_on_each_curve(lm_picture):
    for scheme, (method, accuracy) in zip(
        ("forward1", "central2", "central4", "complex2"),
        (("forward", 1), ("central", 2), ("central", 4), ("complex", 2)),
        strict=True,
    ):
        (marker,) = by_gid(lm_picture.get_lines(), f"auto:{scheme}")
        res = dfdx.derivative(lyness_moler, 1.5, method=method, accuracy=accuracy)
        hx, ey = marker.get_data()
        assert hx[0] == res.step
        expected = max(abs(res.value - LM_EXACT) / LM_EXACT, np.finfo(float).eps / 2)
        assert ey[0] == pytest.approx(expected)
    labels = [t.get_text() for t in lm_picture.get_legend().get_texts()]
    assert "step dfdx chooses" in labels
    assert lm_picture.get_legend().get_title().get_text().startswith("reference: exact")


def test_adaptive_point_is_skipped_until_available_then_drawn(monkeypatch):
    try:
        dfdx.derivative(np.sin, 1.0, adaptive=True)
        available = True
    except NotImplementedError:
        available = False
    ax = dfdx.plot.step_error(np.sin, 1.0, exact=math.cos(1.0), methods=("central",))
    assert bool(by_gid(ax.get_lines(), "adaptive")) == available

    original = dfdx.derivative

    def with_adaptive(f, x, *, adaptive=False, **kw):
        if adaptive:  # stands in for the adaptive mode: a result with its final step
            return original(f, x, method="central", accuracy=8, step=0.01)
        return original(f, x, **kw)

    monkeypatch.setattr(dfdx, "derivative", with_adaptive)
    ax = dfdx.plot.step_error(np.sin, 1.0, exact=math.cos(1.0), methods=("central",))
    (star,) = by_gid(ax.get_lines(), "adaptive")
    res = original(np.sin, 1.0, method="central", accuracy=8, step=0.01)
    assert star.get_xdata()[0] == (1.0 + 0.01) - 1.0  # the step as realised
    assert star.get_ydata()[0] == pytest.approx(max(abs(res.value - math.cos(1)) / math.cos(1), 1.1e-16))
    assert f"{res.nfev} evaluations" in star.get_label()


def test_without_exact_the_reference_is_dfdx_best_estimate_and_says_so():
    ax = dfdx.plot.step_error(lyness_moler, 1.5, methods=("central", "complex"))
    ref = [ax.get_legend().get_title().get_text()]
    assert ref[0].startswith("reference") and "complex step" in ref[0] and "no exact value given" in ref[0]
    value = float(ref[0].split("estimate ")[1].split()[0])
    assert value == pytest.approx(LM_EXACT, rel=1e-15)


def test_non_analytic_f_is_not_trusted_to_the_complex_step():
    f = lambda x: np.abs(x) ** 3  # noqa: E731  the complex step gives 0 here
    ax = dfdx.plot.step_error(f, 1.0)
    ref = [ax.get_legend().get_title().get_text()]
    assert "complex" not in ref[0]
    assert float(ref[0].split("estimate ")[1].split()[0]) == pytest.approx(3.0, rel=1e-10)


def test_scheme_f_cannot_evaluate_is_skipped_with_a_note():
    f = lambda x: math.exp(float(x))  # noqa: E731  no complex input
    ax = dfdx.plot.step_error(f, 0.5, exact=math.exp(0.5))
    assert len(curves(ax)) == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "complex2: f cannot be evaluated" in labels


def test_f_defined_on_one_side_only():
    half = lambda x: np.where(x >= 0, x**2 + x, np.nan)  # noqa: E731  f'(0) = 1
    ax = dfdx.plot.step_error(half, 0.0, exact=1.0, methods=("forward", "backward"))
    # The backward scheme meets the hole and falls back to one side (a second curve).
    forward = next(c for c in curves(ax) if c.get_gid() == "curve:forward1")
    h, err = forward.get_data()
    np.testing.assert_allclose(err[h > 1e-6], h[h > 1e-6], rtol=1e-6)  # (h^2 + h) / h - 1 = h
    nowhere = lambda x: np.where(x == 1.0, 1.0, np.nan)  # noqa: E731
    before = plt.get_fignums()
    with pytest.raises(ValueError, match="pass `exact` to draw the picture"):
        dfdx.plot.step_error(nowhere, 1.0)
    assert plt.get_fignums() == before


def test_given_steps_and_zero_reference_use_absolute_errors():
    steps = np.logspace(-8, -1, 15)
    ax = dfdx.plot.step_error(np.cos, 0.0, exact=0.0, steps=steps[::-1], methods=("forward2", "backward"))
    lines = curves(ax)
    assert [line.get_gid() for line in lines] == ["curve:forward2", "curve:backward1"]
    for line in lines:
        np.testing.assert_array_equal(line.get_xdata(), steps)
    assert "absolute error" in ax.get_ylabel()
    # backward difference of cos at 0: (1 - cos h) / h ~ h / 2
    h, err = lines[1].get_data()
    np.testing.assert_allclose(err[h > 1e-4], h[h > 1e-4] / 2, rtol=0.02)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (([1.0, 2.0],), {}, ValueError, "`x` must be a scalar point"),
        ((float("nan"),), {}, ValueError, "`x` must be finite"),
        ((1.0,), dict(methods=("centre",)), ValueError, "`methods` must name schemes"),
        ((1.0,), dict(methods=()), ValueError, "at least one scheme"),
        ((1.0,), dict(steps=[1e-3]), ValueError, "`steps` must hold at least two"),
        ((1.0,), dict(steps=[1e-3, -1.0]), ValueError, "`steps` must hold at least two positive"),
        ((1.0,), dict(method="forward"), TypeError, "step_error sets `method` itself"),
        ((1.0,), dict(exact=float("inf")), ValueError, "`exact` must be a finite number"),
        ((1.0,), dict(bogus=True), TypeError, "unexpected keyword"),
    ],
)
def test_step_error_rejects_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        dfdx.plot.step_error(np.sin, *args, **kwargs)


# --- check ----------------------------------------------------------------------------------


def report(**fields):
    base = dict(
        analytic=[-2.0, 2.0, 0.5, 3.0], numeric=[-2.0, 2.0 + 2e-12, 0.6, 3.0], tolerance=1e-8, passed=False
    )
    base.update(fields)
    return SimpleNamespace(**base)


def bars(ax):
    return by_gid(ax.patches, "relative-error")


def test_check_bars_are_relative_errors_coloured_by_verdict(tmp_path):
    rep = report()
    ax = dfdx.plot.check(rep)
    drawn = bars(ax)
    assert len(drawn) == 4
    tops = np.array([b.get_y() + b.get_height() for b in drawn])
    expected = np.maximum(relative_error(rep.analytic, rep.numeric), np.finfo(float).eps / 8)
    np.testing.assert_allclose(tops, expected, rtol=1e-12)
    colors = [matplotlib.colors.to_hex(b.get_facecolor()) for b in drawn]
    assert colors == [PASS_COLOR, PASS_COLOR, FAIL_COLOR, PASS_COLOR]
    (tol,) = [line for line in ax.get_lines() if line.get_label().startswith("tolerance")]
    assert tol.get_ydata()[0] == 1e-8
    assert ax.get_yscale() == "log"
    (values,) = by_gid(ax.texts, "values")
    assert values.get_text() == "analytic 0.500\nnumerical 0.600"
    assert values.xy == (2, expected[2])
    top = [a for a in ax.figure.axes if a is not ax][0]
    assert top.get_title() == "Gradient check FAILED: 1 of 4 components above tolerance"
    np.testing.assert_array_equal(by_gid(top.get_lines(), "analytic")[0].get_ydata(), rep.analytic)
    np.testing.assert_array_equal(by_gid(top.get_lines(), "numeric")[0].get_ydata(), rep.numeric)
    save_png(ax, tmp_path)


def test_check_passing_report_with_per_component_tolerance_and_labels():
    rep = report(numeric=[-2.0, 2.0, 0.5 + 1e-9, 3.0], tolerance=[1e-8, 1e-8, 1e-6, 1e-8], passed=True)
    ax = dfdx.plot.check(rep, values=False, labels=["a", "b", "c", "d"])
    assert len(ax.figure.axes) == 1
    assert ax.get_title().startswith("Gradient check passed: worst relative error 2.0e\u221209 (component c)")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c", "d"]
    assert {matplotlib.colors.to_hex(b.get_facecolor()) for b in bars(ax)} == {PASS_COLOR}
    assert any(p.get_label() == "tolerance" for p in ax.patches)  # the stairs


def test_check_per_component_verdict_and_multidimensional_gradient():
    rep = report(analytic=np.ones((2, 2)), numeric=np.ones((2, 2)), passed=[[True, False], [True, True]])
    ax = dfdx.plot.check(rep, values=False)
    colors = [matplotlib.colors.to_hex(b.get_facecolor()) for b in bars(ax)]
    assert colors == [PASS_COLOR, FAIL_COLOR, PASS_COLOR, PASS_COLOR]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["(0, 0)", "(0, 1)", "(1, 0)", "(1, 1)"]


def test_check_on_given_axes_appends_the_values_panel():
    fig, ax = plt.subplots()
    assert dfdx.plot.check(report(), ax=ax) is ax
    assert len(fig.axes) == 2


def test_check_many_components_uses_points(tmp_path):
    rng = np.random.default_rng(0)
    analytic = rng.normal(size=300)
    rep = report(analytic=analytic, numeric=analytic * (1 + 1e-12 * rng.normal(size=300)), passed=True)
    ax = dfdx.plot.check(rep)
    (points,) = by_gid([c for c in ax.collections if isinstance(c, PathCollection)], "relative-error")
    assert len(points.get_offsets()) == 300
    save_png(ax, tmp_path)


@pytest.mark.parametrize(
    ("rep", "kwargs", "error", "match"),
    [
        (SimpleNamespace(analytic=[1.0]), {}, TypeError, "lacks numeric, tolerance, passed"),
        (report(numeric=[1.0]), {}, ValueError, "must have the same nonzero size"),
        (report(tolerance=[1e-8, 1e-8]), {}, ValueError, "`report.tolerance` must be a scalar or one per"),
        (report(passed=[True]), {}, ValueError, "`report.passed` must be a bool or one per component"),
        (report(), dict(labels=["a"]), ValueError, "`labels` must name all 4 components"),
    ],
)
def test_check_rejects_bad_reports(rep, kwargs, error, match):
    with pytest.raises(error, match=match):
        dfdx.plot.check(rep, **kwargs)


def test_relative_error_is_symmetric_and_scale_free():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=50), rng.normal(size=50)
    np.testing.assert_array_equal(relative_error(a, b), relative_error(b, a))
    np.testing.assert_allclose(relative_error(1e30 * a, 1e30 * b), relative_error(a, b), rtol=1e-14)
    assert np.all(relative_error(a, b) <= 2)
    np.testing.assert_array_equal(relative_error([0.0, 1.0], [0.0, 1.0]), [0.0, 0.0])


def test_check_draws_a_real_report_when_check_gradient_exists():
    if not hasattr(dfdx, "check_gradient"):
        pytest.skip("dfdx.check_gradient is not available in this build")
    rep = dfdx.check_gradient(loss, loss_gradient, [1.0, 1.0])
    ax = dfdx.plot.check(rep)
    assert len(bars(ax)) == 2


# --- the docs script -------------------------------------------------------------------------


def test_make_figures_draws_every_picture(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "docs" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT", tmp_path)
    assert module.main() == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["contour.png", "step_error.png"]
    for name in names:
        assert (tmp_path / name).read_bytes().startswith(PNG)
        assert (ROOT / "docs" / "img" / name).read_bytes().startswith(PNG)


def test_given_levels_colour_what_lies_beyond_them():
    levels = np.geomspace(0.1, 100, 12)
    ax = dfdx.plot.contour(loss, [1.0, 1.0], levels=levels)
    (filled,) = [c for c in ax.collections if isinstance(c, ContourSet) and c.filled]
    np.testing.assert_allclose(filled.levels, levels)
    assert filled.extend == "both"


def test_nothing_is_drawn_when_f_fails_at_the_point():
    def broken(w):
        raise RuntimeError("no")

    before = plt.get_fignums()
    with pytest.raises(RuntimeError, match="no"):
        dfdx.plot.contour(broken, [1.0, 1.0])
    with pytest.raises(RuntimeError, match="no"):
        dfdx.plot.step_error(broken, 1.0)
    assert plt.get_fignums() == before


def test_adaptive_reference_is_drawn_at_its_error_estimate(monkeypatch):
    original = dfdx.derivative
    f = lambda x: np.abs(x) ** 3  # noqa: E731  no complex step: the reference comes from real arithmetic
    best = dataclasses.replace(original(f, 1.0, method="central", accuracy=8, step=0.01), error=1e-15)

    def with_adaptive(f, x, *, adaptive=False, **kw):
        return best if adaptive else original(f, x, **kw)

    monkeypatch.setattr(dfdx, "derivative", with_adaptive)
    ax = dfdx.plot.step_error(f, 1.0, methods=("central",))
    ref = [ax.get_legend().get_title().get_text()]
    assert "dfdx's adaptive estimate" in ref[0]
    (star,) = by_gid(ax.get_lines(), "adaptive")
    assert "its error estimate" in star.get_label()
    assert star.get_ydata()[0] == pytest.approx(1e-15 / 3.0, rel=1e-6)
    # An adaptive result without a usable step is left out.
    best = dataclasses.replace(best, step=np.float64(np.nan))
    ax = dfdx.plot.step_error(f, 1.0, methods=("central",))
    assert not by_gid(ax.get_lines(), "adaptive")


def test_f_that_broadcasts_to_wrong_values_is_evaluated_point_by_point():
    odd = lambda w: w[0] + np.asarray(w).size  # noqa: E731  2 + w0 per point, not on a stacked grid
    ax = dfdx.plot.contour(odd, [0.0, 0.0], extent=(0, 1, 0, 1), colorbar=False)
    (filled,) = [c for c in ax.collections if isinstance(c, ContourSet) and c.filled]
    # Point by point the values are 2 + w0 in [2, 3]; the stacked call would give ~80000.
    assert 2.0 <= filled.levels.min() and filled.levels.max() <= 3.0
