"""One call of each front-end: from the user's options to the arranged :class:`Result`.

Every front-end goes the same way: f checked, the integer `workers` made a pool for the
call, `kwargs` bound into f, a :class:`~dfdx.engine.dispatch.Call` (every option checked
once and f(x) evaluated), the columns laid out and handed to the engine, the estimates
arranged in the shape the front-end documents.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _validate as v
from ._adapt import (
    COMPLEX_F,
    ComplexParts,
    TreeFunction,
    as_parts,
    complex_result,
    flat_options,
    flat_pattern,
    run_nested,
)
from ._options import Options, bind, worker_pool
from ._result import Result
from .engine.complex_hessian import hessian_by_complex_step
from .engine.dispatch import Call, along_axes, columns_last
from .engine.fixed import clean_or_status, entry_status
from .engine.hessian import hessian_from_f, hessian_from_gradient, hessian_of_vector_f
from .engine.layouts import Directions, Elementwise
from .engine.sparse_calls import sparse_jacobian_call, with_report
from .engine.sparse_hessian import sparse_hessian_call
from .evaluation.evaluator import Evaluator
from .trees import Flattening, flatten

__all__ = ["derivative", "gradient", "jacobian", "directional", "hessian", "jac_of"]


Body = Callable[[Call, Flattening | None], Result]


def _run(
    body: Body,
    f: Any,
    x: Any,
    opts: Options,
    n: int = 1,
    nesting: str = "gradient",
    columns: int | None = None,
    parts: Body | None = None,
    complex_f: bool = True,
) -> Result:
    """`body` on the :class:`Call` of this call; a pytree x goes flat and comes back nested.

    `columns`: how many columns the body lays out, if not x.size (for the budget). A
    complex-valued f at a real x is differentiated by `parts` (default `body`) as the
    stack of its real and imaginary parts, and the result combined (NumPy x only).
    """
    v.as_function(f)
    found = flatten(x)
    with worker_pool(opts.workers) as workers:
        opts = opts.with_(workers=workers)
        if found is None:
            parts = (parts or body) if complex_f else None
            return _in_dtype(_plain(body, f, x, opts, n, parts, columns), x)
        fl, flat = found
        tree_f = TreeFunction(f, fl, opts.vectorized is True)
        flat_opts = flat_options(fl, opts, tree_f)
        if flat_opts.method == "complex":
            fl.library.check_complex()
        options = flat_opts.for_setup()
        g = bind(tree_f, opts.kwargs)  # kwargs outside the wrapper, where a store sees them
        return run_nested(lambda _: body(Call(g, flat, n=n, columns=columns, **options), fl), tree_f, nesting)


def _plain(
    body: Body, f: Any, x: Any, opts: Options, n: int, parts: Body | None, columns: int | None
) -> Result:
    try:
        return body(Call(bind(f, opts.kwargs), x, n=n, columns=columns, **opts.for_setup()), None)
    except TypeError as exc:
        if parts is None or opts.method == "complex" or not str(exc).startswith(COMPLEX_F):
            raise
    # f is complex-valued: its real and imaginary parts, differentiated on the same points.
    parts_opts = opts.with_(f0=None if opts.f0 is None else as_parts(opts.f0))
    extra = 1 if opts.f0 is None else 0  # the f(x) that showed f complex
    call = Call(bind(ComplexParts(f), opts.kwargs), x, n=n, columns=columns, **parts_opts.for_setup())
    return complex_result(lambda: parts(call, None), extra)


def _in_dtype(res: Result, x: Any) -> Result:
    """A float32 x gets float32 results (the arithmetic is float64 either way)."""
    if getattr(x, "dtype", None) != np.float32 or hasattr(res.value, "tocsr"):
        return res
    value, error = (
        np.float32(a) if np.ndim(a) == 0 else np.asarray(a, np.float32) for a in (res.value, res.error)
    )
    return dataclasses.replace(res, value=value, error=error)


def jacobian(f: Any, x: Any, opts: Options, sparsity: Any = None) -> Result:
    if sparsity is None:
        return _run(_dense_jacobian, f, x, opts, nesting="jacobian")

    def sparse(s: Call, fl: Flattening | None) -> Result:
        if fl is None:
            return _sparse_result(s, sparsity)
        tree_f = s.f.func if isinstance(s.f, functools.partial) else s.f
        assert isinstance(tree_f, TreeFunction) and tree_f.out is not None  # learned from f(x)
        pattern = flat_pattern(sparsity, tree_f.out, fl)
        return _sparse_result(s, pattern)

    return _run(sparse, f, x, opts, nesting="jacobian", complex_f=False)


def _dense_jacobian(s: Call, fl: Flattening | None) -> Result:
    est, h = along_axes(s)
    shape = s.x.shape
    return s.finish(
        columns_last(est.value, shape),
        columns_last(est.error, shape),
        columns_last(entry_status(est), shape),
        h.reshape(shape),
    )


def _sparse_result(s: Call, sparsity: Any) -> Result:
    """The sparse Jacobian, or the dense one with the report when grouping does not pay."""
    result, report = sparse_jacobian_call(s, sparsity)
    return result if result is not None else with_report(_dense_jacobian(s, None), report)


def gradient(f: Any, x: Any, opts: Options) -> Result:
    def body(s: Call, fl: Flattening | None) -> Result:
        if s.ev.out_shape not in ((), (1,)):  # (1,): a scalar as NumPy code often returns it
            raise ValueError(
                f"`f` must return a scalar for gradient, but f(x) has shape {s.ev.out_shape}; "
                "use dfdx.jacobian for vector-valued f."
            )
        est, h = along_axes(s)
        shape = s.x.shape
        status = clean_or_status(est)
        return s.finish(
            est.value.reshape(shape),
            est.error.reshape(shape),
            None if status is None else status.reshape(shape),
            h.reshape(shape),
        )

    def parts(s: Call, fl: Flattening | None) -> Result:  # a complex f: the Jacobian of its parts
        if s.ev.out_shape not in ((2,), (2, 1)):
            raise ValueError(
                f"`f` must return a scalar for gradient, but f(x) has shape {s.ev.out_shape[1:]}; "
                "use dfdx.jacobian for vector-valued f."
            )
        res = _dense_jacobian(s, fl)
        return res if s.ev.out_shape == (2,) else _squeezed(res)

    return _run(body, f, x, opts, parts=parts)


def _squeezed(res: Result) -> Result:
    """A Jacobian of shape ``(2, 1, *x.shape)`` as ``(2, *x.shape)``."""
    entries = None if res.entries is None else np.asarray(res.entries)[:, 0]
    return dataclasses.replace(
        res, value=np.asarray(res.value)[:, 0], error=np.asarray(res.error)[:, 0], entries=entries
    )


def derivative(f: Any, x: Any, opts: Options, n: Any) -> Result:
    order = v.as_order(n)

    def body(s: Call, fl: Flattening | None) -> Result:
        if s.ev.out_shape != s.x.shape:
            raise ValueError(
                f"`f` must be elementwise for derivative: f(x) has shape {s.ev.out_shape} but x has "
                f"shape {s.x.shape}. For f: R^n -> R use dfdx.gradient; for R^n -> R^m, dfdx.jacobian."
            )
        est, h = s.run(Elementwise(s.x))
        shape = s.x.shape
        status = entry_status(est).reshape(shape)
        return s.finish(est.value.reshape(shape), est.error.reshape(shape), status, h.reshape(shape))

    return _run(body, f, x, opts, n=order, nesting="derivative", columns=1, complex_f=False)


def directional(f: Any, x: Any, direction: Any, opts: Options) -> Result:
    def body(s: Call, fl: Flattening | None) -> Result:
        d = as_direction(direction if fl is None else fl.ravel(direction, "v"), s.x)
        # Along v / max|v|, then scaled back: the derivative is linear in v, and a tiny or
        # huge v would otherwise put the step out of range.
        size = float(np.max(np.abs(d)))
        est, h = s.run(Directions(s.x, d.ravel()[None, :] / size))
        with np.errstate(over="ignore"):  # a subnormal v: the step along it is beyond float range
            step = h[0] / size
        return s.finish(est.value[0] * size, est.error[0] * size, entry_status(est)[0], step)

    return _run(body, f, x, opts, nesting="directional", columns=1)  # one direction


def as_direction(vec: Any, x: NDArray[Any]) -> NDArray[np.float64]:
    direction = v.as_point(vec, "v").astype(np.float64)
    if direction.shape != x.shape:
        raise ValueError(f"`v` must have x's shape {x.shape}, got {direction.shape}.")
    if not np.any(direction):
        raise ValueError("`v` must be a nonzero direction.")
    return direction


def hessian(f: Any, x: Any, opts: Options, grad: Any = None, sparsity: Any = None) -> Result:
    v.as_function(f)
    if grad is not None:
        body = _sparse_hessian(_hessian_from_gradient, sparsity, from_grad=True)
        return _run(body, v.as_function(grad, "grad"), x, opts, nesting="hessian_of_gradient")
    if sparsity is not None:
        if opts.method == "complex":
            raise ValueError(
                "`sparsity` with method='complex' needs the gradient for hessian: pass `grad=`, "
                "or use method='central' to difference f alone."
            )
        return _run(
            _sparse_hessian(_hessian_from_f, sparsity, from_grad=False), f, x, opts, n=2, nesting="hessian"
        )
    if opts.method == "complex":
        if opts.adaptive or opts.noise is not None or opts.bounds is not None:
            raise ValueError(
                "method='complex' differences f at fixed steps for hessian; it does not combine with "
                "`adaptive`, `noise` or `bounds`. Pass `grad=` (the complex step then differentiates "
                "it), or use method='central'."
            )
        return _run(_hessian_by_complex_step, f, x, opts, nesting="hessian")
    return _run(_hessian_from_f, f, x, opts, n=2, nesting="hessian")


def _sparse_hessian(dense: Body, sparsity: Any, from_grad: bool) -> Body:
    """The Hessian's body: sparse when `sparsity` is given and pays, else `dense` (with the report)."""
    if sparsity is None:
        return dense

    def body(s: Call, fl: Flattening | None) -> Result:
        _check_hessian_output(s, from_grad)
        result, report = sparse_hessian_call(s, sparsity, from_grad)
        return result if result is not None else with_report(dense(s, fl), report)

    return body


def _check_hessian_output(s: Call, from_grad: bool) -> None:
    if from_grad and s.ev.out_shape != s.x.shape:
        raise ValueError(
            f"`grad` must return an array of x's shape {s.x.shape} (the gradient), but "
            f"grad(x) has shape {s.ev.out_shape}."
        )
    if not from_grad and s.ev.out_shape != ():
        raise ValueError(
            f"`sparsity` needs a scalar f for hessian, but f(x) has shape {s.ev.out_shape}; "
            "differentiate each component, or drop `sparsity`."
        )


def _hessian_from_gradient(s: Call, fl: Flattening | None) -> Result:
    value, error, status, h = hessian_from_gradient(s)
    return _arranged_hessian(s, value, error, status, h)


def _hessian_from_f(s: Call, fl: Flattening | None) -> Result:
    if s.ev.out_shape == ():
        value, error, status, h = hessian_from_f(s)
        return _arranged_hessian(s, value, error, status, h)
    return _outputs_first(s, *hessian_of_vector_f(s))


def _hessian_by_complex_step(s: Call, fl: Flattening | None) -> Result:
    return _outputs_first(s, *hessian_by_complex_step(s))


def _outputs_first(s: Call, value: Any, error: Any, status: Any, h: Any) -> Result:
    """Hessians ``(n, n, m)`` of f's m outputs as ``f(x).shape + x.shape + x.shape``."""
    shape = s.ev.out_shape + s.x.shape + s.x.shape
    value, error, status = (np.moveaxis(a, -1, 0).reshape(shape) for a in (value, error, status))
    return s.finish(value, error, status, h.reshape(s.x.shape))


def _arranged_hessian(s: Call, value: Any, error: Any, status: Any, h: Any) -> Result:
    shape = s.x.shape + s.x.shape
    return s.finish(value.reshape(shape), error.reshape(shape), status.reshape(shape), h.reshape(s.x.shape))


def jac_of(
    jacobian: Callable[..., Result], f: Any, bound: tuple[Any, ...], options: dict[str, Any]
) -> Callable[..., Any]:
    """The callable of :func:`dfdx.jac`; with ``sparsity='auto'`` the pattern the first call
    detects is passed to the optimiser's later calls."""
    pattern = {"sparsity": options.pop("sparsity", None)}

    def derivative_of_f(x: NDArray[Any], *args: Any) -> Any:
        res = jacobian(f, x, args=args or bound, sparsity=pattern["sparsity"], **options)
        if isinstance(pattern["sparsity"], str) and res.sparsity is not None and not res.sparsity.dense:
            pattern["sparsity"] = res.sparsity.pattern  # detected once: the optimiser calls again
        value = res.value
        return value if hasattr(value, "tocsr") else np.asarray(value)  # sparse stays sparse

    return derivative_of_f


def value_at(
    f: Any, x: Any, *, args: tuple[Any, ...] = (), store: Any = None, vectorized: bool = False
) -> tuple[Any, int]:
    """f(x) as every front-end computes it (by the evaluator), read from `store` or recorded
    there, and the evaluations it took (0 when read).

    For the checker, so that a check after a gradient with the same store evaluates no point twice.
    """
    ev = Evaluator(v.as_function(f), v.as_point(x), args=args, vectorized=vectorized, store=store)
    ev.close()
    return ev.f0, ev.nfev
