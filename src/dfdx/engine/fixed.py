"""Points -> evaluations -> combination -> estimates.

A differentiation is a set of *columns*: for column ``j`` the stencil is laid along a
perturbation ``Delta_j`` (the step times a coordinate axis for gradients and
Jacobians, the step times ``v`` for directional derivatives, the elementwise steps
for elementwise derivatives). The engine builds the points ``x + o_k Delta_j``,
has the :class:`~dfdx.evaluation.evaluator.Evaluator` evaluate them, combines them with the
stencil's weights and estimates the error of every entry from the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._result import DifferentiationError, Result, Status
from ..evaluation.evaluator import Evaluator
from ..numerics.error_model import combine_parts, tables
from ..numerics.stencils import Stencil
from .layouts import Layout

__all__ = [
    "Estimate",
    "fixed_step",
    "fixed_values",
    "estimate_values",
    "entry_status",
    "clean_or_status",
    "assemble",
]

Array = NDArray[Any]

#: The engine keeps one status per entry as an int8 code (:attr:`Status.code`, its
#: severity); :func:`assemble` turns the codes into a :class:`Status` once.
SUCCESS, ONE_SIDED, ESTIMATED_ERROR = Status.SUCCESS.code, Status.ONE_SIDED.code, Status.ESTIMATED_ERROR.code
NOT_DIFFERENTIABLE, NONFINITE = Status.NOT_DIFFERENTIABLE.code, Status.NONFINITE.code
#: In an estimate's own ``status``: no decision for this entry (the flags decide).
UNDECIDED = -1


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
    #: The truncation part of each error, where the estimator tells it apart (the rest is rounding).
    truncation: Array | None = None
    #: Sentences for the result's message: what the estimator changed (a user's step, say).
    notes: list[str] = field(default_factory=list)


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
    return fixed_values(ev, layout, stencil, h, eps)[0]


def fixed_values(
    ev: Evaluator, layout: Layout, stencil: Stencil, h: Array, eps: float
) -> tuple[Estimate, Array]:
    """:func:`fixed_step` and the values of f it combined, shape ``(ncols, K, m)``."""
    t = tables(stencil)
    ncols = layout.ncols
    values = ev(layout.points(h, t.offsets, stencil.is_complex)).reshape(ncols, len(t.offsets), -1)
    return estimate_values(ev, layout, stencil, values, h, eps), values


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
    value, error, modelled, truncation = combine_parts(
        stencil, values, f0, hh, reach, eps, layout.sum_columns
    )
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
        # Every entry SUCCESS: no status array to build and search.
        clean=finite and not modelled.any(),
        truncation=truncation.reshape(out),
    )


def clean_or_status(est: Estimate) -> Array | None:
    """None when the estimate is known to be clean (every entry SUCCESS), else :func:`entry_status`."""
    return None if est.clean else entry_status(est)


def entry_status(est: Estimate) -> Array:
    """Status code of every entry (int8, :attr:`Status.code`), before arrangement."""
    status: Array = np.where(est.modelled, np.int8(ESTIMATED_ERROR), np.int8(SUCCESS))
    if est.status is not None:
        status = np.where(est.status != UNDECIDED, est.status, status).astype(np.int8)
    if est.one_sided is not None:
        status[est.one_sided & (status < ONE_SIDED)] = ONE_SIDED
    if est.not_differentiable is not None:
        status[est.not_differentiable] = NOT_DIFFERENTIABLE
    status[est.nonfinite] = NONFINITE
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
    notes: tuple[str, ...] = (),
) -> Result:
    """Build the :class:`Result` from arranged arrays, and raise if a failure must be thrown.

    `status` holds one status code per entry of `value` (None: all SUCCESS); the
    result carries the worst, and the message names the entries affected by it (and
    f(x), `f0`, when it is f(x) itself that is not finite).
    """
    codes = None if status is None else np.asarray(status)
    worst = Status.SUCCESS if codes is None or not codes.size else Status.of_code(codes.max())
    message = worst.message
    if worst is not Status.SUCCESS:
        assert codes is not None
        if value.ndim:
            message = f"{message} Entries: {_listed(codes == worst.code)}."
        if worst is Status.NONFINITE and f0 is not None and not np.isfinite(f0).all():
            message = f"{_not_finite_at_x(f0)} {message}"
    if notes:
        message = " ".join((message, *dict.fromkeys(notes)))
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
        entries=codes,
    )
    if throw and worst.failed:
        raise DifferentiationError(f"{worst.name}: {message}", result)
    return result


def _scalar(a: Array) -> Any:
    if hasattr(a, "tocsr"):  # a SciPy sparse array (sparse Jacobians) stays as it is
        return a
    a = np.asarray(a)
    return a[()] if a.ndim == 0 else a
