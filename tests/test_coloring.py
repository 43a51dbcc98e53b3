"""Colourings: column groupings share no row, star colourings leave no two-coloured path of four."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sps
from hypothesis import given, settings
from hypothesis import strategies as st

from dfdx.numerics.coloring import column_groups, count, star_coloring, symmetric_sources


def random_pattern(m: int, n: int, density: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((m, n)) < density


def assert_grouping(dense: np.ndarray, group: np.ndarray) -> None:
    assert group.shape == (dense.shape[1],)
    if group.size:
        assert group.min() == 0 and set(group.tolist()) == set(range(count(group)))
    for g in range(count(group)):
        assert dense[:, group == g].sum(axis=1).max(initial=0) <= 1


def grid(N: int) -> sps.csc_array:
    eye = sps.identity(N, dtype=float)
    tri = sps.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(N, N))
    return sps.csc_array((sps.kron(tri, eye) + sps.kron(eye, tri)) != 0)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 14), st.integers(1, 14), st.floats(0.05, 0.7), st.integers(0, 2**31))
def test_column_groups_share_no_row(m: int, n: int, density: float, seed: int) -> None:
    dense = random_pattern(m, n, density, seed)
    assert_grouping(dense, column_groups(sps.csc_array(dense)))


@settings(max_examples=30, deadline=None)
@given(st.integers(30, 200), st.integers(2, 6), st.integers(0, 2**31))
def test_unstructured_patterns_take_the_general_path(n: int, per_row: int, seed: int) -> None:
    # Random columns per row: no cyclic colouring fits, so the Jones-Plassmann path runs.
    rng = np.random.default_rng(seed)
    dense = np.zeros((n, n), dtype=bool)
    for r in range(n):
        dense[r, rng.choice(n, per_row, replace=False)] = True
    group = column_groups(sps.csc_array(dense))
    assert_grouping(dense, group)
    assert count(group) >= dense.sum(axis=1).max()


def test_more_than_64_colours() -> None:
    dense = np.ones((3, 150), dtype=bool)
    group = column_groups(sps.csc_array(dense))
    assert sorted(group.tolist()) == list(range(150))


def test_stencils_on_grids_take_the_fewest_colours() -> None:
    assert count(column_groups(sps.diags_array([1.0] * 3, offsets=[-1, 0, 1], shape=(1000, 1000)))) == 3
    # The 5-point stencil: a row holds 5 columns, so at least 5 colours; 6 found.
    assert count(column_groups(grid(40))) <= 6
    assert_grouping(grid(12).toarray(), column_groups(grid(12)))


def test_empty_columns_and_patterns() -> None:
    assert column_groups(sps.csc_array((3, 0), dtype=bool)).size == 0
    assert column_groups(sps.csc_array((3, 4), dtype=bool)).tolist() == [0, 0, 0, 0]


def has_two_coloured_path_of_four(adj: np.ndarray, colour: np.ndarray) -> bool:
    n = len(adj)
    for a, b, c, d in itertools.permutations(range(n), 4):
        if adj[a, b] and adj[b, c] and adj[c, d] and colour[a] == colour[c] and colour[b] == colour[d]:
            return True
    return False


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 8), st.floats(0.1, 0.8), st.integers(0, 2**31))
def test_star_colouring_property(n: int, density: float, seed: int) -> None:
    sym = random_pattern(n, n, density, seed)
    sym = sym | sym.T
    adj = sym & ~np.eye(n, dtype=bool)
    colour = star_coloring(sym)
    assert not any(adj[i, j] and colour[i] == colour[j] for i in range(n) for j in range(n))
    assert not has_two_coloured_path_of_four(adj, colour)
    i, j, row, col = symmetric_sources(sym, colour)
    # Every entry is read where no other entry of its colour shares the row.
    full = sym | np.eye(n, dtype=bool)
    for r, c, a, b in zip(i, j, row, col, strict=True):
        assert full[a, :][colour == b].sum() == 1
        assert (a, colour[c if a == r else r]) == (a, b)


def test_star_colouring_of_an_arrowhead_and_a_band() -> None:
    n = 2000
    arrow = sps.lil_array(sps.eye_array(n, dtype=bool))
    arrow[0, :] = True
    arrow[:, 0] = True
    assert count(star_coloring(arrow)) == 2
    assert count(column_groups(sps.csc_array(arrow))) == n
    band = sps.diags_array(
        [np.ones(n - abs(k)) for k in range(-5, 6)], offsets=list(range(-5, 6)), shape=(n, n)
    )
    assert count(star_coloring(band)) <= count(column_groups(sps.csc_array(band)))


def test_symmetric_sources_refuse_a_colouring_that_cannot_be_read() -> None:
    path = np.eye(4, dtype=bool) | np.eye(4, k=1, dtype=bool) | np.eye(4, k=-1, dtype=bool)
    with pytest.raises(ValueError, match=r"does not determine the symmetric matrix: entries \(1, 2\)"):
        symmetric_sources(path, np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="a symmetric pattern must be square"):
        star_coloring(np.ones((2, 3), dtype=bool))
