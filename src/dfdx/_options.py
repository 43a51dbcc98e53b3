"""The option set every front-end shares: one frozen record, one validation, one documentation.

The public functions of :mod:`dfdx._api` keep explicit, typed signatures for users and
IDEs; each hands its keyword arguments to :meth:`Options.of`, and from there on an option
exists in one place. A new option is a field here, a parameter in the signatures, and a
paragraph in :data:`COMMON`.
"""

from __future__ import annotations

import functools
import inspect
import multiprocessing
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from ._validate import as_kwargs, as_worker_count
from .evaluation.pools import WorkerError

__all__ = ["Options", "document", "bind", "worker_pool"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Options:
    """The options common to every front-end, as the user gave them (checked by ``Call``)."""

    method: str = "central"
    accuracy: int | None = None
    step: Any = None
    adaptive: bool = False
    rtol: float | None = None
    atol: float | None = None
    max_steps: int | None = None
    noise: float | str | None = None
    bounds: Any = None
    throw: bool = True
    vectorized: bool = False
    workers: Any = None
    progress: bool = False
    f0: Any = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] | None = None
    store: Any = None
    max_evals: int | None = None

    @classmethod
    def of(cls, given: Mapping[str, Any]) -> Options:
        """The options among `given` (a front-end's ``locals()``); the rest is the front-end's own."""
        args = given.get("args", ())
        picked = {name: given[name] for name in _NAMES if name in given}
        picked["args"] = args if isinstance(args, tuple) else (args,)
        picked["kwargs"] = as_kwargs(given.get("kwargs"))
        return cls(**picked)

    def with_(self, **changes: Any) -> Options:
        return replace(self, **changes)

    def for_setup(self) -> dict[str, Any]:
        """The keyword arguments of :class:`~dfdx.engine.dispatch.Call` (kwargs are bound into f)."""
        return {name: getattr(self, name) for name in _NAMES if name != "kwargs"}


_NAMES = tuple(field.name for field in fields(Options))


def bind(f: Callable[..., Any], kwargs: Mapping[str, Any] | None) -> Callable[..., Any]:
    """``f`` with `kwargs` bound: ``f(x, *args, **kwargs)`` (picklable when f is)."""
    return functools.partial(f, **kwargs) if kwargs else f


@contextmanager
def worker_pool(workers: Any) -> Iterator[Any]:
    """`workers` as the evaluator takes it: an integer becomes a process pool for this call.

    The pool starts fresh interpreters ('spawn'), so f must be importable (defined at
    module level); create one pool yourself and pass it to reuse it across calls.
    """
    count = as_worker_count(workers)
    if count is None:
        yield workers
        return
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
            yield pool
    except WorkerError as error:
        if getattr(sys.modules.get("__main__"), "__file__", None) is None:
            raise
        raise WorkerError(f"{error} {_SCRIPT_HINT}") from error


#: The usual cause of a broken `workers=N` pool in a script: every fresh worker imports the
#: script, and one whose code runs at import starts workers of its own, which Python refuses.
_SCRIPT_HINT = (
    "If you ran a script: the workers of workers=N are fresh interpreters that import it, so "
    "its top-level code (the call of dfdx among it) must sit under "
    '`if __name__ == "__main__":`; the workers\' own error is above this traceback on stderr.'
)


COMMON = """\
    method : {'central', 'forward', 'backward', 'complex'}, optional
        Finite-difference stencil, or the complex step (f must then accept complex
        input and be analytic: no ``abs``, ``np.real``, ``float()``). Default 'central'.
    accuracy : int, optional
        Order of accuracy of the stencil: even for 'central' and 'complex' (2, 4, 6, 8),
        any positive integer for 'forward' and 'backward'. Default: 4 for 'central'
        (4 evaluations per coordinate, ~13 digits), 1 for 'forward'/'backward',
        2 for 'complex'.
    step : float, array_like or pytree, optional
        Absolute step, one for all coordinates or one per coordinate (x's shape, or
        x's structure for a pytree). Default: automatic, balancing truncation against
        rounding for the method, the order and the dtype (the coarser of x's and
        f(x)'s), relative to ``max(1, |x|)`` and rounded to a power of two so the
        stencil points are exact.
    throw : bool, optional
        If True (default), a numerical failure (f not finite at stencil points, f not
        differentiable) raises :class:`DifferentiationError` with the partial result
        attached; if False it is reported in ``status`` and ``message``.
    vectorized : bool, optional
        If True, f takes a batch of k points as one array of shape ``x.shape + (k,)``
        (for a pytree, every leaf gains the last axis) and returns ``f(x).shape + (k,)``;
        the batch is read-only (dfdx reuses it). Default False.
    workers : int, map-like callable, concurrent.futures.Executor or Dask Client, optional
        Where to evaluate f: an integer is a pool of that many processes for this call
        (-1: one per CPU; f must be importable), or ``map``, ``pool.map``, a
        thread/process pool, a ``dask.distributed.Client`` or its ``get_executor()``.
        Default: serial. Results are identical to serial; ``f(x)`` itself is computed
        in this process.
    adaptive : bool, optional
        If True, a halving sequence of steps from ``max(1, |x|) / 8`` (or `step`) with
        Richardson extrapolation per coordinate (~15 digits, ~8 evaluations per
        coordinate on smooth f), each coordinate stopping as soon as it meets
        `rtol`/`atol`, reaches its rounding floor, or after `max_steps`; steps far
        above f's scale are detected and skipped. Kinks and jumps of f at x are
        reported as ``NOT_DIFFERENTIABLE``. The stencil (`method`, `accuracy`, default
        the lowest order) gives the quotients that are extrapolated.
    rtol, atol : float, optional
        Tolerances of the adaptive mode: a coordinate stops once its error estimate
        is below ``max(atol, rtol |value|)``. Default: as accurate as the arithmetic
        allows (``rtol = 2**-50``, ``atol = 0``); if you set them and rounding stops
        the sequence short of them, ``status`` is ``ROUNDOFF``.
    max_steps : int, optional
        Most steps of the adaptive sequence per coordinate, 3 to 64 (default 16);
        ``NOT_CONVERGED`` if a coordinate has not settled by then.
    noise : float or 'auto', optional
        Absolute noise level of f (the standard deviation of its noise), or 'auto'
        to estimate it with :func:`dfdx.noise_level` along a fixed random direction
        (a ValueError if no trustworthy level comes out). Steps and `error` then
        follow the noise; ``Result.noise`` reports the level used. Default None
        (f is smooth). Not combined with `adaptive`.
    bounds : (array_like, array_like), sequence of (lo, hi), or scipy.optimize.Bounds, optional
        The box f lives in: ``(lower, upper)`` (floats or arrays of x's shape, or pytrees
        of x's structure), one ``(lo, hi)`` pair per coordinate as SciPy takes them (None
        for no bound), or a ``scipy.optimize.Bounds``. f is never evaluated outside;
        one-sided stencils of the same accuracy are used next to a bound. A shape that
        reads both ways with different boxes (two variables, ``[(0, 1), (5, 6)]``) is
        refused.
    progress : bool, optional
        Show a progress bar (tqdm) with evaluations done and an ETA.
    f0 : array_like, optional
        ``f(x)`` if you already have it; it is then not recomputed, and it is trusted:
        checking it would cost the evaluation it saves (only its shape and kind are
        checked). A wrong `f0` silently spoils every stencil that weighs f(x) --
        forward and backward differences, even-order derivatives, Hessians -- and
        the error estimates of central first derivatives.
    args : tuple, optional
        Extra positional arguments passed to f after x.
    kwargs : dict, optional
        Extra keyword arguments passed to f: ``f(x, *args, **kwargs)``.
    store : str, os.PathLike or dfdx.Store, optional
        A persistent record of f's evaluations (an SQLite file): values recorded
        there for the same f, `args`, `kwargs` and point (exact bits) are read instead
        of evaluated, and each new evaluation is recorded as it completes, so a rerun
        after a crash evaluates only what is missing, bit-identical to an
        uninterrupted run. ``Result.provenance`` says which points came from it. A
        path names f by its module and qualified name; ``dfdx.Store(path, name=,
        version=)`` names it explicitly. Default None.
    max_evals : int, optional
        The most evaluations of f, ``f(x)`` included: the most accurate stencil that
        fits, or in the adaptive mode a first step sized for the levels it affords and
        refinement stopped early, the coordinates of largest error last. The
        ``message`` says when the budget bound. Default None (no limit)."""

RETURNS = """\
    Returns
    -------
    Result
        ``value``, ``error`` (estimate of ``|value - truth|``), ``step``, ``nfev``,
        ``status``, ``entry_status`` (one status per entry of ``value``), ``message``,
        ``method``. For a pytree x or another library's arrays, ``value``, ``error``
        and ``step`` come back in x's structure and library (``flat`` holds the flat
        NumPy result; see :mod:`dfdx.trees`)."""

RAISES = """\
    Raises
    ------
    TypeError, ValueError
        For malformed input (f not callable, x empty or not finite, an unknown
        method, a step that is not positive, f returning the wrong kind of value,
        `bounds` not of x's shape or with lower >= upper, x outside `bounds`, a box
        too tight for any stencil); the message names the argument.
    DifferentiationError
        If f is not finite at the stencil points and ``throw=True``."""


def document(func: F) -> F:
    """Fill in the shared sections of a front-end's docstring.

    The docstring is cleaned first (as Python 3.13 does when compiling), so that the
    result is the same text on every Python version.
    """
    if func.__doc__:
        doc = inspect.cleandoc(func.__doc__)
        for key, text in (("%(common)s", COMMON), ("%(returns)s", RETURNS), ("%(raises)s", RAISES)):
            doc = doc.replace(key, textwrap.dedent(text))
        func.__doc__ = doc
    return func
