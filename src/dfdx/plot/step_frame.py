"""The dressing of the step-error picture: colours, the adaptive star, labels and legend."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .common import fmt, function_name

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["shade", "adaptive_star", "decorate"]


def shade(color: str, accuracy: int) -> str:
    """A darker shade of `color` for higher orders, so two central curves are told apart."""
    from matplotlib.colors import to_hex, to_rgb

    factor = 0.55 if accuracy >= 4 else 1.0
    r, g, b = to_rgb(color)
    return str(to_hex((r * factor, g * factor, b * factor)))


def adaptive_star(ax: Axes, res: Any, measure: Callable[[Any], float], estimated: bool, ref: float) -> None:
    """The adaptive result as a star at its final step; at its error estimate if it is the reference."""
    step = float(np.max(res.step))
    if not np.isfinite(step) or step <= 0:
        return
    error = measure(ref + float(res.error)) if estimated else measure(res.value)
    note = ", its error estimate" if estimated else ""
    ax.loglog(
        [step],
        [error],
        "*",
        ms=17,
        color="#f2b705",
        mec="black",
        mew=1.0,
        zorder=6,
        gid="adaptive",
        label=f"adaptive result ({res.nfev} evaluations{note})",
    )


def decorate(
    ax: Axes,
    f: Callable[..., Any],
    x: float,
    reference: tuple[float, str],
    span: tuple[float, float],
    skipped: list[Any],
    changed: bool,
    notes: list[str],
    title: str | None,
) -> None:
    """Axes labels, the eps/2 line, the title with the reference, and the legend inside the axes.

    The legend sits in a band above the curves (the y axis is extended to make room),
    in two columns, so that the picture reads at the CLI's 6.4 x 5.2 inches and in a
    default ``plt.subplots()`` alike; the regimes are named in the x label, where they
    cannot overprint each other.
    """
    from matplotlib.lines import Line2D

    ref, ref_label = reference
    floor, highest = span
    relative = ref != 0
    if relative:
        ax.axhline(floor, color="0.45", ls=":", lw=1.0, zorder=0)
        ax.annotate(
            "\u03b5/2: correctly rounded",
            (1, floor),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            color="0.35",
            fontsize="x-small",
        )
    handles, _ = ax.get_legend_handles_labels()
    handles.append(
        Line2D(
            [], [], ls="none", marker="o", ms=7, mfc="white", mec="black", mew=1.3, label="step dfdx chooses"
        )
    )
    if changed:
        handles.append(
            Line2D(
                [], [], ls="none", marker="x", ms=5, mew=1.2, color="0.3", label="dfdx changed step/method"
            )
        )
    handles += [
        Line2D([], [], ls="none", label=f"{s.method}{s.accuracy}: f cannot be evaluated") for s in skipped
    ]
    handles += [Line2D([], [], ls="none", label=note) for note in notes]
    rows = -(-len(handles) // 2) + 1  # and the title line with the reference
    bottom, top = floor / 6, max(highest, floor * 10)
    # The curves take the lower part; the legend's rows the band above them.
    band = min(0.5, 0.05 + 0.045 * rows)
    ax.set_ylim(bottom, top * (top / bottom) ** (band / (1 - band)))
    legend = ax.legend(
        handles=handles,
        title=ref_label,
        title_fontsize="x-small",
        fontsize="x-small",
        loc="upper center",
        ncol=2,
        framealpha=0.9,
    )
    legend.set_zorder(10)
    ax.set_xlabel("\u2190 round-off dominates      step h      truncation dominates \u2192", fontsize="small")
    ax.set_ylabel(
        "relative error  |D(h) \u2212 f\u2032| / |f\u2032|" if relative else "absolute error |D(h)|"
    )
    ax.grid(True, which="major", alpha=0.25)
    name = function_name(f)
    heading = title if title is not None else f"Error of {name}\u2032({fmt([x])[1:-1]}) versus the step"
    ax.set_title(heading, fontsize="medium")
