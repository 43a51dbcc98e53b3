"""Points -> evaluations -> combination -> estimates.

A differentiation is a set of *columns*: for column ``j`` the stencil is laid along a
perturbation ``Delta_j`` (the step times a coordinate axis for gradients and
Jacobians, the step times ``v`` for directional derivatives, the elementwise steps
for elementwise derivatives). The engine builds the points ``x + o_k Delta_j``,
has the :class:`~dfdx.evaluation.evaluator.Evaluator` evaluate them, combines them with the
stencil's weights and estimates the error of every entry from the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._result import DifferentiationError, Result, Status
from ..evaluation.evaluator import Evaluator
from ..numerics.error_model import combine, tables
from ..numerics.stencils import Stencil

__all__ = [
    "Layout",
    "AxisPoints",
    "VectorPoints",
    "Estimate",
    "fixed_step",
    "estimate_values",
    "entry_status",
    "clean_or_status",
    "assemble",
]

Array = NDArray[Any]

# Members looked up once: an Enum class attribute costs a Python-level __getattr__ (3.11).
_SUCCESS, _ESTIMATED_ERROR, _ONE_SIDED = Status.SUCCESS, Status.ESTIMATED_ERROR, Status.ONE_SIDED
_NOT_DIFFERENTIABLE, _NONFINITE = Status.NOT_DIFFERENTIABLE, Status.NONFINITE
# ... and as arrays: NumPy probes a bare member's class for array protocols at every use.
_SUCCESS_0D, _ESTIMATED_ERROR_0D = np.array(_SUCCESS, dtype=object), np.array(_ESTIMATED_ERROR, dtype=object)


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
        self.dtype = _point_dtype(x.dtype, imaginary)
        self._where: Array | None = None
        self._delta: Array | None = None

    @property
    def ncols(self) -> int:
        return len(self.columns)

    def __len__(self) -> int:
        return len(self.columns) * len(self.offsets)

    def _perturbations(self, start: int, stop: int) -> tuple[Array, Array]:
        """Coordinate and signed step of points ``start:stop`` (the one formula for both layouts).

        Both are computed once for all points (16 bytes a point, as much as f's values
        take), so that a batch costs one slice instead of a few small array operations.
        """
        if self._where is None:
            self._where = np.repeat(self.columns, len(self.offsets))
            delta = (self.steps[:, None] * self.offsets[None, :]).ravel()
            self._delta = 1j * delta if self.imaginary else delta.astype(self.dtype, copy=False)
        assert self._delta is not None
        return self._where[start:stop], self._delta[start:stop]

    def block(self, start: int, stop: int) -> Array:
        m = stop - start
        where, delta = self._perturbations(start, stop)
        pts = np.empty((m, self.flat.size), dtype=self.dtype)
        pts[...] = self.flat
        pts[np.arange(m), where] += delta
        return pts.reshape((m, *self.x.shape))

    def batch(
        self, start: int, stop: int, out: Array | None = None, previous: tuple[int, int] | None = None
    ) -> Array:
        """The points of :meth:`block` as one C-contiguous ``x.shape + (m,)`` array.

        `out`, if given, is a C-contiguous buffer of this dtype with room for at least
        ``x.size * m`` values, whose first ones are filled (reused between batches, of
        any size up to its own, so that a vectorized f works on memory already in cache).
        `previous`, if given, is ``(start, stop)`` of the batch that `out` holds untouched:
        a batch of as many points then only moves back the entries that one moved.
        """
        m = stop - start
        where, delta = self._perturbations(start, stop)
        pts = _buffer(out, self.flat.size, m, self.dtype)
        flat = pts.reshape(-1)
        if previous is not None and previous[1] - previous[0] == m:
            # The batch is x broadcast plus one moved entry per column: undo the
            # previous batch's entries instead of writing all of x again.
            before, _ = self._perturbations(*previous)
            flat[before * m + np.arange(m)] = self.flat[before]
        else:
            pts[...] = self.flat[:, None]
        flat[where * m + np.arange(m)] += delta
        return pts.reshape((*self.x.shape, m))


class VectorPoints:
    """Points ``x + o_k V_j`` for dense perturbation vectors ``V_j`` (shape of x)."""

    def __init__(self, x: Array, vectors: Array, offsets: Array, imaginary: bool = False):
        self.x = x
        self.vectors = np.asarray(vectors, dtype=np.float64).reshape(-1, x.size)
        self.offsets = np.asarray(offsets, dtype=np.float64)
        self.imaginary = imaginary
        self.dtype = _point_dtype(x.dtype, imaginary)

    @property
    def ncols(self) -> int:
        return len(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors) * len(self.offsets)

    def block(self, start: int, stop: int) -> Array:
        index = np.arange(start, stop)
        col, k = np.divmod(index, len(self.offsets))
        delta = self.offsets[k, None] * self.vectors[col]
        base = self.x.ravel()[None, :].astype(self.dtype)
        pts: Array = base + (1j * delta if self.imaginary else delta.astype(self.dtype))
        return pts.reshape((stop - start, *self.x.shape))

    def batch(
        self, start: int, stop: int, out: Array | None = None, previous: tuple[int, int] | None = None
    ) -> Array:
        """The points of :meth:`block` as one C-contiguous ``x.shape + (m,)`` array.

        `out` is an optional buffer, as for :meth:`AxisPoints.batch`; `previous` is
        accepted for the same signature (dense perturbations rewrite every value anyway).
        """
        m = stop - start
        col, k = np.divmod(np.arange(start, stop), len(self.offsets))
        delta = self.vectors[col].T * self.offsets[k]
        pts = _buffer(out, self.x.size, m, self.dtype)
        pts[...] = self.x.ravel()[:, None]
        pts += 1j * delta if self.imaginary else delta.astype(self.dtype)
        return pts.reshape((*self.x.shape, m))


def _buffer(out: Array | None, size: int, m: int, dtype: np.dtype[Any]) -> Array:
    """A ``(size, m)`` C-contiguous array: new, or the leading part of the buffer `out`."""
    if out is None:
        return np.empty((size, m), dtype=dtype)
    if not out.flags.c_contiguous or out.dtype != dtype or out.size < size * m:
        raise ValueError(f"a batch buffer of {out.size} {out.dtype} values cannot hold {size} x {m} points")
    return out.reshape(-1)[: size * m].reshape(size, m)


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

    @cached_property
    def reach(self) -> Array:
        # Cached (x never changes under a layout): steps and the error model both ask.
        absx = np.abs(self.x.ravel())
        if self.kind == "axes":
            return np.maximum(1.0, absx[self.columns])
        if self.kind == "directions":
            assert self.directions is not None
            size = np.abs(self.directions).max(axis=1)
            reach = np.array([absx[d != 0].max() for d in self.directions])
            return np.asarray(np.maximum(1.0, reach) / size)
        return np.asarray(np.maximum(1.0, absx)[None, :])

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
    #: True when whoever made the estimate knows every entry is SUCCESS.
    clean: bool = False


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
    t = tables(stencil)
    ncols = layout.ncols
    values = ev(layout.points(h, t.offsets, stencil.is_complex)).reshape(ncols, len(t.offsets), -1)
    return estimate_values(ev, layout, stencil, values, h, eps)


def estimate_values(
    ev: Evaluator, layout: Layout, stencil: Stencil, values: Array, h: Array, eps: float
) -> Estimate:
    """:func:`fixed_step` from the values of f at its points, shape ``(ncols, K, m)``."""
    ncols = layout.ncols
    f0 = ev.f0.reshape(-1).astype(np.float64)
    complex_values = values
    if stencil.is_complex:
        values = values.imag
    shape = (ncols, 1) if np.ndim(h) == 1 else (ncols, -1)
    hh = np.reshape(h, shape).astype(np.float64)
    reach = np.reshape(layout.reach, shape)
    value, error, modelled = combine(stencil, values, f0, hh, reach, eps, layout.sum_columns)
    # A real entry combines f(x) and its column's values with nonzero weights: it is
    # finite only if they all are, so a finite result saves testing every value.
    finite = not stencil.is_complex and bool(np.isfinite(value).all())
    if finite:
        nonfinite = np.zeros(value.shape, dtype=bool)
    else:
        nonfinite = ~(np.isfinite(complex_values).all(axis=1) & np.isfinite(f0))
    if not finite and nonfinite.any():
        value = np.where(nonfinite, np.nan, value)
        error = np.where(nonfinite, np.inf, error)
    out = (ncols, *ev.out_shape)
    return Estimate(
        value=value.reshape(out),
        error=error.reshape(out),
        nonfinite=nonfinite.reshape(out),
        modelled=modelled.reshape(out),
    )


def clean_or_status(est: Estimate) -> Array | None:
    """None when the estimate is known to be clean (every entry SUCCESS), else :func:`entry_status`."""
    return None if est.clean else entry_status(est)


def entry_status(est: Estimate) -> Array:
    """Status of every entry (an object array of :class:`Status`), before arrangement."""
    if est.status is None and est.one_sided is None and est.not_differentiable is None:
        if not est.nonfinite.any():  # SUCCESS, or ESTIMATED_ERROR where modelled
            return np.asarray(np.where(est.modelled, _ESTIMATED_ERROR_0D, _SUCCESS_0D))
    status: Array = np.broadcast_to(_SUCCESS_0D, est.value.shape).copy()
    flags = (est.modelled, est.nonfinite, est.one_sided, est.not_differentiable)
    if est.status is None and not any(f is not None and f.any() for f in flags):
        return status
    status[est.modelled] = _ESTIMATED_ERROR
    if est.status is not None:
        decided = np.array([s is not None for s in np.ravel(est.status)]).reshape(status.shape)
        status[decided] = np.asarray(est.status, dtype=object)[decided]
    if est.one_sided is not None:
        keep = np.vectorize(lambda st: st.severity < _ONE_SIDED.severity, otypes=[bool])(status)
        status[est.one_sided & keep] = _ONE_SIDED
    if est.not_differentiable is not None:
        status[est.not_differentiable] = _NOT_DIFFERENTIABLE
    status[est.nonfinite] = _NONFINITE
    return status


def _listed(mask: Array) -> str:
    """The indices where `mask` holds, the first six of them: ``0, 2 and 3 more``."""
    where = [tuple(int(i) for i in ix) for ix in np.argwhere(mask)]
    shown = ", ".join(str(w) if len(w) != 1 else str(w[0]) for w in where[:6])
    return shown + (f" and {len(where) - 6} more" if len(where) > 6 else "")


def _not_finite_at_x(f0: Array) -> str:
    """What is wrong with f(x) itself, for the NONFINITE message."""
    if f0.size == 1:
        return f"f(x) itself is {f0.reshape(-1)[0]}."
    bad = ~np.isfinite(f0)
    return f"f(x) itself is not finite in {np.count_nonzero(bad)} of its {f0.size} outputs: {_listed(bad)}."


def assemble(
    value: Array,
    error: Array,
    status: Array | None,
    *,
    step: Array,
    nfev: int,
    method: str,
    accuracy: int,
    throw: bool,
    noise: float | None = None,
    f0: Array | None = None,
) -> Result:
    """Build the :class:`Result` from arranged arrays, and raise if a failure must be thrown.

    `status` holds one :class:`Status` per entry of `value` (None: all SUCCESS); the
    result carries the worst, and the message names the entries affected by it (and
    f(x), `f0`, when it is f(x) itself that is not finite).
    """
    if status is None:
        worst = _SUCCESS
    else:
        entries = np.asarray(status, dtype=object)
        # Identity comparisons run in C; only the entries that are not SUCCESS are hashed.
        others = entries[entries != _SUCCESS_0D]
        worst = Status.worst(*set(others.tolist())) if others.size else _SUCCESS
    message = worst.message
    if worst is not _SUCCESS:
        if value.ndim:
            message = f"{message} Entries: {_listed(entries == worst)}."
        if worst is _NONFINITE and f0 is not None and not np.isfinite(f0).all():
            message = f"{_not_finite_at_x(f0)} {message}"
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
