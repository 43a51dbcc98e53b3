"""The pictures at the sizes they are drawn: nothing crashes on absurd values, nothing
overprints, the legend hides nothing it describes, and what dfdx changed is shown."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dfdx

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import dfdx.plot  # noqa: E402
from dfdx.cli import main  # noqa: E402
from dfdx.plot.step_error import CEILING  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def cli_axes():
    """The axes the command line draws on: a 6.4 x 5.2 inch constrained Figure."""
    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    FigureCanvasAgg(fig)  # as when the command line saves it to PNG
    return fig.add_subplot()


def default_axes():
    return plt.subplots()[1]


AXES = {"cli": cli_axes, "default": default_axes}


def lyness_moler(x):
    return np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)


def hole(x):
    """sin, undefined beyond 2: NaN at 1.5 + h for h > 0.5."""
    return np.where(np.real(x) > 2.0, np.nan, np.sin(x))


def boxes(ax):
    ax.figure.draw_without_rendering()
    return ax.figure.canvas.get_renderer()


def overlap(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def curve_points(ax, prefix="curve:"):
    """Display coordinates of every drawn (finite) point of the lines whose gid starts with `prefix`."""
    points = []
    for line in ax.get_lines():
        if str(line.get_gid()).startswith(prefix):
            xy = np.column_stack(line.get_data())
            xy = xy[np.all(np.isfinite(xy), axis=1)]
            if len(xy):
                points.append(ax.transData.transform(xy))
    return np.vstack(points)


# --- step error -------------------------------------------------------------------------------


@pytest.mark.parametrize("where", AXES)
def test_step_error_of_sin_far_from_zero_draws(where, tmp_path):
    # The complex-step curve reaches 5.6e292 at the largest steps: log ticks overflowed.
    ax = dfdx.plot.step_error(np.sin, 1e6, ax=AXES[where]())
    ax.figure.savefig(tmp_path / "sin.png")
    low, high = ax.get_ylim()
    assert np.isfinite(high) and high < 1e30
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.all(np.isnan(y) | (y <= CEILING))


def test_cli_step_error_of_sin_far_from_zero(tmp_path, capsys):
    out = tmp_path / "sin.png"
    assert main(["plot", "step-error", "sin(x)", "--at", "x=1e6", "-o", str(out)]) == 0
    assert out.stat().st_size > 5000


@pytest.mark.parametrize("where", AXES)
@pytest.mark.parametrize("f", [lyness_moler, hole, np.sin], ids=["lyness_moler", "hole", "sin"])
def test_step_error_legend_and_texts_do_not_overprint(where, f):
    x = 1e6 if f is np.sin else 1.5
    ax = dfdx.plot.step_error(f, x, ax=AXES[where]())
    renderer = boxes(ax)
    frame = ax.get_window_extent(renderer)
    legend = ax.get_legend().get_window_extent(renderer)
    # Inside the axes, so that it takes no width from them at any figure size.
    assert frame.x0 <= legend.x0 and legend.x1 <= frame.x1 and frame.y0 <= legend.y0 and legend.y1 <= frame.y1
    assert legend.width < frame.width
    # No curve runs under the legend.
    points = curve_points(ax)
    under = (
        (points[:, 0] > legend.x0)
        & (points[:, 0] < legend.x1)
        & (points[:, 1] > legend.y0)
        & (points[:, 1] < legend.y1)
    )
    assert not under.any()
    # The regimes are named in the x label, and no two texts of the axes overlap.
    assert "round-off dominates" in ax.get_xlabel() and "truncation dominates" in ax.get_xlabel()
    texts = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
    texts.append(legend)
    for i, a in enumerate(texts):
        assert not any(overlap(a, b) for b in texts[i + 1 :])
    # The title fits in the figure.
    title = ax.title.get_window_extent(renderer)
    figure = ax.figure.bbox
    assert figure.x0 <= title.x0 and title.x1 <= figure.x1


def test_a_changed_step_or_method_is_marked_not_drawn_on_the_curve():
    ax = dfdx.plot.step_error(hole, 1.5, methods=("forward", "central"), exact=np.cos(1.5))
    for scheme in ("forward1", "central2"):
        (curve,) = [c for c in ax.get_lines() if c.get_gid() == f"curve:{scheme}"]
        h, err = curve.get_data()
        # Beyond h = 0.5 the stencil meets the hole: dfdx changes the step or the method.
        assert np.all(np.isnan(err[h > 0.51]))
        assert np.all(np.isfinite(err[(h < 0.4) & (h > 1e-6)]))
        (changed,) = [c for c in ax.get_lines() if c.get_gid() == f"changed:{scheme}"]
        hc, _ = changed.get_data()
        assert hc.min() > 0.5 - 1e-9 and hc.size == np.count_nonzero(h > 0.5)
        for step in hc:
            res = dfdx.derivative(hole, 1.5, method=scheme[:-1], step=step, throw=False)
            assert res.step != step or res.status == dfdx.Status.ONE_SIDED
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "dfdx changed step/method" in labels


def test_a_scheme_dfdx_changed_at_its_own_step_is_named():
    # f is undefined just right of x: the automatic forward step already meets the hole.
    f = lambda x: np.where(np.real(x) > 1.5, np.nan, np.sin(x))  # noqa: E731
    ax = dfdx.plot.step_error(f, 1.5, methods=("forward", "central"), exact=np.cos(1.5))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    res = dfdx.derivative(f, 1.5, method="central", throw=False)
    assert res.status == dfdx.Status.ONE_SIDED
    assert "central2: one-sided at its step" in labels


# --- contour ----------------------------------------------------------------------------------


def loss(w):
    return (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2


@pytest.mark.parametrize("where", AXES)
def test_contour_legend_hides_no_arrow_and_matches_what_is_drawn(where):
    ax = dfdx.plot.contour(loss, [1.0, 1.0], ax=AXES[where](), names=("x", "y"), field=True, descent=True)
    renderer = boxes(ax)
    legend = ax.get_legend()
    box = legend.get_window_extent(renderer)
    (quiver,) = [c for c in ax.collections if c.get_gid() == "field"]
    mask = (
        np.zeros(quiver.U.size, bool)
        if quiver.Umask is np.ma.nomask
        else np.broadcast_to(np.asarray(quiver.Umask), quiver.U.shape).ravel()
    )
    tails = ax.transData.transform(quiver.XY)
    heads = ax.transData.transform(quiver.XY + np.column_stack([quiver.U, quiver.V]))
    for points in (tails, heads):
        inside = (
            (points[:, 0] > box.x0)
            & (points[:, 0] < box.x1)
            & (points[:, 1] > box.y0)
            & (points[:, 1] < box.y1)
        )
        assert not np.any(inside & ~mask)
    assert mask.any() and not mask.all()
    texts = [t.get_text() for t in legend.get_texts()]
    handles = legend.legend_handles
    # The field's sample has the arrows' colours.
    field_handle = handles[[i for i, t in enumerate(texts) if "on a grid" in t][0]]
    np.testing.assert_allclose(field_handle.get_facecolor()[:3], quiver.get_facecolor()[0][:3])
    np.testing.assert_allclose(field_handle.get_edgecolor()[:3], quiver.get_edgecolor()[0][:3])
    # The dashed white level line has a dark outline, in the picture and in the legend box.
    level_handle = handles[[i for i, t in enumerate(texts) if "level through the point" in t][0]]
    assert level_handle.get_path_effects() and legend.get_frame().get_facecolor()[:3] == (1.0, 1.0, 1.0)
    (level,) = [c for c in ax.collections if c.get_gid() == "level"]
    assert level.get_path_effects()
    # With variables named x and y, the point is not "x = ...".
    assert "(x, y) = (1, 1)" in texts
    assert not any("level of x" in t or t.startswith("x =") for t in texts)


# --- check ------------------------------------------------------------------------------------


def directional_pass():
    x = np.linspace(0.0, 1.0, 20)
    report = dfdx.check_gradient(lambda z: np.sum(z**3), lambda z: 3 * z**2, x, mode="directional", seed=1)
    assert report.passed and not report.entries
    return report


@pytest.mark.parametrize("where", AXES)
def test_check_picture_of_a_passing_directional_report(where):
    report = directional_pass()
    ax = dfdx.plot.check(report, ax=AXES[where]())
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [f"v{d.number}" for d in report.directions]
    bars = [p for p in ax.patches if p.get_gid() == "relative-error"]
    assert len(bars) == len(report.directions)
    assert "direction" in ax.get_xlabel()


def test_check_labels_show_the_same_digits():
    # 13.5714... against 13.585: both to the digits that tell them apart, zeros kept.
    from types import SimpleNamespace

    report = SimpleNamespace(analytic=[95 / 7, 2.0], numeric=[13.585, 2.0], tolerance=1e-8, passed=False)
    ax = dfdx.plot.check(report, values=False)
    (text,) = [t.get_text() for t in ax.texts if t.get_gid() == "values"]
    analytic, numerical = (line.split()[-1] for line in text.splitlines())
    assert (analytic, numerical) == ("13.5714", "13.5850")


@pytest.mark.parametrize("where", AXES)
def test_check_legend_leaves_the_tolerance_line_visible(where):
    grad = lambda w: np.array([10 * w[0] + 10 * w[1] - 22, 10 * w[0] + 20 * w[1] - 28])  # noqa: E731
    report = dfdx.check_gradient(loss, grad, [1.0, 1.0])
    ax = dfdx.plot.check(report, ax=AXES[where](), values=False)
    renderer = boxes(ax)
    legend = ax.get_legend().get_window_extent(renderer)
    tolerance = [line for line in ax.get_lines() if "tolerance" in str(line.get_label())]
    stairs = [p for p in ax.patches if "tolerance" in str(p.get_label())]
    highest = max(
        [float(np.max(line.get_ydata())) for line in tolerance]
        + [float(np.max(p.get_data().values)) for p in stairs]
    )
    assert ax.transData.transform((0, highest))[1] < legend.y0
    bars = [p.get_window_extent(renderer) for p in ax.patches if p.get_gid() == "relative-error"]
    assert not any(overlap(b, legend) for b in bars)


def test_plot_json_of_a_picture_is_one_document(tmp_path, capsys):
    out = tmp_path / "steps.png"
    code = main(["plot", "step-error", "sin(x)", "--at", "x=1e6", "-o", str(out), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["picture"] == "step-error" and data["error"] is None


@pytest.mark.parametrize("where", AXES)
def test_check_verdict_is_inside_the_figure(where):
    grad = lambda w: np.array([10 * w[0] + 10 * w[1] - 22, 10 * w[0] + 20 * w[1] - 28.5])  # noqa: E731
    report = dfdx.check_gradient(loss, grad, [1.0, 1.0])
    ax = dfdx.plot.check(report, ax=AXES[where]())
    renderer = boxes(ax)
    figure = ax.figure
    verdicts = [t for t in [figure._suptitle, *(a.title for a in figure.axes)] if t and t.get_text()]
    assert [t.get_text() for t in verdicts] == ["Gradient check FAILED: 1 of 2 components above tolerance"]
    box = verdicts[0].get_window_extent(renderer)
    assert figure.bbox.y0 <= box.y0 and box.y1 <= figure.bbox.y1
