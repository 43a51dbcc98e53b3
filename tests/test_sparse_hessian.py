"""Sparse Hessians: star colouring from a gradient, pattern pairs from f, the traced pattern."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sps
from hypothesis import given, settings
from hypothesis import strategies as st

import dfdx
from dfdx.engine.sparse import PatternMisses
from dfdx.engine.tracer import Pairs, trace_input


def arrow(x):
    """An arrowhead Hessian: x[0] couples with every coordinate."""
    return np.sum((x[0] - x[1:]) ** 2 * x[1:]) + np.sum(np.sin(x))


def arrow_grad(x):
    g = np.cos(x).copy()
    d = x[0] - x[1:]
    g[0] += np.sum(2 * d * x[1:])
    g[1:] += -2 * d * x[1:] + d**2
    return g


def arrow_hessian(x):
    n = x.size
    h = np.diag(-np.sin(x))
    d = x[0] - x[1:]
    h[0, 0] += np.sum(2 * x[1:])
    h[0, 1:] = h[1:, 0] = 2 * d - 2 * x[1:]
    h[np.arange(1, n), np.arange(1, n)] += 2 * x[1:] - 4 * d
    return h


def pairs_of(f, n):
    with Pairs(n) as pairs:
        f(trace_input(n, (n,)))
    return pairs.pattern.toarray()


def test_traced_hessian_patterns() -> None:
    assert np.array_equal(pairs_of(lambda x: np.sum(x[:-1] * x[1:]), 3), [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    assert np.array_equal(pairs_of(lambda x: np.sum(3 * x + 1), 3), np.zeros((3, 3)))
    assert np.array_equal(pairs_of(lambda x: np.sum(np.exp(x)), 2), np.eye(2))
    assert np.array_equal(pairs_of(lambda x: x[0] * np.sum(x), 3), [[1, 1, 1], [1, 0, 0], [1, 0, 0]])
    assert pairs_of(lambda x: np.prod(x), 3).all()


@pytest.mark.parametrize("n", [5, 60])
def test_arrowhead_from_the_gradient_takes_two_directions(n: int) -> None:
    x = np.linspace(0.5, 1.5, n)
    res = dfdx.hessian(arrow, x, grad=arrow_grad, sparsity="auto")
    exact = arrow_hessian(x)
    assert isinstance(res.value, sps.csr_array)
    assert res.sparsity.coloring == "star" and res.sparsity.colors == 2
    assert f"a column grouping needs {n}" in res.sparsity.note
    assert (res.value != res.value.T).nnz == 0
    assert np.allclose(res.value.toarray(), exact, rtol=1e-9, atol=1e-9)
    assert np.all(np.abs(res.value.toarray() - exact) <= res.error.toarray() + 1e-300)
    assert res.nfev == 1 + 2 * 6 + 6  # f(x), two directions and the pattern's check, each with its own


def test_arrowhead_from_f_takes_only_the_pairs() -> None:
    x = np.linspace(0.5, 1.5, 30)
    res = dfdx.hessian(arrow, x, sparsity="auto")
    dense = dfdx.hessian(arrow, x)
    assert res.sparsity.coloring == "pairs" and res.sparsity.pattern.nnz == 30 + 2 * 29
    assert np.allclose(res.value.toarray(), arrow_hessian(x), rtol=1e-7, atol=1e-7)
    assert np.allclose(res.value.toarray(), dense.value, rtol=1e-8, atol=1e-8)
    assert res.nfev < dense.nfev / 4  # 29 pairs instead of 435


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 8), st.floats(0.1, 0.7), st.integers(0, 2**31))
def test_random_partially_separable_hessians(n: int, density: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((n, n)) < density, k=1)
    i, j = np.nonzero(upper)
    c = rng.normal(size=len(i))

    def f(x):
        return np.sum(c * np.sin(x[i] * x[j])) + np.sum(x**3)

    def grad(x):
        g = 3 * x**2
        np.add.at(g, i, c * np.cos(x[i] * x[j]) * x[j])
        np.add.at(g, j, c * np.cos(x[i] * x[j]) * x[i])
        return g

    x = rng.uniform(-1, 1, n)
    dense = dfdx.hessian(f, x, grad=grad).value
    sym = upper | upper.T | np.eye(n, dtype=bool)
    from_grad = dfdx.hessian(f, x, grad=grad, sparsity=sym)
    assert np.allclose(from_grad.value.toarray(), dense, rtol=1e-9, atol=1e-9)
    # From f the pairs are the dense call's second differences, at the same steps.
    from_f = dfdx.hessian(f, x)
    for res in (dfdx.hessian(f, x, sparsity=sym), dfdx.hessian(f, x, sparsity="auto")):
        assert np.array_equal(res.sparsity.pattern.toarray(), sym)
        if res.sparsity.dense:  # 'auto' with half the pairs or more, or a failed check
            assert "half the pairs" in res.sparsity.note or "failed its check" in res.sparsity.note
        value = res.value.toarray() if sps.issparse(res.value) else res.value
        # Equal on the pattern; off it, exact zeros where the dense call has rounding.
        assert np.all(np.abs(value - from_f.value) <= np.where(sym, 1e-12 * np.abs(value), from_f.error))


@pytest.mark.parametrize("grad", [arrow_grad, None])
def test_a_hessian_pattern_missing_pairs_is_named(grad) -> None:
    x = np.linspace(0.5, 1.5, 6)
    with pytest.raises(
        PatternMisses, match=r"misses 5 pair\(s\) of the Hessian that f couples: \(0, 1\), \(0, 2\)"
    ):
        dfdx.hessian(arrow, x, grad=grad, sparsity=np.eye(6, dtype=bool))
    no_hub = arrow_hessian(x) != 0
    no_hub[0, 3:] = no_hub[3:, 0] = False
    with pytest.raises(PatternMisses, match=r"misses 3 pair\(s\) .*: \(0, 3\), \(0, 4\), \(0, 5\)\."):
        dfdx.hessian(arrow, x, grad=grad, sparsity=no_hub)


def test_untraceable_f_under_auto_is_computed_dense_and_says_why() -> None:
    def loop(x):
        return float(sum(float(v) ** 2 * float(w) for v, w in zip(x[:-1], x[1:])))

    x = np.linspace(0.5, 1.5, 5)
    res = dfdx.hessian(loop, x, sparsity="auto")
    assert res.sparsity.dense and "f could not be traced" in res.sparsity.note
    assert np.allclose(res.value, dfdx.hessian(loop, x).value)


def test_hessian_sparsity_errors() -> None:
    x = np.linspace(0.5, 1.5, 4)
    with pytest.raises(ValueError, match=r"`sparsity` must have shape \(m, n\) = \(4, 4\)"):
        dfdx.hessian(arrow, x, sparsity=np.eye(3))
    with pytest.raises(ValueError, match="`sparsity` must be 'auto', a boolean array"):
        dfdx.hessian(arrow, x, grad=arrow_grad, sparsity="star")
