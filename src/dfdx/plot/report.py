"""The gradient-check picture of :func:`dfdx.plot.check`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .common import new_axes, pyplot

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["check", "relative_error"]

PASS_COLOR = "#2a9d8f"
FAIL_COLOR = "#d62828"
#: Relative errors of exactly zero are drawn here, below any rounding error of float64.
FLOOR = float(np.finfo(np.float64).eps) / 8


def relative_error(analytic: Any, numeric: Any) -> NDArray[np.float64]:
    """``|analytic - numeric| / max(|analytic|, |numeric|)``, 0 where both are 0.

    Examples
    --------
    >>> relative_error([1.0, 0.0, -2.0], [1.0, 0.0, -1.0])
    array([0. , 0. , 0.5])
    """
    a = np.asarray(analytic, dtype=float)
    n = np.asarray(numeric, dtype=float)
    size = np.maximum(np.abs(a), np.abs(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(a - n) / size
    return np.where(size == 0, 0.0, rel)


def check(
    report: Any,
    *,
    ax: Axes | None = None,
    values: bool = True,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Axes:
    """A gradient-check report as a picture: relative error per component against the tolerance.

    Bars show each component's relative error on a log scale, green when within the
    tolerance (dashed) and red when not; above them (``values=True``) a panel shows
    the analytic and the numerical value of every component, failing ones shaded.

    Parameters
    ----------
    report : CheckReport or any object with these attributes
        ``analytic`` and ``numeric``: the two gradients, arrays of one shape;
        ``tolerance``: the largest acceptable relative error, a scalar or one per
        component; ``passed``: the verdict, a bool (or one bool per component). The
        relative error is computed here as
        ``|analytic - numeric| / max(|analytic|, |numeric|)``.
    ax : matplotlib.axes.Axes, optional
        Where to draw the errors; a new figure if None. The values panel is appended
        above it (and shares its x axis).
    values : bool, optional
        Draw the panel of analytic and numerical values.
    labels : sequence of str, optional
        Names of the components for the x axis (default: their indices).
    title : str, optional
        Title; default states the verdict and the worst component.

    Returns
    -------
    matplotlib.axes.Axes
        The error axes; its bars (points beyond 80 components) have gid ``"relative-error"``.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    TypeError
        If `report` lacks one of the attributes.
    ValueError
        If the arrays do not match in size, or `labels` has the wrong length.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from types import SimpleNamespace
    >>> import dfdx.plot
    >>> report = SimpleNamespace(analytic=[-2.0, 2.0, 0.5], numeric=[-2.0, 2.0 + 1e-12, 0.6],
    ...                          tolerance=1e-8, passed=False)
    >>> ax = dfdx.plot.check(report, values=False)
    >>> ax.get_title()
    'Gradient check FAILED: 1 of 3 components above tolerance'
    """
    pyplot()
    if hasattr(report, "entries") and not hasattr(report, "analytic"):
        report, entry_labels = _from_check_report(report)
        labels = entry_labels if labels is None else labels
    analytic, numeric, tol, passed = _fields(report)
    rel = relative_error(analytic, numeric)
    failing = rel > tol if np.ndim(passed) == 0 else ~np.asarray(passed, dtype=bool).ravel()
    names = _labels(labels, np.shape(report.analytic), rel.size)
    appended = ax is not None and values  # the values panel goes above the given axes
    ax, top = _panels(ax, values, max(6.4, min(12.0, 0.5 * rel.size + 3)))
    index = np.arange(rel.size)
    colors = np.where(failing, FAIL_COLOR, PASS_COLOR)
    shown = np.maximum(rel, FLOOR)
    if rel.size <= 80:
        bars = ax.bar(index, shown - FLOOR / 2, bottom=FLOOR / 2, color=colors, width=0.7)
        for bar in bars:
            bar.set_gid("relative-error")
    else:
        ax.scatter(index, shown, c=colors, s=12).set_gid("relative-error")
    ax.set_yscale("log")
    _tolerance(ax, index, tol)
    for i in np.flatnonzero(failing):
        ax.axvspan(i - 0.5, i + 0.5, color=FAIL_COLOR, alpha=0.08, lw=0)
    _room(ax, shown, tol, _annotate(ax, analytic, numeric, rel, shown, failing))
    ax.set_xlim(-0.6, rel.size - 0.4)
    ax.set_ylabel("relative error")
    unit = getattr(report, "unit", "component")
    ax.set_xlabel(
        "random direction v (grad \u00b7 v against the derivative along v)" if unit == "direction" else unit
    )
    if rel.size <= 25:
        ax.set_xticks(index, names, rotation=0 if rel.size <= 10 else 60)
    ax.legend(handles=_legend(ax), loc="upper center", ncol=3, fontsize="small", framealpha=0.9)
    if top is not None:
        _values(top, index, analytic, numeric, failing)
    text = title if title is not None else _verdict(bool(np.all(passed)), failing, rel, names, unit)
    style: dict[str, Any] = dict(color=PASS_COLOR if np.all(passed) else FAIL_COLOR, fontweight="bold")
    figure: Any = ax.figure
    if appended and figure.get_layout_engine() is not None and len(figure.axes) == 2:
        # A layout engine makes room for the given axes' decorations only, not for those of
        # the panel appended above it: the verdict goes to the figure, which has room.
        figure.suptitle(text, fontsize="medium", **style)
    else:
        (top or ax).set_title(text, fontsize="medium", **style)
    return ax


def _panels(ax: Axes | None, values: bool, width: float) -> tuple[Axes, Axes | None]:
    """The error axes and, with `values`, the values axes above it sharing its x axis."""
    if ax is None and values:
        fig = pyplot().figure(figsize=(width, 5.6), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1.25))
        return bottom, top
    ax = new_axes(ax, (width, 4.0))
    if not values:
        return ax, None
    from mpl_toolkits.axes_grid1 import make_axes_locatable  # type: ignore[import-untyped]

    return ax, make_axes_locatable(ax).append_axes("top", size="80%", pad=0.12, sharex=ax)


def _legend(ax: Axes) -> list[Any]:
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    return handles + [
        Patch(color=PASS_COLOR, label="within tolerance"),
        Patch(color=FAIL_COLOR, label="above tolerance"),
    ]


def _from_check_report(report: Any) -> tuple[Any, list[str]]:
    """The entries a :class:`dfdx.CheckReport` lists (the doubtful and the closest
    calls), in index order, as the per-component arrays drawn here."""
    from types import SimpleNamespace

    entries = sorted(report.entries, key=lambda e: e.index)
    if not entries:
        return _from_directions(report)
    analytic = np.array([e.analytic for e in entries], dtype=float)
    numeric = np.array([e.numerical for e in entries], dtype=float)
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), np.finfo(float).tiny)
    tolerance = np.array([e.tolerance for e in entries], dtype=float) / scale
    passed = np.array([e.status != "mismatch" for e in entries])
    labels = [str(e.index[0]) if len(e.index) == 1 else str(e.index) for e in entries]
    return SimpleNamespace(analytic=analytic, numeric=numeric, tolerance=tolerance, passed=passed), labels


def _from_directions(report: Any) -> tuple[Any, list[str]]:
    """A directional report that needed no entry checked: its random directions ``v``,
    ``grad . v`` against dfdx's derivative along ``v``."""
    from types import SimpleNamespace

    directions = list(getattr(report, "directions", ()))
    if not directions:
        raise ValueError("`report` lists no entries and no directions to draw.")
    analytic = np.array([d.analytic for d in directions], dtype=float)
    numeric = np.array([d.numerical for d in directions], dtype=float)
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), np.finfo(float).tiny)
    tolerance = np.array([d.tolerance for d in directions], dtype=float) / scale
    passed = np.array([bool(d.agrees) for d in directions])
    labels = [f"v{d.number}" for d in directions]
    drawn = SimpleNamespace(analytic=analytic, numeric=numeric, tolerance=tolerance, passed=passed)
    drawn.unit = "direction"
    return drawn, labels


def _fields(report: Any) -> tuple[Any, Any, Any, Any]:
    missing = [name for name in ("analytic", "numeric", "tolerance", "passed") if not hasattr(report, name)]
    if missing:
        raise TypeError(
            f"`report` must have the attributes analytic, numeric, tolerance and passed "
            f"(a dfdx.CheckReport); {type(report).__name__} lacks {', '.join(missing)}."
        )
    analytic = np.asarray(report.analytic, dtype=float).ravel()
    numeric = np.asarray(report.numeric, dtype=float).ravel()
    if analytic.size != numeric.size or analytic.size == 0:
        raise ValueError(
            f"`report.analytic` and `report.numeric` must have the same nonzero size, got "
            f"{analytic.size} and {numeric.size}."
        )
    tol = np.asarray(report.tolerance, dtype=float).ravel()
    if tol.size not in (1, analytic.size):
        raise ValueError(f"`report.tolerance` must be a scalar or one per component, got {tol.size} values.")
    passed = np.asarray(report.passed, dtype=bool)
    if passed.ndim and passed.size != analytic.size:
        raise ValueError(f"`report.passed` must be a bool or one per component, got {passed.size} values.")
    return analytic, numeric, (tol[0] if tol.size == 1 else tol), passed


def _labels(labels: Sequence[str] | None, shape: tuple[int, ...], size: int) -> list[str]:
    if labels is not None:
        if len(labels) != size:
            raise ValueError(f"`labels` must name all {size} components, got {len(labels)}.")
        return [str(label) for label in labels]
    if len(shape) <= 1:
        return [str(i) for i in range(size)]
    return [str(tuple(int(k) for k in ix)) for ix in np.ndindex(*shape)]


def _annotate(
    ax: Axes, analytic: Any, numeric: Any, rel: Any, shown: Any, failing: Any, most: int = 5
) -> bool:
    """The two values of the worst failing components, with the digits that tell them apart."""
    worst = [int(i) for i in np.argsort(-np.where(failing, rel, -1.0))[:most] if failing[i]]
    for i in worst:
        digits = int(np.clip(np.ceil(-np.log10(max(rel[i], 1e-17))) + 2, 3, 17))
        text = f"analytic {_digits(analytic[i], digits)}\nnumerical {_digits(numeric[i], digits)}"
        ax.annotate(
            text,
            (i, shown[i]),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize="x-small",
            color=FAIL_COLOR,
            gid="values",
        )
    return bool(worst)


def _room(ax: Axes, shown: Any, tol: Any, annotated: bool) -> None:
    """y limits with a band above the bars and the tolerance line, for the labels and the legend."""
    low = FLOOR / 4
    data_top = max(float(np.max(shown)), float(np.max(tol)), FLOOR * 10)
    # Two lines of text above the tallest bar, then the one-row legend.
    band = 0.3 if annotated else 0.16
    ax.set_ylim(low, data_top * (data_top / low) ** (band / (1 - band)))


def _digits(value: float, digits: int) -> str:
    """`value` to `digits` significant digits, trailing zeros kept: 13.5714 and 13.5850, not 13.585."""
    text = f"{value:#.{digits}g}"
    mantissa, _, exponent = text.partition("e")
    mantissa = mantissa.rstrip(".")
    return (mantissa + ("e" + exponent if exponent else "")).replace("-", "\u2212")


def _tolerance(ax: Axes, index: NDArray[np.intp], tol: Any) -> None:
    if np.ndim(tol) == 0:
        ax.axhline(float(tol), color="black", ls="--", lw=1.2, label=f"tolerance {float(tol):.1e}")
    else:
        edges = np.append(index - 0.5, index[-1] + 0.5)
        ax.stairs(tol, edges, color="black", ls="--", lw=1.2, label="tolerance", baseline=None)


def _verdict(
    passed: bool, failing: NDArray[np.bool_], rel: NDArray[np.float64], names: list[str], unit: str
) -> str:
    if passed:
        worst = int(np.argmax(rel))
        return (
            f"Gradient check passed: worst relative error {rel[worst]:.1e} ({unit} {names[worst]})"
        ).replace("e-", "e\u2212")
    count = int(failing.sum())
    plural = unit if rel.size == 1 else unit + "s"
    return f"Gradient check FAILED: {count} of {rel.size} {plural} above tolerance"


def _values(top: Axes, index: NDArray[np.intp], analytic: Any, numeric: Any, failing: Any) -> None:
    """Analytic and numerical values per component."""
    top.axhline(0, color="0.6", lw=0.8)
    top.plot(index, analytic, "o", ms=9, mfc="none", mec="black", mew=1.4, label="analytic", gid="analytic")
    top.plot(index, numeric, "x", ms=7, color="#1d70b8", mew=1.8, label="numerical (dfdx)", gid="numeric")
    for i in np.flatnonzero(failing):
        top.axvspan(i - 0.5, i + 0.5, color=FAIL_COLOR, alpha=0.08, lw=0)
    top.tick_params(labelbottom=False)
    top.margins(y=0.15)
    top.set_ylabel("derivative")
    top.legend(loc="best", fontsize="small", framealpha=0.9)
