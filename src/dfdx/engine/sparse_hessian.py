"""Sparse Hessians: from a gradient by a star colouring, or from f by the pattern's pairs only.

From a gradient, the Hessian is the Jacobian of the gradient, and it is symmetric: a
star colouring of its pattern (:func:`~dfdx.numerics.coloring.star_coloring`) lets
each entry be read either in its row or in its column of the compressed product, so
that an arrowhead matrix takes a few directions where a column grouping (distance-2
colouring, which ignores the symmetry) takes one per column. From f alone, the diagonal
and then one second difference per pair ``(i, j)`` of the pattern
(:func:`~dfdx.engine.hessian.pair_entries`), not all ``n (n - 1) / 2``.

``sparsity='auto'`` traces f (or the gradient) on index sets: for f, every curved
operation records the pairs of coordinates it couples
(:class:`~dfdx.engine.tracer.Pairs`), a superset of the Hessian's pattern.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sps  # type: ignore[import-untyped]
from numpy.typing import NDArray

from .._result import Result, Sparsity
from ..numerics.coloring import count, star_coloring, symmetric_sources
from .detect import VERIFY_SAFETY, detect, traced_pattern
from .hessian import PAIR_CHUNK, hessian_diagonal, pair_entries
from .layouts import Directions
from .sparse import PatternMisses, as_pattern, compressed, group_columns, make_groups
from .sparse_calls import _remember, already_checked, checked_key, sparse_result
from .tracer import Pairs, trace_input

__all__ = ["sparse_hessian_call", "symmetric_pattern", "SECOND_SAFETY"]

Array = NDArray[Any]

#: The check of a Hessian from f allows this many times the error estimates.
SECOND_SAFETY = 1000.0


def symmetric_pattern(pattern: Any) -> sps.csc_array:
    """``P | P^T`` with the diagonal, boolean CSC."""
    p = sps.csr_array(pattern, dtype=bool)
    full = sps.csc_array(p + p.T + sps.eye_array(p.shape[0], dtype=bool), dtype=bool)
    full.sort_indices()
    return full


def _traced_pairs(s: Any) -> sps.csc_array | None:
    """The Hessian pattern of a scalar f from one traced call, or None if f cannot be traced."""
    n = s.x.size
    batch = (1,) if s.ev.vectorized else ()
    try:
        with Pairs(n) as pairs:
            tracer = trace_input(n, s.x.shape + batch)
            s.ev.call_batch(tracer) if batch else s.ev.call(tracer)
    except Exception:
        return None
    return symmetric_pattern(pairs.pattern)


def _pattern(s: Any, sparsity: Any, from_grad: bool) -> tuple[sps.csc_array | None, str, str]:
    """The symmetric pattern (None: compute dense), its source and a note when dense."""
    n = s.x.size
    if not isinstance(sparsity, str):
        return symmetric_pattern(as_pattern(sparsity, n, n)), "given", ""
    if sparsity != "auto":
        raise ValueError(
            f"`sparsity` must be 'auto', a boolean array or a SciPy sparse matrix, got {sparsity!r:.40}."
        )
    if from_grad:
        found, source = detect(s)
        if found is None:
            return None, source, "the gradient looks dense: the Hessian was computed dense"
        return symmetric_pattern(found), source, ""
    traced = _traced_pairs(s)
    if traced is None:
        return (
            None,
            "probed",
            (
                "f could not be traced (sparsity='auto' from f alone traces f; pass `grad=` or the "
                "pattern): the Hessian was computed dense"
            ),
        )
    return traced, "traced", ""


def sparse_hessian_call(s: Any, sparsity: Any, from_grad: bool) -> tuple[Result | None, Sparsity]:
    """The sparse Hessian, or None and the report when it is to be computed dense."""
    n = s.x.size
    pattern, source, note = _pattern(s, sparsity, from_grad)
    if pattern is None:
        return None, Sparsity(pattern=None, colors=n, source=source, dense=True, note=note)
    auto = source != "given"
    key = None if auto else checked_key(s, pattern)
    check = not already_checked(key)
    try:
        build = _from_gradient if from_grad else _from_f
        parts, colors, note, failed = build(s, pattern, auto, check)
    except PatternMisses as exc:
        if not auto:
            raise
        parts, colors, note, failed = None, n, f"the detected pattern missed nonzeros ({exc})", False
    if failed and key is not None:
        misses = _misses(s, pattern, from_grad)
        if misses is not None:
            raise misses
        note += "; the check along a random direction disagreed beyond the error bars (the entries'"
        note += " accuracy): tracing confirms the pattern"
    elif failed:
        parts, note = None, "the detected pattern failed its check: computed dense"
    if key is not None:
        _remember(key)
    if parts is None:
        return None, Sparsity(sps.csr_array(pattern), colors, source, dense=True, note=note)
    kind = "star" if from_grad else "pairs"
    note = f"{source} pattern, {(pattern.nnz - n) // 2} pairs; {note}"
    report = Sparsity(sps.csr_array(pattern), colors, source, note=note, coloring=kind)
    value, error, status, rows, cols, h = parts
    return sparse_result(s, value, error, status, rows, cols, h, report), report


def _misses(s: Any, pattern: sps.csc_array, from_grad: bool) -> PatternMisses | None:
    """A given Hessian pattern failed its check: name the pairs tracing finds outside it.

    None when tracing finds every pair inside the pattern (the check was thrown by the
    accuracy of the entries, not by the pattern).
    """
    found = traced_pattern(s) if from_grad else _traced_pairs(s)
    if found is None:
        return PatternMisses(
            "`sparsity` misses nonzeros of the Hessian: along a random direction the Hessian "
            "disagrees with the one its pattern gives. Add the missing pairs, or pass sparsity='auto'.",
            [],
        )
    missing = sps.triu(symmetric_pattern(found) > pattern).tocoo()
    if missing.nnz == 0:
        return None
    entries = [(int(r), [int(c)]) for r, c in zip(missing.row[:6], missing.col[:6], strict=True)]
    shown = ", ".join(f"({r}, {c[0]})" for r, c in entries)
    more = f" and {missing.nnz - 6} more" if missing.nnz > 6 else ""
    return PatternMisses(
        f"`sparsity` misses {missing.nnz} pair(s) of the Hessian that f couples: {shown}{more}. "
        "Add them to the pattern (either triangle), or pass sparsity='auto'.",
        entries,
    )


def _symmetric(i: Array, j: Array, v: Array, e: Array, st: Array, n: int) -> tuple[Any, ...]:
    """CSR value and error with both triangles, and the statuses in the order of rows, cols."""
    off = i != j
    rows = np.concatenate([i, j[off]])
    cols = np.concatenate([j, i[off]])
    value = sps.csr_array((np.concatenate([v, v[off]]), (rows, cols)), shape=(n, n))
    error = sps.csr_array((np.concatenate([e, e[off]]), (rows, cols)), shape=(n, n))
    return value, error, np.concatenate([st, st[off]]), rows, cols


def _from_gradient(s: Any, pattern: sps.csc_array, auto: bool, check: bool) -> tuple[Any, int, str, bool]:
    """Star colouring, compressed derivatives of the gradient, each entry read once."""
    n = s.x.size
    star = star_coloring(pattern)
    d2 = count(group_columns(pattern))
    if auto and count(star) + 1 >= n:
        return (
            None,
            count(star),
            f"the pattern needs {count(star)} colours for {n} columns: computed dense",
            False,
        )
    groups = make_groups(s, star)
    i, j, row, colour = symmetric_sources(pattern, groups.group)
    value, error, status = compressed(s, pattern, groups, row, colour)
    h = groups.steps[np.where(row == i, j, i)]
    parts = _symmetric(i, j, value / h, error / h, status, n)
    note = f"star colouring: {groups.count} gradient directions (a column grouping needs {d2})"
    failed = check and _disagrees(s, parts[0], parts[1], groups.steps, second=False)
    return (*parts, groups.steps), groups.count, note, failed


def _from_f(s: Any, pattern: sps.csc_array, auto: bool, check: bool) -> tuple[Any, int, str, bool]:
    """The diagonal, then one second difference per pair of the pattern."""
    n = s.x.size
    upper = sps.triu(pattern, k=1).tocoo()
    i_all, j_all = upper.row.astype(np.intp), upper.col.astype(np.intp)
    if auto and len(i_all) * 2 >= n * (n - 1) // 2:
        return None, n + len(i_all), "the pattern holds half the pairs or more: computed dense", False
    diag, h, flat, small, scale = hessian_diagonal(s)
    v, e, st = [diag[0]], [diag[1]], [np.asarray(diag[2], dtype=np.int8)]
    for start in range(0, len(i_all), PAIR_CHUNK):
        i, j = i_all[start : start + PAIR_CHUNK], j_all[start : start + PAIR_CHUNK]
        pv, pe, worst = pair_entries(s, h, flat, small, diag, scale, i, j)
        v.append(pv)
        e.append(pe)
        st.append(np.asarray(worst, dtype=np.int8))
    every = np.arange(n)
    parts = _symmetric(
        np.concatenate([every, i_all]),
        np.concatenate([every, j_all]),
        np.concatenate(v),
        np.concatenate(e),
        np.concatenate(st),
        n,
    )
    # Along the default steps: the scout's long steps suit polynomial axes only.
    failed = check and _disagrees(s, parts[0], parts[1], small, second=True)
    return (*parts, h), n + len(i_all), f"{n} + {len(i_all)} second differences", failed


def _disagrees(s: Any, value: sps.csr_array, error: sps.csr_array, steps: Array, second: bool) -> bool:
    """Whether ``H d`` (or ``d^T H d``, `second`) disagrees with the derivative along a random d."""
    d = np.random.default_rng(54321).choice([-1.0, 1.0], size=s.x.size) * np.asarray(steps).ravel()
    est, _ = s.run(Directions(s.x, d[None, :]), h=np.ones(1))
    along = est.value.reshape(-1)
    product = value @ d
    bound = abs(error) @ np.abs(d)
    scale = abs(value) @ np.abs(d)
    if second:
        product, bound, scale = (
            np.atleast_1d(d @ product),
            np.atleast_1d(np.abs(d) @ bound),
            np.atleast_1d(np.abs(d) @ scale),
        )
    # Second differences' error bars are less sure than first differences': the check is
    # for pairs missing from the pattern (each worth about |H_ij| h_i h_j), not for accuracy.
    safety = SECOND_SAFETY if second else VERIFY_SAFETY
    allowed = safety * (bound + est.error.reshape(-1)) + 64 * s.eps * (scale + np.abs(along))
    with np.errstate(invalid="ignore"):
        return bool(np.any(~(np.abs(product - along) <= allowed) & np.isfinite(along)))
