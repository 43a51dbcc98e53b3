"""Pictures: the contour of a 2-D function with its gradient, error versus step, check reports.

matplotlib is an optional extra (``pip install "dfdx[plot]"``), imported only when a
function here is called: ``import dfdx.plot`` stays light. Every function takes
``ax=None`` (a new figure when None), draws on it, returns the Axes and never calls
``plt.show()``, so it works headless (the Agg backend) and inside larger figures.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import dfdx.plot
>>> loss = lambda w: (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2
>>> ax = dfdx.plot.contour(loss, [1.0, 1.0], names=("w1", "w2"))
>>> ax.get_xlabel(), ax.get_ylabel()
('w1', 'w2')
>>> ax.figure.savefig("contour.png")  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

import dfdx

from .common import fmt, function_name, new_axes, pyplot
from .report import check
from .step_error import step_error

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["contour", "step_error", "check"]

GRADIENT_COLOR = "#e8412c"
DESCENT_COLOR = "#ffffff"
FIELD_COLOR = "#f4f4f4"
FIELD_EDGE = "#303030"
LEVEL_EDGE = "#202020"
ARROW = "-|>,head_width=0.45,head_length=0.9"


def contour(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    ax: Axes | None = None,
    extent: tuple[float, float, float, float] | None = None,
    names: Sequence[str] | None = None,
    field: bool | int = False,
    descent: bool = False,
    levels: int | ArrayLike = 30,
    resolution: int = 201,
    arrow_length: float = 0.22,
    colorbar: bool = True,
    cmap: str = "viridis",
    label: str | None = None,
    title: str | None = None,
    **options: Any,
) -> Axes:
    """Filled contour of a function of two variables around `x`, with its gradient at `x`.

    The gradient is ``dfdx.gradient(f, x, **options)``. Its arrow starts at `x` and
    points along the gradient; its length is a fixed fraction of the picture (the
    value is in the legend), so it is visible whatever the scale of f. The contour
    line through `x` is drawn dashed: with the equal aspect ratio used here the arrow
    is perpendicular to it.

    Parameters
    ----------
    f : callable
        ``f(w)`` returning a scalar for a point ``w`` of two coordinates. If f also
        accepts a stacked grid (``w`` of shape ``(2, ny, nx)``, returning ``(ny, nx)``)
        the grid is evaluated in one call, otherwise point by point.
    x : array_like
        The point, two coordinates.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if None.
    extent : (xmin, xmax, ymin, ymax), optional
        The region drawn. Default: a square centred on `x` with half-width
        ``max(2, max|x| / 2)`` (for the seed tutorial's point (1, 1): [-1, 3]²).
    names : (str, str), optional
        Names of the two variables, for the axis labels (default ``x0``, ``x1``).
    field : bool or int, optional
        Also draw the gradient field (by dfdx) as arrows on a grid, 15 x 15 for True
        or ``field x field``. Arrow lengths are proportional to ``|grad f|``, the
        longest fitting its grid cell.
    descent : bool, optional
        Also draw the descent direction ``-grad f`` at `x`.
    levels : int or array_like, optional
        Number of contour levels, or the levels themselves.
    resolution : int, optional
        Grid points per axis for the contour (default 201). Where f raises
        ValueError or ArithmeticError (outside its domain) the picture has a hole.
    arrow_length : float, optional
        Length of the gradient arrow as a fraction of the shorter side of the picture.
    colorbar : bool, optional
        Add a colour bar with the values of f.
    cmap : str, optional
        Colour map of the filled contour.
    label : str, optional
        Name of f in the labels (default: f's ``__name__``, or ``f``).
    title : str, optional
        Title; default names f and the point.
    **options
        Passed to :func:`dfdx.gradient` (``method``, ``step``, ...).

    Returns
    -------
    matplotlib.axes.Axes
        The arrows are annotations with gid ``"gradient"`` / ``"descent"``
        (``xytext`` the tail, ``xy`` the head); the field a quiver with gid ``"field"``;
        the contour line through x a contour set with gid ``"level"``.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError
        If `x` does not have two coordinates, `names` not two names, `extent` not
        four increasing bounds, or `field`, `resolution`, `arrow_length` out of range.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, dfdx.plot
    >>> loss = lambda w: (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2
    >>> ax = dfdx.plot.contour(loss, [1.0, 1.0], names=("w1", "w2"), descent=True)
    >>> arrow = [a for a in ax.texts if a.get_gid() == "gradient"][0]
    >>> direction = np.subtract(arrow.xy, arrow.xyann)  # head minus tail
    >>> np.round(direction / np.hypot(*direction), 6)
    array([-0.707107,  0.707107])
    """
    pyplot()
    point = np.asarray(x, dtype=float)
    if point.shape != (2,):
        raise ValueError(f"`x` must be a point with two coordinates, got shape {point.shape}.")
    labels = _names(names)
    box = _extent(extent, point)
    arrows = _field_size(field)
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 3:
        raise ValueError(f"`resolution` must be an integer >= 3 (grid points per axis), got {resolution!r}.")
    if not 0 < arrow_length <= 1:
        raise ValueError(f"`arrow_length` must be a fraction of the picture in (0, 1], got {arrow_length!r}.")
    res = dfdx.gradient(f, point, **options)
    grad, error = np.asarray(res.value, dtype=float), np.asarray(res.error, dtype=float)
    gx, gy, z = _grid(f, box, resolution)
    ax = new_axes(ax, (6.4, 5.6))
    fname = label if label is not None else function_name(f)
    # Given levels may not cover f: colour what lies beyond them instead of leaving holes.
    extend = "neither" if np.ndim(levels) == 0 else "both"
    filled = ax.contourf(gx, gy, z, levels=levels, cmap=cmap, extend=extend)
    ax.contour(gx, gy, z, levels=filled.levels, colors="k", linewidths=0.5, alpha=0.3)
    if colorbar:
        bar = ax.figure.colorbar(filled, ax=ax, shrink=0.9)
        bar.set_label(f"{fname}({', '.join(labels)})")
    if arrows:
        _field(ax, f, box, arrows, options)
    where = f"({', '.join(labels)}) = {fmt(point)}"
    handles = [ax.plot(*point, "o", ms=8, mfc="white", mec="black", mew=1.5, label=where, zorder=7)[0]]
    handles += _level(ax, gx, gy, z, float(f(point)), fname)
    handles += _arrows(ax, point, grad, error, box, arrow_length, descent, fname)
    if arrows:
        handles.append(_field_handle(fname))
    default = f"{fname}({', '.join(labels)}) and its gradient \u2207{fname} at {fmt(point)}"
    _frame(ax, box, labels, title if title is not None else default, handles)
    return ax


def _frame(
    ax: Axes, box: tuple[float, float, float, float], labels: tuple[str, str], title: str, handles: list[Any]
) -> None:
    """Limits, equal aspect (so the gradient looks perpendicular to the contours), labels, legend."""
    from matplotlib.legend_handler import HandlerPatch
    from matplotlib.patches import FancyArrowPatch

    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect("equal")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title)
    legend = ax.legend(
        handles=handles,
        loc="upper left",
        fontsize="small",
        framealpha=0.85,
        handler_map={FancyArrowPatch: HandlerPatch(patch_func=_arrow_glyph)},
    )
    legend.set_zorder(10)
    _clear_legend_area(ax, legend)


def _clear_legend_area(ax: Axes, legend: Any) -> None:
    """Leave out the field arrows the legend would hide (tail or head inside its box)."""
    fields: list[Any] = [c for c in ax.collections if c.get_gid() == "field"]
    if not fields:
        return
    root: Any = ax.figure.figure  # the figure itself, or the one a subfigure belongs to
    root.draw_without_rendering()  # lays the figure out, so the legend's box is final
    box = legend.get_window_extent().transformed(ax.transAxes.inverted()).expanded(1.08, 1.12)
    for q in fields:
        tails = ax.transLimits.transform(q.XY)
        heads = ax.transLimits.transform(q.XY + np.column_stack([q.U, q.V]))
        lo, hi = (box.x0, box.y0), (box.x1, box.y1)
        hidden = np.all((tails >= lo) & (tails <= hi), axis=1) | np.all((heads >= lo) & (heads <= hi), axis=1)
        if hidden.any():
            q.set_UVC(np.ma.masked_where(hidden, q.U), np.ma.masked_where(hidden, q.V))


def _names(names: Sequence[str] | None) -> tuple[str, str]:
    if names is None:
        return ("x0", "x1")
    if isinstance(names, str) or len(names) != 2:
        raise ValueError(f"`names` must be two names, one per variable, got {names!r}.")
    return (str(names[0]), str(names[1]))


def _extent(extent: Any, point: NDArray[np.float64]) -> tuple[float, float, float, float]:
    if extent is None:
        half = max(2.0, float(np.max(np.abs(point))) / 2)
        return (point[0] - half, point[0] + half, point[1] - half, point[1] + half)
    box = tuple(float(e) for e in np.ravel(extent))
    if len(box) != 4 or not (box[0] < box[1] and box[2] < box[3]) or not np.all(np.isfinite(box)):
        raise ValueError(
            f"`extent` must be (xmin, xmax, ymin, ymax) with xmin < xmax and ymin < ymax, got {extent!r}."
        )
    return box[0], box[1], box[2], box[3]


def _field_size(field: Any) -> int:
    """Arrows per axis of the gradient field: 0 for none, 15 for True."""
    if field is True:
        return 15
    if field is False or field is None:
        return 0
    if not isinstance(field, (int, np.integer)) or field < 2:
        raise ValueError(f"`field` must be True, False or a grid size >= 2, got {field!r}.")
    return int(field)


def _grid(f: Callable[..., Any], box: tuple[float, float, float, float], n: int) -> tuple[Any, Any, Any]:
    """f on an ``n x n`` grid: one stacked call when f broadcasts, else point by point."""
    gx, gy = np.meshgrid(np.linspace(box[0], box[1], n), np.linspace(box[2], box[3], n))
    stacked = np.stack([gx, gy])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        z = _stacked(f, stacked)
        if z is None:
            z = np.array([_value(f, stacked[:, i, j]) for i in range(n) for j in range(n)]).reshape(n, n)
    return gx, gy, np.ma.masked_invalid(z)


def _value(f: Callable[..., Any], w: NDArray[np.float64]) -> float:
    """f at one grid point; a domain error there (``math.log`` of a negative) leaves a hole."""
    try:
        return float(f(w))
    except (ValueError, ArithmeticError):
        return float("nan")


def _stacked(f: Callable[..., Any], stacked: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """f of the whole grid at once if that gives the pointwise values (checked at a few points)."""
    try:
        z = np.asarray(f(stacked), dtype=float)
    except Exception:
        return None
    if z.shape != stacked.shape[1:]:
        return None
    n = stacked.shape[1]
    for i, j in ((0, 0), (n // 3, n - 1), (n - 1, n // 2)):
        single = float(f(stacked[:, i, j]))
        if not (np.isclose(single, z[i, j], rtol=1e-9, atol=0) or (np.isnan(single) and np.isnan(z[i, j]))):
            return None
    return z


def _field(
    ax: Axes, f: Callable[..., Any], box: tuple[float, float, float, float], n: int, options: dict[str, Any]
) -> None:
    """The gradient by dfdx on an ``n x n`` grid inside `box`, as arrows ~ |grad f|."""
    dx, dy = (box[1] - box[0]) / n, (box[3] - box[2]) / n
    px, py = np.meshgrid(box[0] + dx * (np.arange(n) + 0.5), box[2] + dy * (np.arange(n) + 0.5))
    g = np.full((2, n, n), np.nan)
    for i in range(n):
        for j in range(n):
            res = dfdx.gradient(f, [px[i, j], py[i, j]], throw=False, **options)
            g[:, i, j] = res.value
    size = np.hypot(g[0], g[1])
    longest = np.nanmax(size) if np.any(np.isfinite(size)) else 0.0
    scale = 0.85 * min(dx, dy) / longest if longest > 0 else 1.0
    q = ax.quiver(
        px,
        py,
        g[0] * scale,
        g[1] * scale,
        angles="xy",
        scale_units="xy",
        scale=1,
        color=FIELD_COLOR,
        edgecolor=FIELD_EDGE,
        linewidth=0.4,
        width=0.004,
        zorder=3,
    )
    q.set_gid("field")


def _field_handle(fname: str) -> Any:
    from matplotlib.patches import FancyArrowPatch

    return FancyArrowPatch(
        (0, 0),
        (1, 0),
        arrowstyle="-|>,head_width=0.3,head_length=0.5",
        facecolor=FIELD_COLOR,
        edgecolor=FIELD_EDGE,
        lw=0.8,
        label=f"\u2207{fname} on a grid (length \u221d |\u2207{fname}|)",
    )


def _level(ax: Axes, gx: Any, gy: Any, z: Any, value: float, fname: str) -> list[Any]:
    """The contour line through x, to which the gradient is perpendicular."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    if not (np.isfinite(value) and z.min() < value < z.max()):
        return []
    # White dashes on a dark outline: visible on the dark colours and in the light legend box.
    outline: list[Any] = [patheffects.withStroke(linewidth=2.6, foreground=LEVEL_EDGE)]
    line = ax.contour(gx, gy, z, levels=[value], colors="white", linewidths=1.2, linestyles="--", zorder=4)
    line.set_path_effects(outline)
    line.set_gid("level")
    label = f"{fname} = {value:.4g}: the level through the point"
    return [Line2D([], [], color="white", lw=1.2, ls="--", path_effects=outline, label=label)]


def _arrows(
    ax: Axes,
    point: NDArray[np.float64],
    grad: NDArray[np.float64],
    error: NDArray[np.float64],
    box: tuple[float, float, float, float],
    fraction: float,
    descent: bool,
    fname: str,
) -> list[Any]:
    """Gradient (and descent) arrows of a fixed visible length, and their legend handles.

    No arrow where the gradient is zero within its error estimate: its direction
    would be rounding noise.
    """
    from matplotlib import patheffects
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    norm = float(np.hypot(*grad))
    if not np.isfinite(norm) or norm <= float(np.hypot(*error)):
        label = f"\u2207{fname} = {fmt(grad)}, zero within its error: no arrow"
        return [Line2D([], [], ls="none", label=label)]
    length = fraction * min(box[1] - box[0], box[3] - box[2])
    outline = [patheffects.withStroke(linewidth=4.5, foreground="black", alpha=0.6)]
    arrows = [("gradient", 1.0, GRADIENT_COLOR, f"\u2207{fname} = {fmt(grad)} (length not to scale)")]
    if descent:
        arrows.append(("descent", -1.0, DESCENT_COLOR, f"\u2212\u2207{fname}: steepest descent"))
    handles = []
    for gid, sign, color, label in arrows:
        head = point + sign * length * grad / norm
        style: dict[str, Any] = dict(arrowstyle=ARROW, color=color, lw=2.6, path_effects=outline)
        arrow = ax.annotate(
            "", xy=tuple(head), xytext=tuple(point), zorder=6, arrowprops=dict(shrinkA=0, shrinkB=0, **style)
        )
        arrow.set_gid(gid)
        handles.append(FancyArrowPatch((0, 0), (1, 0), label=label, **style))
    return handles


def _arrow_glyph(
    legend: Any,
    orig_handle: Any,
    xdescent: float,
    ydescent: float,
    width: float,
    height: float,
    fontsize: float,
) -> Any:
    """An arrow for the legend, instead of the default rectangle of a patch."""
    from matplotlib.patches import FancyArrowPatch

    y = height / 2 - ydescent
    return FancyArrowPatch((-xdescent, y), (width - xdescent, y), mutation_scale=0.6 * fontsize)
