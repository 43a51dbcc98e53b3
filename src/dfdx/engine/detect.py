"""``sparsity='auto'``: find the Jacobian's pattern, and check it.

Two ways, the cheaper first:

1. **Tracing** (:mod:`dfdx.engine.tracer`): f is called once on an array of index sets;
   what it returns is the pattern over every x, at about the cost of a few
   evaluations. NumPy code made of ufuncs, indexing, slicing and the common array
   functions traces; code that turns x into numbers or branches on it does not.
2. **Probing**: at a random point near x (within a stencil's reach of it, inside the
   bounds), every coordinate is moved by a random step of the stencil's size; an output
   that changes depends on that coordinate. The coordinates go in chunks, and as soon as
   a row is seen to depend on half the coordinates probed so far probing stops: f is
   (nearly) dense, and the dense Jacobian follows at its own cost. At a second random
   point the colours of the pattern found are moved together, one evaluation each, and
   the coordinates of a colour along which a row changes unexpectedly are probed again.

Either way the derivative is then checked along one more random direction against the
product of the compressed Jacobian with it (:func:`verify`); the caller falls back to
the dense Jacobian when the check fails.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sps  # type: ignore[import-untyped]
from numpy.typing import NDArray

from ..numerics.coloring import column_groups, count
from .bounds import rooms
from .layouts import Axes, AxisPoints, Directions, VectorPoints
from .tracer import Tracer, trace_input

__all__ = ["detect", "traced_pattern", "verify", "PROBE_CHUNK_MIN"]

Array = NDArray[Any]

#: Coordinates probed before probing may conclude that f is dense.
PROBE_CHUNK_MIN = 8
#: The check along a random direction allows this many times the error estimates.
VERIFY_SAFETY = 10.0


def detect(s: Any) -> tuple[sps.csc_array | None, str]:
    """The pattern (None: f is dense) and how it was found: ``'traced'`` or ``'probed'``."""
    traced = traced_pattern(s)
    if traced is not None:
        return traced, "traced"
    return _probed(s), "probed"


def traced_pattern(s: Any) -> sps.csc_array | None:
    """f run on index sets, or None if f does something tracing cannot follow."""
    n, out_shape = s.x.size, s.ev.out_shape
    batch = (1,) if s.ev.vectorized else ()
    try:
        out = (
            s.ev.call_batch(trace_input(n, s.x.shape + batch))
            if batch
            else s.ev.call(trace_input(n, s.x.shape))
        )
    except Exception:
        return None  # f cannot be traced: probe it
    m = int(np.prod(out_shape, dtype=np.intp))
    if not isinstance(out, Tracer) or out.shape != tuple(out_shape) + batch:
        return None
    return sps.csc_array(out.deps.reshape(m, n), dtype=bool)


def _probe_points(s: Any, seed: int) -> tuple[Array, Array]:
    """A random point within a stencil step of x (inside the box) and a signed step per coordinate."""
    rng = np.random.default_rng(seed)
    n = s.x.size
    h = np.asarray(s.steps(Axes(s.x, np.arange(n))), dtype=np.float64)
    flat = s.x.ravel().astype(np.float64)
    base = flat + rng.uniform(-1.0, 1.0, n) * h
    step = (1.0 + rng.random(n)) * h
    if s.bounds is not None:
        lower, upper = (np.broadcast_to(np.asarray(b, dtype=np.float64), s.x.shape).ravel() for b in s.bounds)
        base = np.clip(base, lower, upper)
        ahead, behind = upper - base, base - lower
        step = np.where(
            ahead >= step,
            step,
            np.where(behind >= step, -step, np.where(ahead >= behind, ahead, -behind) / 2),
        )
    return base.reshape(s.x.shape).astype(s.x.dtype), step


def _probed(s: Any) -> sps.csc_array | None:
    """Coordinates moved one at a time at a random point, then by colours at another.

    At the second point the colours of the first point's pattern are moved together
    (structured perturbations, one evaluation a colour); a row that changes along a
    colour without an entry there has a dependence the first point missed, and that
    colour's coordinates are moved one at a time again.
    """
    n = s.x.size
    m = int(np.prod(s.ev.out_shape, dtype=np.intp))
    chunk = max(PROBE_CHUNK_MIN, -(-n // 16))
    base, step = _probe_points(s, 0)
    at_base = _at(s, base, m)
    parts = []
    for lo in range(0, n, chunk):
        cols = np.arange(lo, min(n, lo + chunk))
        parts.append(_one_at_a_time(s, base, step, cols, at_base))
        if _looks_dense(parts, lo + len(cols)):
            return None
    first = sps.csc_array(sps.hstack(parts, format="csc"), dtype=bool)
    return _second_point(s, first)


def _at(s: Any, base: Array, m: int) -> Array:
    return _evaluate(s, VectorPoints(base, np.zeros((1, s.x.size)), np.array([1.0]))).reshape(m)


def _one_at_a_time(s: Any, base: Array, step: Array, cols: Array, at_base: Array) -> sps.csc_array:
    """Which outputs change when each of `cols` moves alone (shape ``(m, len(cols))``)."""
    values = _evaluate(s, AxisPoints(base, cols, step[cols], np.array([1.0]))).reshape(len(cols), -1)
    return sps.csc_array((values != at_base).T)


def _second_point(s: Any, first: sps.csc_array) -> sps.csc_array:
    """The colours of `first` moved together at another random point; unexpected rows probed."""
    n, m = s.x.size, first.shape[0]
    colors = column_groups(first)
    base, step = _probe_points(s, 1)
    at_base = _at(s, base, m)
    directions = np.zeros((count(colors), n))
    directions[colors, np.arange(n)] = step
    moved = _evaluate(s, VectorPoints(base, directions, np.array([1.0]))).reshape(len(directions), m)
    expected = sps.csr_array(
        (np.ones(first.nnz, dtype=bool), (colors[first.tocoo().col], first.tocoo().row)),
        shape=(len(directions), m),
    ).toarray()
    suspects = np.flatnonzero(((moved != at_base) & ~expected).any(axis=1))
    found = first.tolil()
    for g in suspects:
        cols = np.flatnonzero(colors == g)
        found[:, cols] = found[:, cols].toarray() | _one_at_a_time(s, base, step, cols, at_base).toarray()
    return sps.csc_array(found, dtype=bool)


def _looks_dense(parts: list[sps.csc_array], probed: int) -> bool:
    """A row depends on at least half the coordinates probed: no grouping can save much."""
    if probed < PROBE_CHUNK_MIN:
        return False
    per_row = sum(np.asarray(p.sum(axis=1)).ravel() for p in parts)
    return bool(np.max(per_row) * 2 >= probed)


def _evaluate(s: Any, points: Any) -> Array:
    try:
        return np.asarray(s.ev(points))
    except ValueError as exc:
        if "shape" in str(exc):
            raise ValueError(
                f"sparsity='auto': f changed the shape of its output while dfdx probed it for its "
                f"sparsity pattern: {exc}"
            ) from exc
        raise


def verify(s: Any, value: sps.csr_array, error: sps.csr_array, steps: Array) -> str:
    """Compare ``J d`` with the derivative along one random direction d; '' if they agree.

    Otherwise a sentence naming the outputs that disagree (a nonzero the pattern missed).
    """
    rng = np.random.default_rng(12345)
    sign = rng.choice([-1.0, 1.0], size=s.x.size)
    if s.bounds is not None:
        # Into the box from every coordinate: the stencil along d is then one-sided at worst.
        minus, plus = rooms(Axes(s.x, np.arange(s.x.size)), *s.bounds)
        sign = np.where(plus >= minus, 1.0, -1.0)
    d = sign * np.asarray(steps, dtype=np.float64).ravel()
    est, _ = s.run(Directions(s.x, d[None, :]), h=np.ones(1))
    along = est.value.reshape(-1)
    product = value @ d
    allowed = VERIFY_SAFETY * (abs(error) @ np.abs(d) + est.error.reshape(-1))
    allowed += 64 * s.eps * (abs(value) @ np.abs(d) + np.abs(along))
    with np.errstate(invalid="ignore"):
        wrong = ~(np.abs(product - along) <= allowed) & np.isfinite(along)
    if not wrong.any():
        return ""
    rows = np.flatnonzero(wrong)
    shown = ", ".join(str(int(r)) for r in rows[:6]) + (f" and {rows.size - 6} more" if rows.size > 6 else "")
    return (
        f"along a random direction the derivative of outputs {shown} disagrees with the "
        "compressed Jacobian's product"
    )
