"""Sparse Jacobians: column grouping, sparse equals dense, bounds, errors of the pattern."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sps
from hypothesis import given, settings
from hypothesis import strategies as st

import dfdx
from dfdx import Status
from dfdx.engine import sparse_calls
from dfdx.engine.sparse import PatternMisses, as_pattern, group_columns


def tridiagonal_pattern(n: int) -> sps.csc_array:
    return sps.csc_array(sps.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(n, n)))


def chain(x):
    """A tridiagonal Jacobian (a discretised nonlinear boundary-value problem)."""
    y = np.empty_like(x)
    y[0] = x[0] ** 2 - x[1]
    y[1:-1] = np.sin(x[1:-1]) + x[:-2] * x[2:]
    y[-1] = np.exp(x[-1]) - x[-2]
    return y


def chain_jacobian(x):
    n = x.size
    jac = np.zeros((n, n))
    jac[0, 0], jac[0, 1] = 2 * x[0], -1.0
    i = np.arange(1, n - 1)
    jac[i, i] = np.cos(x[i])
    jac[i, i - 1] = x[i + 1]
    jac[i, i + 1] = x[i - 1]
    jac[n - 1, n - 1], jac[n - 1, n - 2] = np.exp(x[-1]), -1.0
    return jac


def test_tridiagonal_takes_three_groups() -> None:
    group = group_columns(tridiagonal_pattern(1000))
    assert group.max() + 1 == 3
    assert np.array_equal(group, np.arange(1000) % 3)


def test_dense_pattern_takes_one_group_per_column() -> None:
    assert np.array_equal(group_columns(sps.csc_array(np.ones((4, 5), dtype=bool))), np.arange(5))


def test_diagonal_pattern_takes_one_group() -> None:
    assert group_columns(sps.csc_array(sps.eye_array(7, format="csc"))).max() == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.floats(0.05, 0.6), st.integers(0, 2**31))
def test_groups_are_structurally_independent(m: int, n: int, density: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    dense = rng.random((m, n)) < density
    group = group_columns(sps.csc_array(dense))
    assert group.shape == (n,) and group.min() == 0
    for g in range(group.max() + 1):
        rows_hit = dense[:, group == g].sum(axis=1)
        assert rows_hit.max() <= 1


@pytest.mark.parametrize("n", [5, 50, 1000])
def test_sparse_equals_dense_and_exact(n: int) -> None:
    x = np.linspace(0.1, 1.0, n)
    res = dfdx.jacobian(chain, x, sparsity=tridiagonal_pattern(n))
    assert isinstance(res.value, sps.csr_array) and isinstance(res.error, sps.csr_array)
    assert res.value.shape == (n, n) and res.step.shape == (n,)
    exact = chain_jacobian(x)
    value = res.value.toarray()
    assert np.all(np.abs(value - exact) <= res.error.toarray())
    assert np.allclose(value, exact, rtol=1e-11, atol=1e-11)
    assert np.array_equal(res.value.indptr, res.error.indptr)
    assert np.array_equal(res.value.indices, res.error.indices)
    assert res.sparsity.colors == 3 and res.sparsity.source == "given"
    # Each group's stencil and its check (two points); a pattern's first use is checked: 6 more.
    assert res.nfev in (1 + 3 * 6, 1 + 3 * 6 + 6)
    again = dfdx.jacobian(chain, x, sparsity=tridiagonal_pattern(n))
    assert again.nfev == 1 + 3 * 6
    if n <= 50:
        dense = dfdx.jacobian(chain, x)
        assert np.allclose(value, dense.value, rtol=1e-11, atol=1e-12)


def test_central_order_two_costs_six_evaluations_beyond_f0() -> None:
    dfdx.jacobian(chain, np.linspace(0.1, 1.0, 1000), sparsity=tridiagonal_pattern(1000), accuracy=2)
    res = dfdx.jacobian(chain, np.linspace(0.1, 1.0, 1000), sparsity=tridiagonal_pattern(1000), accuracy=2)
    assert res.nfev == 1 + 12  # three groups: two points and the check's two each
    assert np.allclose(res.value.toarray(), chain_jacobian(np.linspace(0.1, 1.0, 1000)), rtol=1e-8)


@pytest.mark.parametrize(
    ("method", "accuracy"),
    [("central", 4), ("forward", 1), ("forward", 2), ("backward", 3), ("complex", 2), ("central", 6)],
)
def test_every_method(method: str, accuracy: int) -> None:
    x = np.linspace(0.1, 1.0, 30)
    res = dfdx.jacobian(chain, x, sparsity=tridiagonal_pattern(30), method=method, accuracy=accuracy)
    exact = chain_jacobian(x)
    assert np.all(np.abs(res.value.toarray() - exact) <= res.error.toarray())
    assert res.method == method and res.accuracy == accuracy


@pytest.mark.parametrize("kind", ["dense_bool", "dense_int", "coo", "csr", "lil", "matrix"])
def test_pattern_kinds(kind: str) -> None:
    dense = tridiagonal_pattern(8).toarray().astype(bool)
    pattern = {
        "dense_bool": dense,
        "dense_int": dense.astype(int),
        "coo": sps.coo_array(dense),
        "csr": sps.csr_array(dense),
        "lil": sps.lil_matrix(dense),
        "matrix": sps.csr_matrix(dense),
    }[kind]
    x = np.linspace(0.1, 1.0, 8)
    res = dfdx.jacobian(chain, x, sparsity=pattern)
    assert np.allclose(res.value.toarray(), chain_jacobian(x), rtol=1e-11)


def test_matrix_shaped_input_and_output() -> None:
    # f: (2, 2) -> (2, 3); m = 6 rows, n = 4 columns in C order.
    def f(x):
        return np.array([[x[0, 0] ** 2, x[0, 1] * 3, 0.0], [np.sin(x[1, 0]), 1.0, x[1, 1] ** 3]])

    x = np.array([[0.5, 1.0], [0.2, -0.7]])
    dense = dfdx.jacobian(f, x).value.reshape(6, 4)
    pattern = dense != 0
    res = dfdx.jacobian(f, x, sparsity=pattern)
    # The four columns are independent (one group and its check); the first use is checked.
    assert res.nfev == 1 + 6 + 6
    assert np.allclose(res.value.toarray(), dense, rtol=1e-12)


def test_a_pattern_missing_entries_is_named_with_the_entries() -> None:
    x = np.linspace(0.1, 1.0, 6)
    sparse_calls._CHECKED.clear()
    with pytest.raises(PatternMisses, match=r"misses 10 nonzero\(s\) .* entries \(1, 0\), \(0, 1\)") as info:
        dfdx.jacobian(chain, x, sparsity=sps.eye_array(6))
    assert (1, [0]) in info.value.entries


def test_a_pattern_missing_entries_of_an_untraceable_f_names_the_rows() -> None:
    def chain_loop(x):
        return np.array([float(v) for v in chain(np.array([float(t) for t in x]))])

    sparse_calls._CHECKED.clear()
    with pytest.raises(
        ValueError, match=r"misses nonzeros of the Jacobian: along a random direction .* outputs 0"
    ):
        dfdx.jacobian(chain_loop, np.linspace(0.1, 1.0, 6), sparsity=sps.eye_array(6, format="csr"))


def test_a_row_the_pattern_leaves_empty_is_seen_for_free() -> None:
    pattern = tridiagonal_pattern(6).tolil()
    pattern[0, :] = 0
    with pytest.raises(
        PatternMisses, match=r"row 0 changes with one of columns 0, 3 \(its row has entries in no column\)"
    ):
        dfdx.jacobian(chain, np.linspace(0.1, 1.0, 6), sparsity=pattern)


def test_sparse_with_bounds_stays_inside() -> None:
    x = np.linspace(0.0, 1.0, 20)

    def f(v):
        if np.any(v < 0) or np.any(v > 1):
            raise AssertionError("outside")
        return chain(v)

    res = dfdx.jacobian(f, x, sparsity=tridiagonal_pattern(20), bounds=(0.0, 1.0))
    assert res.status is Status.ONE_SIDED
    assert res.sparsity.colors == 5  # 3 colours, the first and last split off one-sided
    assert np.allclose(res.value.toarray(), chain_jacobian(x), rtol=1e-9, atol=1e-9)
    assert np.all(np.abs(res.value.toarray() - chain_jacobian(x)) <= res.error.toarray())


@pytest.mark.parametrize("sparsity", [np.eye(5), "auto"])
def test_columns_at_opposite_bounds_are_not_grouped(sparsity) -> None:
    # Columns 0 and 1 sit on opposite bounds: a shared direction would leave no room.
    x = np.array([0.0, 1.0, 0.5, 0.0, 1.0])
    dense = dfdx.jacobian(np.square, x, bounds=(0.0, 1.0))
    res = dfdx.jacobian(np.square, x, bounds=(0.0, 1.0), sparsity=sparsity)
    assert res.status is Status.ONE_SIDED
    assert np.allclose(res.value.toarray(), dense.value, rtol=1e-12, atol=1e-12)
    assert np.allclose(res.value.toarray(), np.diag(2 * x), atol=1e-9)


def test_repr_of_a_sparse_result() -> None:
    res = dfdx.jacobian(chain, np.linspace(0.1, 1.0, 20), sparsity=tridiagonal_pattern(20))
    text = repr(res)
    assert "Compressed Sparse Row" in text and "error: max" in text


def test_sparsity_errors() -> None:
    x = np.linspace(0.1, 1.0, 5)
    with pytest.raises(ValueError, match=r"`sparsity` must have shape \(m, n\) = \(5, 5\)"):
        dfdx.jacobian(chain, x, sparsity=np.ones((4, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"`sparsity` must have shape \(m, n\) = \(5, 5\)"):
        dfdx.jacobian(chain, x, sparsity=sps.eye_array(6))
    with pytest.raises(ValueError, match="`sparsity` must be 2-D"):
        dfdx.jacobian(chain, x, sparsity=np.ones(5, dtype=bool))
    with pytest.raises(TypeError, match="`sparsity` must be a boolean"):
        dfdx.jacobian(chain, x, sparsity=np.array([["a"] * 5] * 5))
    with pytest.raises(TypeError, match="`sparsity` must be a boolean"):
        as_pattern(object(), 5, 5)
    with pytest.raises(
        ValueError, match="`sparsity` must be 'auto', a boolean array or a SciPy sparse matrix, got 'yes'"
    ):
        dfdx.jacobian(chain, x, sparsity="yes")


def test_a_checked_pattern_is_remembered_for_its_own_function_only() -> None:
    # The first use of a given pattern with a function is checked (4 more evaluations here);
    # the memory of it is per function object and goes when the function goes, so a new
    # function that reuses the old one's memory address is checked again.
    import gc

    x = np.linspace(0.1, 1.0, 6)
    pattern = tridiagonal_pattern(6)
    sparse_calls._CHECKED.clear()

    def make():
        return lambda x: chain(np.asarray(x))

    f = make()
    first = dfdx.jacobian(f, x, sparsity=pattern).nfev
    assert dfdx.jacobian(f, x, sparsity=pattern).nfev < first
    g = make()
    assert dfdx.jacobian(g, x, sparsity=pattern).nfev == first
    del f, g
    gc.collect()
    assert len(sparse_calls._CHECKED) == 0
