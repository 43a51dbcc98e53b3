"""Colourings of sparsity patterns: which columns may share one evaluation.

Two columns of a Jacobian whose nonzero rows do not overlap can be perturbed at once:
a *column grouping* (Curtis, Powell and Reid; a distance-2 colouring of the bipartite
graph of rows and columns) gives every column a colour so that no two columns of one
colour share a row. :func:`column_groups` finds one with a few vectorized sweeps, so
that a pattern of a million columns is coloured in a fraction of a second:

0. A cyclic colouring ``j mod K``, if one with K near the largest row count is valid
   (banded matrices and stencils on grids: the lower bound, or close to it).
1. Otherwise Jones-Plassmann: in each round the uncoloured columns whose random priority is the
   largest among the uncoloured columns they share a row with take, all at once, the
   smallest colour none of their rows has yet. Such columns share no row with each
   other, so they never clash.
2. Iterated greedy (Culberson): the columns are coloured again, one colour class at a
   time (a class shares no rows, so it is coloured at once), largest class first, then
   in reverse order. A pass never uses more colours than the one before.

The colours used by each row are kept as bit sets (64 colours a word), so "the smallest
colour none of its rows has" is an OR over the rows and a lowest-zero-bit.

A symmetric matrix (a Hessian) needs fewer: a *star colouring* of its adjacency graph
(every path on four vertices sees at least three colours) lets every entry be read off
a compressed product either in its row or in its column (Gebremedhin, Manne and Pothen,
"What color is your Jacobian? Graph coloring for computing derivatives", SIAM Review
47 (2005), 629-705, Sec. 4). An arrowhead matrix takes one colour for its hub and a few
for the rest, where a column grouping takes one per column.

References
----------
A. R. Curtis, M. J. D. Powell and J. K. Reid, "On the estimation of sparse Jacobian
matrices", IMA J. Appl. Math. 13 (1974), 117-119.
M. T. Jones and P. E. Plassmann, "A parallel graph coloring heuristic", SIAM J. Sci.
Comput. 14 (1993), 654-669.
J. C. Culberson, "Iterated greedy graph coloring and the difficulty landscape",
technical report TR 92-07, University of Alberta (1992).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sps  # type: ignore[import-untyped]
from numpy.typing import NDArray

__all__ = ["column_groups", "star_coloring", "symmetric_sources", "count"]

Array = NDArray[Any]
Ints = NDArray[np.intp]

_ONE = np.uint64(1)


def count(colors: Ints) -> int:
    """The number of colours in `colors` (0 for no columns)."""
    return int(colors.max()) + 1 if colors.size else 0


def _ranges(starts: Ints, stops: Ints) -> Ints:
    """``concatenate([arange(a, b) for a, b in zip(starts, stops)])``, vectorized."""
    lengths = stops - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.intp)
    shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.asarray(np.arange(total) + shift, dtype=np.intp)


class _RowColours:
    """Which colours each row already has, as bit sets of 64 colours a word."""

    def __init__(self, m: int) -> None:
        self.words = np.zeros((m, 1), dtype=np.uint64)

    def take(self, pattern: sps.csc_array, columns: Ints) -> Ints:
        """Give each of `columns` (sharing no row) the smallest colour its rows lack."""
        indptr, indices = pattern.indptr, pattern.indices
        starts, stops = indptr[columns], indptr[columns + 1]
        rows = indices[_ranges(starts, stops)]
        filled = stops > starts
        colours = np.zeros(len(columns), dtype=np.intp)
        if not filled.any():
            return colours
        offsets = np.concatenate(([0], np.cumsum(stops - starts)[:-1]))[filled]
        used = np.bitwise_or.reduceat(self.words[rows], offsets, axis=0)
        free = ~used
        has = free != 0
        word = np.argmax(has, axis=1)
        lowest = free[np.arange(len(word)), word]
        lowest &= ~lowest + _ONE
        bit = np.frexp(lowest.astype(np.float64))[1] - 1
        colour = np.where(has.any(axis=1), 64 * word + bit, 64 * self.words.shape[1])
        colours[filled] = colour
        need = int(colour.max()) // 64 + 1
        if need > self.words.shape[1]:
            grown = np.zeros((self.words.shape[0], need), dtype=np.uint64)
            grown[:, : self.words.shape[1]] = self.words
            self.words = grown
        per_row = np.repeat(colours, stops - starts)
        # The columns share no row: each row is written once.
        self.words[rows, per_row // 64] |= _ONE << (per_row % 64).astype(np.uint64)
        return colours


def _jones_plassmann(pattern: sps.csc_array, seed: int) -> Ints:
    """A first colouring, a round per wave of columns that are local priority maxima."""
    m, n = pattern.shape
    colours = np.full(n, -1, dtype=np.intp)
    priority = np.random.default_rng(seed).permutation(n).astype(np.int64)
    rows = _RowColours(m)
    left = np.arange(n, dtype=np.intp)
    sub = pattern
    while left.size:
        by_row = sub.tocsr()
        prio = priority[left]
        row_best = np.full(m, -1, dtype=np.int64)
        full = np.flatnonzero(np.diff(by_row.indptr))
        if full.size:
            row_best[full] = np.maximum.reduceat(prio[by_row.indices], by_row.indptr[full])
        best = np.full(left.size, -1, dtype=np.int64)
        has = np.flatnonzero(np.diff(sub.indptr))
        if has.size:
            best[has] = np.maximum.reduceat(row_best[sub.indices], sub.indptr[has])
        wins = best <= prio  # the largest in every row it has (or no rows at all)
        colours[left[wins]] = rows.take(pattern, left[wins])
        left, sub = left[~wins], sub[:, ~wins]
    return colours


def _recolour(pattern: sps.csc_array, colours: Ints, order: Ints) -> Ints:
    """One iterated-greedy pass: the classes in `order`, each coloured at once."""
    rows = _RowColours(pattern.shape[0])
    out = np.empty_like(colours)
    by_class = np.argsort(colours, kind="stable")
    bounds = np.searchsorted(colours[by_class], np.arange(count(colours) + 1))
    for k in order:
        members = by_class[bounds[k] : bounds[k + 1]]
        out[members] = rows.take(pattern, members)
    return out


def _modular(pattern: sps.csc_array, tries: int = 8) -> Ints | None:
    """``j mod K`` for the smallest K from the largest row count that no row repeats, if any.

    Banded and stencil patterns (a grid's rows, numbered in order) have one: it is
    tried first, at the cost of one pass over the pattern per K, and it is optimal
    when K is the largest number of nonzeros in a row, a lower bound of any grouping.
    """
    by_row = pattern.tocsr()
    by_row.sort_indices()
    lengths = np.diff(by_row.indptr)
    lower = max(1, int(lengths.max()) if lengths.size else 1)
    rows = np.repeat(np.arange(by_row.shape[0], dtype=np.intp), lengths)
    for k in range(lower, lower + tries):
        if k >= pattern.shape[1] or np.bincount(rows * k + by_row.indices % k).max(initial=0) <= 1:
            return np.arange(pattern.shape[1], dtype=np.intp) % k
    return None


def column_groups(pattern: Any, seed: int = 0, passes: int = 4) -> Ints:
    """The colour of every column: no two columns of one colour share a row.

    `pattern` is an ``(m, n)`` SciPy sparse array (nonzero = structurally nonzero).
    Colours are numbered from 0 with no gaps; the result is the same for the same
    pattern and `seed`.

    Examples
    --------
    >>> import scipy.sparse as sps
    >>> tridiagonal = sps.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(6, 6))
    >>> int(column_groups(sps.csc_array(tridiagonal)).max()) + 1
    3
    """
    csc = sps.csc_array(pattern, dtype=bool)
    csc.sum_duplicates()
    csc.eliminate_zeros()
    if csc.shape[1] == 0:
        return np.zeros(0, dtype=np.intp)
    found = _modular(csc)
    if found is not None:
        return found
    colours = _jones_plassmann(csc, seed)
    for p in range(passes):
        k = count(colours)
        sizes = np.bincount(colours, minlength=k)
        order = np.argsort(-sizes, kind="stable") if p % 2 == 0 else np.arange(k)[::-1]
        colours = _recolour(csc, colours, order)
        if count(colours) == k and p >= 1:
            break
    return colours


def _adjacency(pattern: Any) -> sps.csr_array:
    """The symmetric adjacency of a square pattern: ``P | P^T`` without the diagonal."""
    p = sps.csr_array(pattern, dtype=bool)
    if p.shape[0] != p.shape[1]:
        raise ValueError(f"a symmetric pattern must be square, got shape {p.shape}")
    adj = sps.csr_array(p + p.T, dtype=bool)
    adj.setdiag(False)
    adj.eliminate_zeros()
    adj.sort_indices()
    return adj


def star_coloring(pattern: Any) -> Ints:
    """A star colouring of the adjacency graph of a symmetric pattern (largest degree first).

    A distance-1 colouring in which every path on four vertices uses at least three
    colours, by the greedy rule of Gebremedhin, Manne and Pothen (2005, Algorithm 4.1):
    vertex v may not take the colour of a neighbour, nor that of a vertex x two steps
    away through an uncoloured neighbour w, nor that of x beyond a coloured neighbour w
    when x has another neighbour of w's colour (that would close a two-coloured path of
    four). The last test is kept up to date per vertex, so a vertex of huge degree (the
    hub of an arrowhead) costs its degree once, not at every neighbour.

    Examples
    --------
    >>> import numpy as np
    >>> arrow = np.eye(6, dtype=bool); arrow[0, :] = arrow[:, 0] = True
    >>> star_coloring(arrow).tolist()
    [0, 1, 1, 1, 1, 1]
    """
    adj = _adjacency(pattern)
    n = adj.shape[0]
    indptr, indices = adj.indptr, adj.indices.tolist()
    degree = np.diff(indptr)
    colour = [-1] * n
    by_colour: list[dict[int, list[int]]] = [{} for _ in range(n)]
    bad: list[set[int]] = [set() for _ in range(n)]
    for v in np.argsort(-degree, kind="stable").tolist():
        near = indices[indptr[v] : indptr[v + 1]]
        forbidden: set[int] = set()
        for w in near:
            if colour[w] < 0:
                forbidden.update(by_colour[w])
            else:
                forbidden.add(colour[w])
                forbidden |= bad[w]
        c = 0
        while c in forbidden:
            c += 1
        colour[v] = c
        for x in near:
            same = by_colour[x].setdefault(c, [])
            same.append(v)
            if colour[x] >= 0 and len(same) >= 2:
                for w in same if len(same) == 2 else (v,):
                    bad[w].add(colour[x])
        for same in by_colour[v].values():
            if len(same) >= 2:
                for w in same:
                    bad[w].add(c)
    return np.asarray(colour, dtype=np.intp)


def symmetric_sources(pattern: Any, colors: Ints) -> tuple[Ints, Ints, Ints, Ints]:
    """Where each entry of a symmetric matrix is read in its compressed product ``B = H S``.

    ``S`` has one column per colour (the sum of the unit vectors of that colour). For
    each stored entry ``(i, j)`` with ``i <= j`` of ``P | P^T`` (diagonal included),
    returns ``i, j`` and the entry ``(row, colour)`` of ``B`` that equals it: ``(i,
    c_j)`` when j is the only vertex of its colour in row i, else ``(j, c_i)``. A star
    colouring guarantees one of the two (a column grouping, both).

    Raises
    ------
    ValueError
        If `colors` is not a colouring that lets some entry be read (not a star colouring).
    """
    adj = _adjacency(pattern)
    n = adj.shape[0]
    full = sps.csr_array(adj + sps.eye_array(n, dtype=bool, format="csr"), dtype=bool)
    coo = full.tocoo()
    k = count(colors)
    counts = np.bincount(coo.row * k + colors[coo.col], minlength=n * k)
    upper = coo.row <= coo.col
    i, j = coo.row[upper].astype(np.intp), coo.col[upper].astype(np.intp)
    in_row = counts[i * k + colors[j]] == 1
    in_col = counts[j * k + colors[i]] == 1
    if not np.all(in_row | in_col):
        bad = np.flatnonzero(~(in_row | in_col))[:6]
        raise ValueError(
            "the colouring does not determine the symmetric matrix: entries "
            + ", ".join(f"({int(i[b])}, {int(j[b])})" for b in bad)
            + " share their colour with another entry of both their row and their column"
        )
    row = np.where(in_row, i, j)
    colour = np.where(in_row, colors[j], colors[i])
    return i, j, row, colour
