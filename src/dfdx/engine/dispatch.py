"""One call of a front-end: validated options, the evaluator, and the dispatch to the engine.

The public functions of :mod:`dfdx._api` are their signatures and documentation; each
builds a :class:`Call` (every option checked once, here at the boundary, and f(x)
evaluated), lays out its columns and hands them to :meth:`Call.run`, the one place that
chooses between the fixed-step, adaptive and noisy engines, with bounds and domain holes
planned in all of them.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _validate as v
from .._result import DifferentiationError, Result
from ..evaluation.evaluator import Evaluator
from ..evaluation.store import StoreError
from ..noise import estimate_noise, noise_error, noisy_steps
from ..numerics.stencils import Stencil, make_stencil
from ..numerics.steps import absolute_steps, relative_step, unit_roundoff
from .adaptive import FIRST_STEP, adaptive, initial_steps
from .bounds import run_planned
from .budget import first_step, fixed_stencil, too_small
from .fixed import Estimate, assemble, fixed_step
from .layouts import Axes, Layout
from .verify import verified_step

__all__ = ["Call", "along_axes", "columns_last"]

#: Whether the steps an engine chooses itself (the Hessian's diagonals and pairs) are
#: checked too, as automatic and user steps are (engine/verify.py).
VERIFY_ENGINE_STEPS = True

#: Base stencil of the adaptive mode when `accuracy` is not given: the lowest order, since
#: the extrapolation raises it.
ADAPTIVE_ACCURACY = {"central": 2, "forward": 1, "backward": 1, "complex": 2}


class Call:
    """Validated common options and the evaluator for one call."""

    def __init__(
        self,
        f: Any,
        x: Any,
        *,
        n: int,
        method: Any,
        accuracy: Any,
        step: Any,
        throw: Any,
        adaptive: Any = False,
        rtol: Any = None,
        atol: Any = None,
        max_steps: Any = None,
        noise: Any = None,
        bounds: Any = None,
        vectorized: Any = False,
        workers: Any = None,
        progress: Any = False,
        f0: Any = None,
        args: Any = (),
        store: Any = None,
        max_evals: Any = None,
        columns: int | None = None,
    ) -> None:
        self.f = v.as_function(f)
        self.x = v.as_point(x)
        self.n = n
        self.method = v.as_method(method)
        self.adaptive = v.as_flag(adaptive, "adaptive")
        if self.adaptive and accuracy is None:
            accuracy = ADAPTIVE_ACCURACY[self.method]
        self.accuracy = v.as_accuracy(accuracy, self.method, n)
        self.stencil: Stencil = make_stencil(self.method, n, self.accuracy)
        self.step = v.as_step(step, self.x.shape)
        self.throw = v.as_flag(throw, "throw")
        self.rtol, self.atol, self.max_steps = v.as_tolerances(rtol, atol, max_steps, self.adaptive)
        self.strict = rtol is not None or atol is not None
        self.noise = v.as_noise(noise)
        if self.noise is not None and self.adaptive:
            raise ValueError(
                "`noise` and `adaptive=True` do not combine: noise-optimal steps are fixed "
                "steps. Drop one of them."
            )
        self.progress = v.as_flag(progress, "progress")
        vectorized = v.as_flag(vectorized, "vectorized")
        self.bounds = v.as_bounds(bounds, self.x)
        if not isinstance(args, tuple):
            args = (args,)
        self.max_evals = v.as_max_evals(max_evals)
        #: The adaptive mode's first step relative to max(1, |x|), when a budget sets it.
        self.first_step: float | None = None
        notes = self._plan_budget(columns, f0 is None) if self.max_evals is not None else []
        self.ev = Evaluator(
            self.f,
            self.x,
            complex_points=self.stencil.is_complex,
            vectorized=vectorized,
            workers=workers,
            f0=f0,
            args=args,
            progress=self.progress,
            store=store,
            max_evals=self.max_evals,
        )
        for note in notes:
            self.ev.budget.note(note)  # type: ignore[union-attr]
        self.eps = unit_roundoff(self.x.dtype, self.ev.f0.dtype)
        if self.adaptive and self.max_evals is not None:
            available = self.max_evals - self.ev.budget.used  # type: ignore[union-attr]
            self.first_step = first_step(self.stencil, self._columns, available, self.eps, FIRST_STEP)
        self.noise_used: float | None = None
        #: What the engine changed and the result's message must say.
        self.notes: list[str] = []
        self.mode = next(mode for mode in MODES if mode.applies(self))

    def _plan_budget(self, columns: int | None, at_x: bool) -> list[str]:
        """Fit the stencil (and mode) to `max_evals` before anything is evaluated; what changed."""
        assert self.max_evals is not None
        size = self.x.size
        pairs = size * (size - 1) // 2 if self.n > 1 else 0  # a Hessian's off-diagonal lines
        self._columns = columns if columns is not None else size + pairs
        available = self.max_evals - int(at_x)
        per_level = self._columns * self.stencil.nfev
        if self.adaptive and available >= 2 * per_level and self.noise is None:
            return []
        fits = fixed_stencil(self.method, self.n, self.stencil.accuracy, self._columns, available, self.noise)
        if fits is None:
            raise too_small(self.max_evals, self.method, self.n, self._columns, int(at_x), self.noise)
        notes = []
        if self.adaptive:
            notes.append("too few evaluations for two adaptive steps per coordinate: a fixed stencil instead")
            self.adaptive = False
        if fits is not self.stencil:
            notes.append(
                f"the stencil was lowered from {self.stencil.kind} accuracy {self.stencil.accuracy} "
                f"to {fits.kind} accuracy {fits.accuracy}"
            )
            self.stencil, self.accuracy, self.method = fits, fits.accuracy, fits.kind
        return notes

    def steps(self, layout: Layout, stencil: Stencil | None = None) -> NDArray[np.float64]:
        """Automatic or user steps for the columns of `layout` (shape of ``layout.reach``)."""
        if self.step is not None:
            return self.step_of(layout)
        return absolute_steps(layout.reach, relative_step(stencil or self.stencil, self.eps))

    def step_of(self, layout: Layout) -> NDArray[np.float64]:
        """The user's `step` for the columns of `layout`."""
        assert self.step is not None
        return layout.user_steps(self.step)

    def run(
        self, layout: Layout, stencil: Stencil | None = None, h: NDArray[np.float64] | None = None
    ) -> tuple[Estimate, NDArray[np.float64]]:
        """The one dispatch point from front-ends to the engine: the call's estimator.

        Columns are planned against the bounds (one-sided stencils next to a bound) and
        redone one-sided where f has a domain hole, in every mode; returns the
        estimate and the steps used (for the adaptive mode, the final ones). `h`, if
        given, replaces the automatic steps of the fixed-step modes.
        """
        return self.mode.run(self, layout, stencil or self.stencil, h)

    def finish(self, value: Any, error: Any, status: Any, step: Any) -> Result:
        unrecorded: StoreError | None = None
        try:
            self.ev.close()  # the progress bar ends with the call, not with garbage collection
        except StoreError as exc:  # the store stayed locked: the result is still complete
            unrecorded = exc
        try:
            result = assemble(
                value,
                error,
                status,
                step=step,
                nfev=self.ev.nfev,
                method=self.method,
                accuracy=self.stencil.accuracy,
                throw=self.throw,
                noise=self.noise_used,
                f0=self.ev.f0,
                notes=tuple(self.notes),
            )
        except DifferentiationError as exc:
            self._account(exc.result)
            raise
        result = self._account(result)
        if unrecorded is not None:
            unrecorded.result = result
            raise unrecorded
        return result

    def _account(self, result: Result) -> Result:
        """The store's provenance and the budget's notes, on the result."""
        provenance = self.ev.provenance()
        if provenance is not None:
            result.extras["provenance"] = provenance
        budget = self.ev.budget
        if budget is not None:
            result.extras["budget"] = budget
            if budget.bound:
                note = f" max_evals={budget.limit} bound ({budget.used} used): {'; '.join(budget.notes)}."
                result = dataclasses.replace(result, message=result.message + note)
        return result


Runner = Callable[[Call, Layout, Stencil, "NDArray[np.float64] | None"], tuple[Estimate, NDArray[np.float64]]]


@dataclass(frozen=True)
class Mode:
    """An estimator the dispatch can choose: when it applies to a call, and how it runs."""

    name: str
    applies: Callable[[Call], bool]
    run: Runner


#: Whether fixed-step estimates are checked by a second step family (engine/verify.py).
#: Only the optimizer interface turns it off, for its own calls (:func:`unchecked`).
CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("dfdx_checked", default=True)


@contextlib.contextmanager
def unchecked() -> Iterator[None]:
    """Fixed-step estimates made inside are not checked by a second step family.

    For an optimizer's many gradients, which it corrects itself: the estimate costs what
    SciPy's does, and its error bar is the one-step model's (a weaker promise).
    """
    token = CHECKED.set(False)
    try:
        yield
    finally:
        CHECKED.reset(token)


def _fixed(
    call: Call, layout: Layout, stencil: Stencil, h: NDArray[np.float64] | None
) -> tuple[Estimate, NDArray[np.float64]]:
    """One stencil at fixed steps (automatic, the user's, or `h`), each checked (engine/verify.py)."""
    user = call.step is not None and h is None
    automatic = h is None
    h = call.steps(layout, stencil) if h is None else h
    # An engine's own steps (the Hessian's) planned within a max_evals budget have no room for a check.
    if not CHECKED.get() or (not automatic and (not VERIFY_ENGINE_STEPS or call.max_evals is not None)):
        return run_planned(call.ev, layout, stencil, h, call.eps, call.bounds)
    estimate = functools.partial(verified_step, user=user)
    # Next to a domain hole the steps shrink by their own rule, which reads divergence.
    est, used = run_planned(
        call.ev, layout, stencil, h, call.eps, call.bounds, estimate=estimate, mend=fixed_step
    )
    call.notes.extend(est.notes)
    return est, (est.step if est.step is not None else used)


def _adaptive(
    call: Call, layout: Layout, stencil: Stencil, h: NDArray[np.float64] | None
) -> tuple[Estimate, NDArray[np.float64]]:
    """A shrinking step sequence with Richardson extrapolation (:mod:`dfdx.engine.adaptive`)."""
    if call.step is not None:
        h0 = call.step_of(layout)
    elif call.first_step is not None:  # max_evals: see engine/budget.py
        h0 = absolute_steps(layout.reach, call.first_step)
    else:
        h0 = initial_steps(layout.reach, stencil)
    estimator = functools.partial(
        adaptive, rtol=call.rtol, atol=call.atol, max_steps=call.max_steps, strict=call.strict
    )
    est, used = run_planned(call.ev, layout, stencil, h0, call.eps, call.bounds, estimate=estimator)
    return est, (est.step if est.step is not None else used)


def _noisy(
    call: Call, layout: Layout, stencil: Stencil, h: NDArray[np.float64] | None
) -> tuple[Estimate, NDArray[np.float64]]:
    """Steps for a noisy f: the noise level (given or estimated) replaces the round-off."""
    level = call.noise
    if level == "auto":
        call.noise_used = estimate_noise(call.ev, layout, call.eps).level
    else:
        call.noise_used = float(level)  # type: ignore[arg-type]
    h, drive = noisy_steps(call.ev, layout, stencil, call.noise_used, call.eps)
    if call.step is not None:
        h = call.step_of(layout)
    est, h = run_planned(call.ev, layout, stencil, h, call.eps, call.bounds)
    hh = h.reshape((layout.ncols,) + (1,) * len(call.ev.out_shape)) if h.ndim == 1 else h
    error = noise_error(stencil, hh, call.noise_used, drive, est.value, call.eps)
    est.error = np.where(est.nonfinite, np.inf, error)
    est.modelled = np.zeros_like(est.modelled)
    return est, h


#: The estimators, the first that applies wins. A new one is a module in ``engine/``
#: and one line here; the front-ends do not change.
MODES = (
    Mode("noisy", lambda call: call.noise is not None, _noisy),
    Mode("adaptive", lambda call: call.adaptive, _adaptive),
    Mode("fixed", lambda call: True, _fixed),
)


def along_axes(s: Call) -> tuple[Estimate, NDArray[np.float64]]:
    """Stencils along every coordinate axis of x."""
    return s.run(Axes(s.x, np.arange(s.x.size)))


def columns_last(a: NDArray[Any], x_shape: tuple[int, ...]) -> NDArray[Any]:
    """``(ncols, *out_shape)`` -> ``out_shape + x.shape``."""
    return np.moveaxis(a, 0, -1).reshape(a.shape[1:] + x_shape)
