"""Richardson tableaux against exact expansions."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfdx.richardson import (
    coefficients,
    expansion_spacing,
    next_row,
    ridders_error,
    row_changes,
    row_truncation,
    same_order_error,
    tableau,
)


def quotients(c, h0, L, p, s):
    """D(h) = 1 + sum_j c_j h^(p + j s): a pure expansion, limit 1."""
    hs = h0 / 2.0 ** np.arange(L)
    return np.array([1 + sum(cj * h ** (p + j * s) for j, cj in enumerate(c)) for h in hs])


@pytest.mark.parametrize("p,s", [(2, 2), (1, 1), (4, 2)])
def test_each_column_removes_one_term(p, s):
    c = [0.7, -1.3, 0.4]
    T = tableau(quotients(c, 0.5, 4, p, s), 2.0, p, s)
    # A polynomial expansion with 3 terms is removed exactly by 3 steps.
    assert abs(T[3, 3] - 1) < 1e-14
    errs = [abs(T[3, m] - 1) for m in range(3)]
    assert errs[0] > errs[1] > errs[2]


def test_coefficients_reproduce_tableau():
    D = quotients([1.0, 2.0, -3.0], 0.3, 5, 2, 2)
    T = tableau(D, 2.0, 2, 2)
    C = coefficients(5, 2.0, 2, 2)
    for row in range(5):
        for m in range(row + 1):
            assert np.isclose(C[row, m] @ D, T[row, m], rtol=1e-14, atol=0)
            assert np.isclose(C[row, m].sum(), 1.0)
    assert np.all(np.isnan(T[0, 1:]))


def test_same_order_error_is_tight_in_the_asymptotic_regime():
    D = np.array([np.sinh(h) / h for h in 0.2 / 2.0 ** np.arange(4)])
    T = tableau(D, 2.0, 2, 2)
    e = same_order_error(T, 2.0, 2, 2)
    for row, m in [(2, 0), (3, 0), (3, 1)]:
        assert 0.5 < e[row, m] / abs(T[row, m] - 1) < 2


def test_ridders_error_bounds_error():
    D = np.array([np.expm1(h) / h for h in 0.5 / 2.0 ** np.arange(5)])
    T = tableau(D, 2.0, 1, 1)
    r = ridders_error(T)
    for row in range(1, 5):
        for m in range(1, row + 1):
            assert r[row, m] >= abs(T[row, m] - 1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=3), st.floats(0.05, 1.0))
def test_exactness_on_random_expansions(c, h0):
    L = len(c) + 1
    T = tableau(quotients(c, h0, L, 2, 2), 2.0, 2, 2)
    assert abs(T[L - 1, L - 1] - 1) < 1e-12 * (1 + sum(abs(x) for x in c))


def test_nan_spreads_only_where_used():
    D = np.array([np.nan, 1.1, 1.01, 1.001])
    T = tableau(D, 2.0, 2, 2)
    assert np.isnan(T[1, 1]) and np.isfinite(T[2, 1]) and np.isfinite(T[3, 2])


def test_spacing():
    assert [expansion_spacing(k) for k in ("central", "complex", "forward", "backward")] == [2, 2, 1, 1]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-5, 5), min_size=2, max_size=6),
    st.sampled_from([(2, 2), (1, 1), (4, 2)]),
    st.floats(0.5, 3.0),
)
def test_row_functions_match_the_tableau(c, ps, safety):
    """The one-row-at-a-time functions of the adaptive driver against the whole tableau."""
    p, s = ps
    L = len(c)
    D = quotients(c, 0.4, L, p, s)
    T = tableau(D, 2.0, p, s)
    same, ridders = same_order_error(T, 2.0, p, s), ridders_error(T)
    row = None
    rows = []
    for level in range(L):
        row = next_row(np.array(D[level]), row, 2.0, p, s)
        np.testing.assert_allclose(row, T[level, : level + 1], rtol=1e-13, atol=1e-15)
        rows.append(np.concatenate([row, np.full(L - level - 1, np.nan)]))
    for level in range(1, L):
        Tl, Tp = rows[level][: level + 1], rows[level - 1][: level + 1]
        est = row_truncation(Tl, Tp, 2.0, p, s, safety)
        assert np.isinf(est[0])  # order 0 is never a candidate
        for m in range(1, level):  # a same-order estimate exists: floored at 2 % of the last correction
            floor = 0.02 * abs(T[level, m] - T[level, m - 1])
            assert est[m] == pytest.approx(max(safety * same[level, m], floor), rel=1e-12, abs=1e-300)
        assert est[level] == pytest.approx(ridders[level, level], rel=1e-12, abs=1e-300)
        if level > 1:
            changes = row_changes(Tl, Tp, rows[level - 2][: level + 1])
            assert changes[0] == pytest.approx(
                max(abs(T[level, 0] - T[level - 1, 0]), abs(T[level - 1, 0] - T[level - 2, 0])), rel=1e-12
            )
