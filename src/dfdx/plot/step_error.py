"""The error-versus-step picture of :func:`dfdx.plot.step_error`."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

import dfdx

from .common import new_axes, pyplot
from .step_frame import adaptive_star, decorate, shade

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["step_error"]

EPS = float(np.finfo(np.float64).eps)
COLORS = {"forward": "#d1495b", "backward": "#edae49", "central": "#00798c", "complex": "#5b3f8c"}
SUPERSCRIPT = str.maketrans("0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
RESERVED = ("method", "accuracy", "step", "adaptive", "throw")


class Scheme(NamedTuple):
    method: str
    accuracy: int

    @property
    def label(self) -> str:
        name = "complex step" if self.method == "complex" else self.method
        power = "" if self.accuracy == 1 else str(self.accuracy).translate(SUPERSCRIPT)
        return f"{name}, order {self.accuracy}  (\u221d h{power})"


def parse_scheme(name: Any) -> Scheme:
    """``"central4"`` -> ``Scheme("central", 4)``; a bare name is the lowest order of its kind."""
    match = re.fullmatch(r"(forward|backward|central|complex)(\d*)", str(name))
    if not isinstance(name, str) or match is None:
        raise ValueError(
            "`methods` must name schemes 'forward', 'backward', 'central' or 'complex', optionally "
            f"followed by the order (e.g. 'central4'); got {name!r}."
        )
    method, digits = match.groups()
    lowest = 1 if method in ("forward", "backward") else 2
    return Scheme(method, int(digits) if digits else lowest)


def step_error(
    f: Callable[..., Any],
    x: float,
    *,
    ax: Axes | None = None,
    exact: float | None = None,
    methods: Sequence[str] = ("forward", "central", "central4", "complex"),
    steps: ArrayLike | None = None,
    title: str | None = None,
    **options: Any,
) -> Axes:
    """Error of numerical derivatives of a scalar function versus the step, on log-log axes.

    Each scheme's curve shows the classic V: truncation error ``~ h^p`` on the right,
    round-off ``~ eps / h`` on the left (none for the complex step, which does not
    subtract). The step dfdx chooses by itself is marked on every curve, and the result
    of ``dfdx.derivative(f, x, adaptive=True)`` is drawn as a star (left out when the
    adaptive mode is not available or fails).

    Parameters
    ----------
    f : callable
        Scalar function of a scalar, ``f(x, *args)``; for ``'complex'`` it must accept
        complex input (schemes that f cannot evaluate are skipped with a note).
    x : float
        The point.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if None.
    exact : float, optional
        The exact derivative. Without it the reference is dfdx's best estimate (the
        complex step when it agrees with the fourth-order central difference, else
        the adaptive or a high-order central result), and the legend says so.
    methods : sequence of str, optional
        Schemes: ``'forward'``, ``'backward'``, ``'central'``, ``'complex'``, a bare
        name meaning the lowest order of its kind (1 one-sided, 2 otherwise), or with
        the order appended: ``'central4'``, ``'forward2'``.
    steps : array_like, optional
        Steps to draw, the same for every scheme. Default, per scheme: six steps a
        decade from ``1e-16 max(1, |x|)`` (lower if the scheme's automatic step is
        lower, as for the complex step) up to ``max(1, |x|)``.
    title : str, optional
        Title; default names f and the point.
    **options
        Passed to :func:`dfdx.derivative` (``args``, ``vectorized``, ...).

    Returns
    -------
    matplotlib.axes.Axes
        Each curve is a line with gid ``"curve:<scheme>"`` and label starting with the
        scheme's name, its automatic step a marker with gid ``"auto:<scheme>"``; the
        adaptive result has gid ``"adaptive"``. Steps at which dfdx could not use the
        scheme as asked (f not finite at a stencil point: dfdx shortened the step or
        went one-sided, as the result's ``step``, ``method`` and ``status`` say) are
        left out of the curve and drawn as crosses with gid ``"changed:<scheme>"``;
        a scheme that dfdx changed at its own automatic step is named in the legend.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError, TypeError
        If `x` is not a scalar, a scheme is unknown, `steps` are not positive, or
        `options` holds an option the picture sets itself (``method``, ``step`` ...).

    Notes
    -----
    Errors are relative, ``|D(h) - f'(x)| / |f'(x)|`` (absolute if the reference is 0);
    errors below ``eps / 2`` (a correctly rounded result) are drawn at ``eps / 2``, the
    dotted line, and errors above ``1e8`` (steps far beyond f's scale) are left out.
    The legend sits inside the axes, above the curves, so the picture reads at the
    command line's 6.4 x 5.2 inches and in a default ``plt.subplots()``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, dfdx.plot
    >>> f = lambda x: np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)
    >>> ax = dfdx.plot.step_error(f, 1.5, exact=4.053427893898620657714)
    >>> [line.get_label() for line in ax.get_lines() if str(line.get_gid()).startswith("curve")]
    ['forward, order 1  (∝ h)', 'central, order 2  (∝ h²)', 'central, order 4  (∝ h⁴)', \
'complex step, order 2  (∝ h²)']
    """
    pyplot()
    point = _scalar_point(x)
    schemes = [parse_scheme(m) for m in methods]
    if not schemes:
        raise ValueError("`methods` must name at least one scheme.")
    for name in RESERVED:
        if name in options:
            raise TypeError(f"step_error sets `{name}` itself; it cannot be passed as an option.")
    given = None if steps is None else _steps(steps)
    # Uncaught: if dfdx cannot differentiate f at all (a bad option, f failing at x),
    # the user hears why rather than getting an empty picture.
    central4 = dfdx.derivative(f, point, method="central", accuracy=4, throw=False, **options)
    autos = {s: _attempt(f, point, dict(method=s.method, accuracy=s.accuracy), options) for s in schemes}
    adaptive = _attempt(f, point, dict(adaptive=True), options)
    ref, ref_label, source = _reference(f, point, exact, central4, autos, adaptive, options)
    ax = new_axes(ax, (6.4, 5.2))
    scale = max(1.0, abs(point))
    floor = EPS / 2 * (1.0 if ref != 0 else scale)
    measure = _measure(ref, floor)
    skipped, changed_any, highest = [], False, floor
    for s in schemes:
        auto = autos[s]
        if auto is None:
            skipped.append(s)
            continue
        hs = given if given is not None else _default_steps(scale, auto.step)
        runs = [_at_step(f, point, s, h, options) for h in hs]
        errs = np.array([measure(value) for value, _ in runs])
        changed = np.array([flag for _, flag in runs])
        color = (
            COLORS[s.method]
            if sum(t.method == s.method for t in schemes) == 1
            else shade(COLORS[s.method], s.accuracy)
        )
        gid = f"{s.method}{s.accuracy}"
        ax.loglog(hs, np.where(changed, np.nan, errs), color=color, lw=1.8, label=s.label, gid=f"curve:{gid}")
        if changed.any():
            changed_any = True
            ax.loglog(hs[changed], errs[changed], "x", ms=5, mew=1.2, color=color, gid=f"changed:{gid}")
        auto_error = measure(auto.value)
        ax.loglog(
            [float(auto.step)],
            [auto_error],
            "o",
            ms=9,
            mfc=color,
            mec="black",
            mew=1.3,
            zorder=5,
            gid=f"auto:{gid}",
        )
        highest = float(np.nanmax([highest, auto_error, *errs]))
    if adaptive is not None:
        adaptive_star(ax, adaptive, measure, estimated=adaptive is source, ref=ref)
    notes = _changes(autos)
    decorate(ax, f, point, (ref, ref_label), (floor, highest), skipped, changed_any, notes, title)
    return ax


def _scalar_point(x: Any) -> float:
    if np.ndim(x) != 0:
        raise ValueError(f"`x` must be a scalar point for step_error, got shape {np.shape(x)}.")
    value = float(x)
    if not np.isfinite(value):
        raise ValueError(f"`x` must be finite, got {value}.")
    return value


def _steps(steps: ArrayLike) -> NDArray[np.float64]:
    hs = np.sort(np.asarray(steps, dtype=float).ravel())
    if hs.size < 2 or not np.all(np.isfinite(hs) & (hs > 0)):
        raise ValueError("`steps` must hold at least two positive finite steps.")
    return hs


def _default_steps(scale: float, auto_step: Any) -> NDArray[np.float64]:
    low = min(-16.0, np.floor(np.log10(float(auto_step) / scale)))
    return np.logspace(low, 0.0, int(6 * -low) + 1) * scale


def _quiet() -> Any:
    """Steps far from the best one leave f's domain or overflow: those points are gaps, not warnings."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore")
    return ctx


def _attempt(f: Callable[..., Any], x: float, how: dict[str, Any], options: dict[str, Any]) -> Any:
    """``dfdx.derivative`` with `how`, or None if that is not available or fails for this f."""
    ctx = _quiet()
    try:
        with np.errstate(all="ignore"):
            res = dfdx.derivative(f, x, **how, **options)
    except (NotImplementedError, dfdx.DifferentiationError, TypeError, ValueError, ArithmeticError):
        return None
    finally:
        ctx.__exit__(None, None, None)
    return res if np.isfinite(res.value) else None


def _at_step(
    f: Callable[..., Any], x: float, s: Scheme, h: float, options: dict[str, Any]
) -> tuple[float, bool]:
    """The derivative by scheme `s` at step `h`, and whether dfdx had to change either.

    Where f is not finite at some stencil point dfdx falls back on a one-sided stencil
    or a shorter step (its ``method``, ``step`` and ``status`` say so): that value is
    not the scheme's at `h`, so the curve leaves it out and the picture marks it.
    """
    res = _attempt(f, x, dict(method=s.method, accuracy=s.accuracy, step=h, throw=False), options)
    if res is None:
        return float("nan"), False
    changed = (
        res.method != s.method
        # (a real step is (x + h) - x, as the grid of floats realises it)
        or not np.isclose(
            float(np.max(res.step)), h if s.method == "complex" else abs((x + h) - x), rtol=1e-9
        )
        or res.status == dfdx.Status.ONE_SIDED
    )
    return float(res.value), bool(changed)


def _changes(autos: dict[Scheme, Any]) -> list[str]:
    """One line per scheme whose automatic run dfdx changed (method or one-sided stencil)."""
    notes = []
    for s, res in autos.items():
        if res is None:
            continue
        if res.method != s.method:
            notes.append(f"{s.method}{s.accuracy}: dfdx used {res.method} at its step")
        elif res.status == dfdx.Status.ONE_SIDED:
            notes.append(f"{s.method}{s.accuracy}: one-sided at its step")
    return notes


#: Errors above this (relative) are off the picture: a step far past f's scale gives
#: nonsense values (the complex step of sin at 1e6 reaches 1e292), and log axes over
#: such a range cannot even be drawn.
CEILING = 1e8


def _measure(ref: float, floor: float) -> Callable[[Any], float]:
    def measure(value: Any) -> float:
        with np.errstate(all="ignore"):
            err = abs(float(value) - ref) / (abs(ref) if ref != 0 else 1.0)
        return max(err, floor) if np.isfinite(err) and err <= CEILING else float("nan")

    return measure


def _reference(
    f: Callable[..., Any],
    x: float,
    exact: float | None,
    central4: Any,
    autos: dict[Scheme, Any],
    adaptive: Any,
    options: dict[str, Any],
) -> tuple[float, str, Any]:
    """The exact value, or dfdx's best estimate; a legend label saying which; the Result used."""
    if exact is not None:
        value = float(exact)
        if not np.isfinite(value):
            raise ValueError(f"`exact` must be a finite number, got {exact!r}.")
        return value, f"reference: exact f\u2032 = {value:.16g}", None
    cs = autos.get(Scheme("complex", 2))
    if cs is None:
        cs = _attempt(f, x, dict(method="complex"), options)
    # The complex step is exact to rounding, but only for analytic f: trust it when it
    # agrees with an independent real-arithmetic estimate.
    if cs is not None and abs(cs.value - central4.value) <= 3 * central4.error + 4 * EPS * abs(cs.value):
        best, how = cs, "complex step"
    else:
        central8 = _attempt(f, x, dict(method="central", accuracy=8), options)
        candidates = [
            (float(r.error), r, name)
            for r, name in (
                (central4, "central, order 4"),
                (central8, "central, order 8"),
                (adaptive, "adaptive"),
            )
            # Only estimates dfdx vouches for: not one that rounding or a step sequence
            # that never settled left unsure of.
            if r is not None
            and np.isfinite(r.value)
            and np.isfinite(r.error)
            and r.status.severity < dfdx.Status.NOT_CONVERGED.severity
        ]
        if not candidates:
            raise ValueError(
                "dfdx could not estimate f'(x) to compare with (f is not finite around x); "
                "pass `exact` to draw the picture."
            )
        _, best, how = min(candidates, key=lambda c: c[0])
    value = float(best.value)
    return value, f"reference: dfdx's {how} estimate {value:.16g} (no exact value given)", best
