"""Points -> evaluations -> combination -> estimates.

A differentiation is a set of *columns*: for column ``j`` the stencil is laid along a
perturbation ``Delta_j`` (the step times a coordinate axis for gradients and
Jacobians, the step times ``v`` for directional derivatives, the elementwise steps
for elementwise derivatives). The engine builds the points ``x + o_k Delta_j``,
has the :class:`~dfdx._evaluate.Evaluator` evaluate them, combines them with the
stencil's weights and estimates the error of every entry from the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._evaluate import Evaluator
from ._result import DifferentiationError, Result, Status
from .stencils import Stencil, fornberg_weights

__all__ = ["Layout", "AxisPoints", "VectorPoints", "Estimate", "fixed_step", "entry_status", "assemble"]

Array = NDArray[Any]


class AxisPoints:
    """Points ``x + o_k h_j e_{c_j}``: stencils along coordinate axes ``c_j``.

    Point ``p`` is column ``p // K``, offset ``p % K``. With ``imaginary`` the
    perturbation is ``i o_k h_j`` (complex step).
    """

    def __init__(self, x: Array, columns: Array, steps: Array, offsets: Array, imaginary: bool = False):
        self.x = x
        self.flat = x.ravel()
        self.columns = np.asarray(columns, dtype=np.intp)
        self.steps = np.asarray(steps, dtype=np.float64)
        self.offsets = np.asarray(offsets, dtype=np.float64)
        self.imaginary = imaginary

    @property
    def ncols(self) -> int:
        return len(self.columns)

    def __len__(self) -> int:
        return len(self.columns) * len(self.offsets)

    def _perturbations(self, start: int, stop: int) -> tuple[Array, Array]:
        """Coordinate and signed step of points ``start:stop`` (the one formula for both layouts)."""
        index = np.arange(start, stop)
        col = index // len(self.offsets)
        delta = self.offsets[index - col * len(self.offsets)] * self.steps[col]
        dtype = _point_dtype(self.x.dtype, self.imaginary)
        return self.columns[col], (1j * delta if self.imaginary else delta.astype(dtype, copy=False))

    def block(self, start: int, stop: int) -> Array:
        m = stop - start
        where, delta = self._perturbations(start, stop)
        pts = np.empty((m, self.flat.size), dtype=_point_dtype(self.x.dtype, self.imaginary))
        pts[...] = self.flat
        pts[np.arange(m), where] += delta
        return pts.reshape((m, *self.x.shape))

    def batch(self, start: int, stop: int, out: Array | None = None) -> Array:
        """The points of :meth:`block` as one C-contiguous ``x.shape + (m,)`` array.

        `out`, if given, is a buffer of that shape and dtype to fill (reused between
        batches so that a vectorized f works on memory that is already in cache).
        """
        m = stop - start
        where, delta = self._perturbations(start, stop)
        dtype = _point_dtype(self.x.dtype, self.imaginary)
        pts = np.empty((self.flat.size, m), dtype=dtype) if out is None else out.reshape(-1, m)
        pts[...] = self.flat[:, None]
        pts[where, np.arange(m)] += delta
        return pts.reshape((*self.x.shape, m))


class VectorPoints:
    """Points ``x + o_k V_j`` for dense perturbation vectors ``V_j`` (shape of x)."""

    def __init__(self, x: Array, vectors: Array, offsets: Array, imaginary: bool = False):
        self.x = x
        self.vectors = np.asarray(vectors, dtype=np.float64).reshape(-1, x.size)
        self.offsets = np.asarray(offsets, dtype=np.float64)
        self.imaginary = imaginary

    @property
    def ncols(self) -> int:
        return len(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors) * len(self.offsets)

    def block(self, start: int, stop: int) -> Array:
        index = np.arange(start, stop)
        col, k = np.divmod(index, len(self.offsets))
        delta = self.offsets[k, None] * self.vectors[col]
        dtype = _point_dtype(self.x.dtype, self.imaginary)
        base = self.x.ravel()[None, :].astype(dtype)
        pts = base + (1j * delta if self.imaginary else delta.astype(dtype))
        return pts.reshape((stop - start, *self.x.shape))

    def batch(self, start: int, stop: int, out: Array | None = None) -> Array:
        """The points of :meth:`block` as one C-contiguous ``x.shape + (m,)`` array."""
        m = stop - start
        col, k = np.divmod(np.arange(start, stop), len(self.offsets))
        delta = self.vectors[col].T * self.offsets[k]
        dtype = _point_dtype(self.x.dtype, self.imaginary)
        pts = np.empty((self.x.size, m), dtype=dtype) if out is None else out.reshape(-1, m)
        pts[...] = self.x.ravel()[:, None]
        pts += 1j * delta if self.imaginary else delta.astype(dtype)
        return pts.reshape((*self.x.shape, m))


@dataclass(frozen=True)
class Layout:
    """Where the columns' stencils lie, independent of the steps.

    Three shapes of problem share the engine:

    - ``axes``: column ``j`` perturbs coordinate ``columns[j]`` of x (gradients,
      Jacobians); ``h`` has shape ``(ncols,)``.
    - ``directions``: column ``j`` perturbs x along ``directions[j]`` (directional
      derivatives); ``h`` has shape ``(ncols,)``, the step in t.
    - ``elementwise``: one column perturbing every coordinate by its own step
      (elementwise derivatives, where f(x)[i] depends on x[i] only); ``h`` has shape
      ``(1, x.size)``.

    ``reach`` is ``max(1, |x|)`` along each column (shape of ``h``): the length scale
    for default steps and error models. ``sum_columns`` is True when the columns are
    the coordinates of one point, so rounding inside f adds up over them.
    """

    x: Array
    kind: str
    columns: Array | None = None
    directions: Array | None = None

    @property
    def ncols(self) -> int:
        if self.kind == "axes":
            assert self.columns is not None
            return len(self.columns)
        if self.kind == "directions":
            assert self.directions is not None
            return len(self.directions)
        return 1

    @property
    def sum_columns(self) -> bool:
        return self.kind == "axes"

    @property
    def reach(self) -> Array:
        absx = np.abs(self.x.ravel())
        if self.kind == "axes":
            return np.maximum(1.0, absx[self.columns])
        if self.kind == "directions":
            assert self.directions is not None
            size = np.abs(self.directions).max(axis=1)
            reach = np.array([absx[d != 0].max() for d in self.directions])
            return np.maximum(1.0, reach) / size
        return np.maximum(1.0, absx)[None, :]

    def points(self, h: Array, offsets: Array, imaginary: bool = False) -> AxisPoints | VectorPoints:
        """The points ``x + o_k h_j (direction j)`` for the given steps and offsets."""
        if self.kind == "axes":
            return AxisPoints(self.x, self.columns, h, offsets, imaginary)  # type: ignore[arg-type]
        if self.kind == "directions":
            assert self.directions is not None
            return VectorPoints(self.x, np.asarray(h)[:, None] * self.directions, offsets, imaginary)
        vector = np.asarray(h, dtype=np.float64).reshape(1, -1)
        if self.columns is not None:
            # A subset of the elements: the others stay at x (their outputs are discarded).
            vector = np.where(np.isin(np.arange(self.x.size), self.columns), vector, 0.0)
        return VectorPoints(self.x, vector, offsets, imaginary)

    def subset(self, index: Array) -> Layout:
        """The layout of some of the columns (for ``elementwise``: of some elements of x).

        An elementwise subset keeps one column over all of x, with steps of x's size, but
        moves only the elements in `index`; the other entries of its estimate are void.
        """
        index = np.asarray(index, dtype=np.intp)
        if self.kind == "axes":
            assert self.columns is not None
            return Layout(self.x, "axes", columns=self.columns[index])
        if self.kind == "directions":
            assert self.directions is not None
            return Layout(self.x, "directions", directions=self.directions[index])
        return Layout(self.x, "elementwise", columns=index)


def _point_dtype(dtype: np.dtype[Any], imaginary: bool) -> np.dtype[Any]:
    if imaginary:
        return np.result_type(dtype, np.complex64)
    return dtype


@dataclass
class Estimate:
    """Per-column estimates, shape ``(ncols, *out_shape)``, before arrangement.

    ``modelled`` marks entries whose truncation error could not be measured from the
    values and rests on a scale model; ``nonfinite`` marks entries where f was NaN
    or inf at a stencil point; ``one_sided`` (if set) marks entries computed with a
    one-sided stencil because of a bound or a domain hole; ``not_differentiable`` (if
    set) marks entries whose estimates diverged as the step shrank. A scheme that
    decides more (the adaptive mode) gives each entry's ``status`` and the ``step`` of
    each column itself.
    """

    value: Array
    error: Array
    nonfinite: Array
    modelled: Array
    one_sided: Array | None = None
    not_differentiable: Array | None = None
    status: Array | None = None
    step: Array | None = None


@lru_cache(maxsize=256)
def _companion(offsets: tuple[float, ...]) -> tuple[Array, Array]:
    """All derivative weights on ``offsets`` plus the centre: rows are orders 0..M-1."""
    nodes = tuple(sorted(set(offsets) | {0.0}))
    weights = fornberg_weights([float(o) for o in nodes], len(nodes) - 1)
    return np.array(nodes), np.array(weights)


def fixed_step(ev: Evaluator, layout: Layout, stencil: Stencil, h: Array, eps: float) -> Estimate:
    """Evaluate one stencil on every column and estimate each entry's error.

    Parameters
    ----------
    ev : Evaluator
    layout : Layout
        Where the columns lie (the zero offset is never evaluated; it is ``ev.f0``).
    stencil : Stencil
    h : ndarray
        Steps, shape ``(ncols,)``, or ``(1, x.size)`` for an elementwise layout.
    eps : float
        Relative accuracy of f's values (unit round-off of the coarser dtype).
    """
    nonzero = stencil.offsets != 0
    points = layout.points(h, stencil.offsets[nonzero], stencil.is_complex)
    ncols = layout.ncols
    K = int(nonzero.sum())
    values = ev(points).reshape(ncols, K, *ev.out_shape)
    f0 = ev.f0.astype(values.dtype)
    # Stack the centre in where the stencil (or the error estimate) needs it.
    nodes, companion = _companion(tuple(stencil.offsets.tolist()))
    full = np.empty((ncols, len(nodes), *ev.out_shape), dtype=values.dtype)
    order = {o: i for i, o in enumerate(stencil.offsets[nonzero].tolist())}
    for i, o in enumerate(nodes.tolist()):
        full[:, i] = f0 if o == 0 else values[:, order[o]]
    if stencil.is_complex:
        full = full.imag
        full[:, list(nodes).index(0.0)] = 0.0
    hh = _expand(h, ncols, ev.out_shape)
    ss = _expand(layout.reach, ncols, ev.out_shape)
    weights = np.zeros(len(nodes))
    for o, w in zip(stencil.offsets, stencil.weights):
        weights[list(nodes).index(o)] = w
    nonfinite = ~np.isfinite(full).all(axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        # Differences from f(x): the weights sum to zero, but not exactly in floating
        # point, so entries that f does not depend on come out exactly zero.
        centre = full[:, list(nodes).index(0.0)][:, None]
        value = np.tensordot(weights, full - centre, axes=([0], [1])) / hh**stencil.n
        error, modelled = _error(
            full, value, nodes, companion, weights, stencil, hh, ss, eps, ss, layout.sum_columns
        )
    value = np.where(nonfinite, np.nan, value)
    error = np.where(nonfinite, np.inf, error)
    return Estimate(value=value, error=error, nonfinite=nonfinite, modelled=modelled)


def _expand(a: Array, ncols: int, out_shape: tuple[int, ...]) -> Array:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        return a.reshape((ncols,) + (1,) * len(out_shape))
    return a.reshape((ncols, *out_shape)) if a.size == ncols * int(np.prod(out_shape)) else a


def _error(
    full: Array,
    value: Array,
    nodes: Array,
    companion: Array,
    weights: Array,
    stencil: Stencil,
    h: Array,
    scale: Array,
    eps: float,
    xmag: Array,
    sum_columns: bool,
) -> tuple[Array, Array]:
    """Rounding plus truncation error of every entry.

    Rounding: each value of f carries a relative error of about ``eps``, amplified
    by ``sum |w_k f_k| / h^n``.

    Truncation: ``|C| h^p |f^(n+p)|``. That derivative is not measured by the stencil,
    so it is extrapolated from the highest derivative the same values do measure
    (order ``top = M - 1`` on ``M`` nodes, the centre included), bounded below by its
    own rounding noise: the derivatives of a function with a singularity at distance
    ``d`` grow like ``m! / d^m``, so each further order multiplies by about
    ``(m + 1) / (m d)`` times the measured growth rate. The rate is the median of the
    rates between the significant measured derivatives; where none is significant
    the length scale is taken as ``max(1, |x|)`` and the entry is `modelled`, with a
    safety factor of ten since nothing was measured.

    A floor for rounding inside f: f computed in floating point is f at a point
    perturbed by about ``eps`` relative in every coordinate, which changes it by
    ``eps * sum_j |x_j| |df/dx_j|`` (`xmag` holds ``|x_j|`` per column). This is what
    catches cancellation inside f that ``eps |f|`` misses. For ``n >= 2`` the slope is
    the first derivative measured by the same values.
    """
    n, p = stencil.n, stencil.accuracy
    absf = np.abs(full)
    rounding = eps * (np.tensordot(np.abs(weights), absf, axes=([0], [1])) / h**n + np.abs(value))
    if n == 1 or not stencil.is_complex:
        # For n >= 2 the slope that carries the rounding of x through f is measured
        # by the same values.
        slope = np.abs(value) if n == 1 else np.abs(np.tensordot(companion[1], full, axes=([0], [1]))) / h
        sensitivity = np.nan_to_num(xmag * slope, posinf=0.0)
        if sum_columns:
            sensitivity = np.broadcast_to(sensitivity.sum(axis=0), value.shape)
        if stencil.is_complex:
            # No subtraction: rounding inside f reaches the derivative unamplified,
            # relative to the derivatives of the terms of f (sensitivity / |x|) and,
            # for vector f whose outputs share their terms, to the largest derivative
            # of the column.
            rounding = rounding + eps * sensitivity / scale
            if value.ndim > 1:
                widest = np.abs(value).reshape(len(value), -1).max(axis=1)
                rounding = rounding + 4 * eps * widest.reshape((-1,) + (1,) * (value.ndim - 1))
        else:
            rounding = rounding + 2 * eps * sensitivity * stencil.amplification / h**n
    top = len(nodes) - 1
    orders = [n] if stencil.is_complex else list(range(n, top + 1))
    mags, noises = [np.abs(value)], [rounding]
    for m in orders[1:]:
        mags.append(np.abs(np.tensordot(companion[m], full, axes=([0], [1]))) / h**m)
        noises.append(eps * np.tensordot(np.abs(companion[m]), absf, axes=([0], [1])) / h**m)
    significant = [a > 4 * b for a, b in zip(mags, noises)]
    rates = []
    for i in range(len(orders)):
        for j in range(i + 1, len(orders)):
            if orders[j] >= top - 2:
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    r = (mags[j] / mags[i]) ** (1.0 / (orders[j] - orders[i]))
                rates.append(np.where(significant[i] & significant[j], r, np.nan))
    if rates:
        with np.errstate(all="ignore"):
            rate = _nanmedian_first_axis(np.stack(rates))
    else:
        rate = np.full(value.shape, np.nan)
    measured = np.isfinite(rate) & (rate > 0)
    rate = np.where(measured, rate, 1.0 / scale)
    # Odd or even derivatives alone vanish at points of symmetry, so the size is
    # carried by the highest measured order of each parity, bounded below by its
    # rounding noise (a derivative measured as noise is at most that large), each
    # extrapolated to order n + p; the larger of the two is used.
    drive = np.zeros(value.shape)
    for i in (len(orders) - 1, len(orders) - 2):
        if i < 0:
            continue
        grown = np.maximum(mags[i], noises[i]) if i > 0 else mags[i]
        for k in range(orders[i], n + p):
            grown = grown * rate * ((k + 1) / k)
        drive = np.maximum(drive, grown)
    modelled = np.zeros(value.shape, dtype=bool) if len(orders) > 1 else ~measured
    if stencil.is_complex:
        modelled = np.zeros(value.shape, dtype=bool)
    safety = np.where(len(orders) > 1, 3.0, 10.0)
    with np.errstate(over="ignore", invalid="ignore"):
        truncation = safety * abs(stencil.error_coefficient) * h**p * drive
    truncation = np.where(np.isfinite(truncation), truncation, np.inf)
    return rounding + truncation, modelled


def _nanmedian_first_axis(a: Array) -> Array:
    """``np.nanmedian(a, axis=0)`` without its per-slice Python loop and warnings.

    NumPy's version warns once per all-NaN slice, which for a large Jacobian with many
    structural zeros costs more than the whole differentiation.
    """
    ordered = np.sort(a, axis=0)  # NaNs sort last
    count = np.sum(~np.isnan(a), axis=0)
    low = np.maximum((count - 1) // 2, 0)[None]
    high = np.maximum(count // 2, 0)[None]
    middle = (np.take_along_axis(ordered, low, axis=0)[0] + np.take_along_axis(ordered, high, axis=0)[0]) / 2
    return np.where(count > 0, middle, np.nan)


def entry_status(est: Estimate) -> Array:
    """Status of every entry (an object array of :class:`Status`), before arrangement."""
    status = np.full(est.value.shape, Status.SUCCESS, dtype=object)
    status[est.modelled] = Status.ESTIMATED_ERROR
    if est.status is not None:
        decided = np.array([s is not None for s in np.ravel(est.status)]).reshape(status.shape)
        status[decided] = np.asarray(est.status, dtype=object)[decided]
    if est.one_sided is not None:
        keep = np.vectorize(lambda st: st.severity < Status.ONE_SIDED.severity, otypes=[bool])(status)
        status[est.one_sided & keep] = Status.ONE_SIDED
    if est.not_differentiable is not None:
        status[est.not_differentiable] = Status.NOT_DIFFERENTIABLE
    status[est.nonfinite] = Status.NONFINITE
    return status


def assemble(
    value: Array,
    error: Array,
    status: Array,
    *,
    step: Array,
    nfev: int,
    method: str,
    accuracy: int,
    throw: bool,
    noise: float | None = None,
) -> Result:
    """Build the :class:`Result` from arranged arrays, and raise if a failure must be thrown.

    `status` holds one :class:`Status` per entry of `value`; the result carries the
    worst, and the message names the entries affected by it.
    """
    entries = np.asarray(status, dtype=object)
    worst = Status.worst(*set(entries.ravel().tolist()))
    message = worst.message
    if worst is not Status.SUCCESS:
        where = [tuple(int(i) for i in ix) for ix in np.argwhere(entries == worst)]
        shown = ", ".join(str(w) if len(w) != 1 else str(w[0]) for w in where[:6])
        more = f" and {len(where) - 6} more" if len(where) > 6 else ""
        if value.ndim:
            message = f"{message} Entries: {shown}{more}."
    result = Result(
        value=_scalar(value),
        error=_scalar(error),
        step=_scalar(step),
        nfev=nfev,
        status=worst,
        message=message,
        method=method,
        accuracy=accuracy,
        noise=noise,
    )
    if throw and worst.failed:
        raise DifferentiationError(f"{worst.name}: {message}", result)
    return result


def _scalar(a: Array) -> Any:
    if hasattr(a, "tocsr"):  # a SciPy sparse array (sparse Jacobians) stays as it is
        return a
    a = np.asarray(a)
    return a[()] if a.ndim == 0 else a
