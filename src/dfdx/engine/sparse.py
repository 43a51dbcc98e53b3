"""Sparse Jacobians and Hessians: structurally independent columns share their evaluations.

Two columns of a Jacobian whose nonzero rows do not overlap can be perturbed at once:
``f(x + t (h_i e_i + h_j e_j))`` changes row ``r`` through at most one of them. The
columns are coloured (:mod:`dfdx.numerics.coloring`), each colour is one direction for
the engine, and entry ``(r, c)`` is read off the derivative along the colour of ``c``
divided by ``h_c``. A Hessian from a gradient reads each entry in its row or in its
column (a star colouring), so that it needs fewer directions still.

The directions go through :meth:`~dfdx.engine.dispatch.Call.run` like any other, a few
colours at a time, so that the values held at once stay within :data:`CHUNK_BYTES`;
with ``workers=`` the points of a chunk are spread over the workers.

Bounds are planned per column first: a column next to a bound gets its one-sided stencil,
and a colour is split by stencil, so columns at opposite bounds never share a direction.

Rows that change along a colour although the pattern gives none of its columns an entry
in them are nonzeros the pattern misses: :class:`PatternMisses` names them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sps  # type: ignore[import-untyped]
from numpy.typing import NDArray

from ..numerics.coloring import column_groups, count
from ..numerics.stencils import Stencil
from .bounds import plan, rooms
from .dispatch import Call
from .fixed import entry_status
from .layouts import Axes, Directions

__all__ = [
    "as_pattern",
    "group_columns",
    "pattern_key",
    "Groups",
    "make_groups",
    "compressed",
    "sparse_jacobian",
    "PatternMisses",
    "CHUNK_BYTES",
]

Array = NDArray[Any]

#: Values of f held at once for the colours of one chunk (points x stencil x outputs).
CHUNK_BYTES = 16 * 2**20


class PatternMisses(ValueError):
    """The pattern has no entry where f visibly changes; ``entries`` lists ``(row, columns)``."""

    def __init__(self, message: str, entries: list[tuple[int, list[int]]]) -> None:
        super().__init__(message)
        self.entries = entries


def as_pattern(sparsity: Any, m: int, n: int) -> sps.csc_array:
    """The nonzero pattern as a boolean CSC array of shape ``(m, n)``."""
    if sps.issparse(sparsity):
        pattern = sps.csc_array(sparsity, dtype=bool)
    else:
        try:
            dense = np.asarray(sparsity)
        except (TypeError, ValueError):
            raise TypeError(
                f"`sparsity` must be a boolean array, a SciPy sparse matrix or 'auto', got {sparsity!r:.60}."
            ) from None
        if dense.dtype.kind not in "biuf":
            raise TypeError(
                f"`sparsity` must be a boolean (or 0/1) array, a SciPy sparse matrix or 'auto', got "
                f"dtype {dense.dtype}."
            )
        if dense.ndim != 2:
            raise ValueError(
                f"`sparsity` must be 2-D of shape (m, n) = ({m}, {n}) (m = f(x).size, "
                f"n = x.size), got shape {dense.shape}."
            )
        pattern = sps.csc_array(dense != 0)
    if pattern.shape != (m, n):
        raise ValueError(
            f"`sparsity` must have shape (m, n) = ({m}, {n}) (m = f(x).size, n = x.size), "
            f"got {pattern.shape}."
        )
    pattern.sum_duplicates()
    pattern.eliminate_zeros()
    pattern.sort_indices()
    return pattern


_GROUPS: dict[bytes, NDArray[np.intp]] = {}


def pattern_key(pattern: sps.csc_array) -> bytes:
    """A digest of a canonical CSC pattern."""
    digest = hashlib.blake2b(repr(pattern.shape).encode())
    digest.update(pattern.indptr.tobytes())
    digest.update(pattern.indices.tobytes())
    return digest.digest()


def group_columns(pattern: sps.csc_array) -> NDArray[np.intp]:
    """:func:`~dfdx.numerics.coloring.column_groups`, remembered per pattern (optimisers ask again)."""
    key = pattern_key(pattern)
    if key not in _GROUPS:
        if len(_GROUPS) >= 64:
            _GROUPS.clear()
        _GROUPS[key] = column_groups(pattern)
    return _GROUPS[key]


@dataclass(frozen=True)
class Groups:
    """The directions of a compressed derivative: a group and a step per column.

    ``group[c]`` numbers the direction column c moves in; ``stencil[g]`` and
    ``one_sided[g]`` are the stencil of group g and whether it is one-sided.
    """

    group: NDArray[np.intp]
    steps: NDArray[np.float64]
    stencil: list[Stencil]
    one_sided: list[bool]

    @property
    def count(self) -> int:
        return len(self.stencil)


def make_groups(s: Call, colors: NDArray[np.intp]) -> Groups:
    """Split the colours by the stencil each column needs within the bounds (if any)."""
    n = s.x.size
    layout = Axes(s.x, np.arange(n))
    h = s.steps(layout)
    if s.bounds is None:
        k = count(colors)
        return Groups(colors, h, [s.stencil] * k, [False] * k)
    part = np.zeros(n, dtype=np.intp)
    steps = np.asarray(h, dtype=np.float64).copy()
    stencils, sided = [], []
    for p, g in enumerate(plan(*rooms(layout, *s.bounds), s.stencil, h)):
        part[g.index], steps[g.index] = p, g.steps
        stencils.append(g.stencil)
        sided.append(g.one_sided)
    key = colors.astype(np.int64) * len(stencils) + part
    _, group = np.unique(key, return_inverse=True)
    first = np.zeros(int(group.max()) + 1 if n else 0, dtype=np.intp)
    first[group] = part
    return Groups(group.astype(np.intp), steps, [stencils[p] for p in first], [sided[p] for p in first])


def compressed(
    s: Call, pattern: sps.csc_array, groups: Groups, rows: Array, group_of: Array
) -> tuple[Array, Array, Array]:
    """Derivatives of f along the groups, read at ``(rows[k], group_of[k])`` for every k.

    Returns value, error and status at those entries. Rows that change along a group
    in which `pattern` gives them no column raise :class:`PatternMisses`.
    """
    m = int(pattern.shape[0])
    value, error = np.empty(len(rows)), np.empty(len(rows))
    status = np.zeros(len(rows), dtype=np.int8)
    coo = pattern.tocoo()
    entry_group = _small(groups.group, groups.count)[coo.col]
    per_group = max(1, 4 * m * 8 * max(len(st.offsets) for st in groups.stencil or [s.stencil]))
    chunk = max(1, CHUNK_BYTES // per_group)
    for lo in range(0, groups.count, chunk):
        hi = min(groups.count, lo + chunk)
        along, err, st = _along(s, groups, range(lo, hi))
        want = np.flatnonzero((group_of >= lo) & (group_of < hi))
        k, r = group_of[want] - lo, rows[want]
        value[want], error[want], status[want] = along[k, r], err[k, r], st[k, r]
        covered = np.zeros(along.shape, dtype=bool)
        inside = (entry_group >= lo) & (entry_group < hi)
        covered[entry_group[inside] - lo, coo.row[inside]] = True
        _check_covered(pattern, groups, range(lo, hi), along, err, covered)
    return value, error, status


def _small(group: Array, k: int) -> Array:
    """Group numbers in the smallest integer type that holds them."""
    return group.astype(np.int16 if k < 2**15 else np.int32 if k < 2**31 else np.int64)


def _along(s: Call, groups: Groups, chosen: range) -> tuple[Array, Array, Array]:
    """Derivatives along the groups `chosen`, shape ``(len(chosen), m)`` each."""
    n = s.x.size
    m = int(np.prod(s.ev.out_shape, dtype=np.intp))
    along, err = np.empty((len(chosen), m)), np.empty((len(chosen), m))
    st = np.zeros((len(chosen), m), dtype=np.int8)
    kinds: dict[Stencil, list[int]] = {}
    for k, g in enumerate(chosen):
        kinds.setdefault(groups.stencil[g], []).append(k)
    for stencil, ks in kinds.items():
        gs = [chosen[k] for k in ks]
        directions = np.zeros((len(gs), n))
        for row, g in enumerate(gs):
            cols = np.flatnonzero(groups.group == g)
            directions[row, cols] = groups.steps[cols]
        est, _ = s.run(Directions(s.x, directions), stencil, h=np.ones(len(gs)))
        if groups.one_sided[gs[0]]:
            est.one_sided = np.ones(est.value.shape, dtype=bool)
        along[ks] = est.value.reshape(len(gs), m)
        err[ks] = est.error.reshape(len(gs), m)
        st[ks] = entry_status(est).reshape(len(gs), m)
    return along, err, st


def _check_covered(
    pattern: sps.csc_array, groups: Groups, chosen: range, along: Array, err: Array, covered: Array
) -> None:
    """Raise :class:`PatternMisses` where a row changes along a group that has no entry in it."""
    with np.errstate(invalid="ignore"):
        seen = ~covered & (np.abs(along) > err) & np.isfinite(along)
    if not seen.any():
        return
    by_row = pattern.tocsr()
    entries = []
    for k, r in np.argwhere(seen)[:6]:
        cols = np.flatnonzero(groups.group == chosen[k])
        entries.append((int(r), [int(c) for c in cols[:8]]))
    shown = "; ".join(
        f"row {r} changes with one of columns {', '.join(map(str, cols))}{' ...' if len(cols) == 8 else ''}"
        + f" (its row has entries in {_few(by_row.indices[by_row.indptr[r] : by_row.indptr[r + 1]])})"
        for r, cols in entries
    )
    total = int(seen.sum())
    raise PatternMisses(
        f"`sparsity` misses nonzeros of the Jacobian that dfdx can see ({total} row(s) change along "
        f"columns the pattern says they do not depend on): {shown}. Add these entries to the pattern, "
        "or pass sparsity='auto' to detect it.",
        entries,
    )


def _few(cols: Array) -> str:
    return "no column" if cols.size == 0 else "columns " + ", ".join(str(int(c)) for c in cols[:8])


def sparse_jacobian(
    s: Call, pattern: sps.csc_array, colors: NDArray[np.intp] | None = None
) -> tuple[Any, ...]:
    """Value and error (CSR, shape ``(m, n)``), entry status, rows, columns, steps and colours.

    The statuses are per stored entry, in the order of ``rows`` and ``cols``. `s` is
    the validated call (:class:`dfdx.engine.dispatch.Call`).
    """
    groups = make_groups(s, group_columns(pattern) if colors is None else colors)
    coo = pattern.tocoo()
    rows, cols = coo.row, coo.col  # int32 for patterns below 2^31 entries: half the memory
    value, error, status = compressed(s, pattern, groups, rows, _small(groups.group, groups.count)[cols])
    h = groups.steps
    shape = pattern.shape
    return (
        sps.csr_array((value / h[cols], (rows, cols)), shape=shape),
        sps.csr_array((error / h[cols], (rows, cols)), shape=shape),
        status,
        rows,
        cols,
        h,
        groups.count,
    )
