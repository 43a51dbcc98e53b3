"""Helpers shared by the pictures of :mod:`dfdx.plot`; matplotlib is imported only on use."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["pyplot", "new_axes", "function_name", "fmt"]


def pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError that says which extra to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            'dfdx.plot needs matplotlib, which is not installed; install it with pip install "dfdx[plot]"'
            " (or pip install matplotlib)."
        ) from exc
    return plt


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    fig = pyplot().figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()  # type: ignore[no-any-return]


def function_name(f: Callable[..., Any], default: str = "f") -> str:
    """A short name for f in labels: its ``__name__`` when it is an identifier."""
    name = getattr(f, "__name__", "")
    return name if isinstance(name, str) and name.isidentifier() else default


def fmt(values: ArrayLike) -> str:
    """``(1, -2.5)``: a point or vector for labels, with a real minus sign."""
    return "(" + ", ".join(f"{float(v):.4g}".replace("-", "\u2212") for v in np.ravel(values)) + ")"
