"""sparsity='auto': tracing and probing never drop a nonzero; dense f; failed checks; bad f."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sps
from hypothesis import given, settings
from hypothesis import strategies as st

import dfdx
from dfdx.engine.tracer import TraceError, trace_input


def traced(f, shape):
    n = int(np.prod(shape))
    return f(trace_input(n, shape)).deps.toarray()


def chain(x):
    y = np.empty_like(x)
    y[0] = x[0] ** 2 - x[1]
    y[1:-1] = np.sin(x[1:-1]) + x[:-2] * x[2:]
    y[-1] = np.exp(x[-1]) - x[-2]
    return y


def grid_residual(N):
    def f(x):
        u = x.reshape((N, N) + x.shape[1:])
        r = 4 * u
        r[1:] -= u[:-1]
        r[:-1] -= u[1:]
        r[:, 1:] -= u[:, :-1]
        r[:, :-1] -= u[:, 1:]
        return (r + u**3).reshape(x.shape)

    return f


def test_the_tracer_follows_numpy() -> None:
    tri = np.eye(6, dtype=bool) | np.eye(6, k=1, dtype=bool) | np.eye(6, k=-1, dtype=bool)
    assert np.array_equal(traced(chain, (6,)), tri)
    a = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    assert np.array_equal(traced(lambda x: a @ x, (3,)), a != 0)
    assert np.array_equal(traced(lambda x: np.sum(x, axis=0), (2, 2)), [[1, 0, 1, 0], [0, 1, 0, 1]])
    assert np.array_equal(traced(lambda x: np.concatenate([x, np.ones(1)]), (2,)), [[1, 0], [0, 1], [0, 0]])
    assert np.array_equal(traced(lambda x: np.pad(x, 1), (2,)), [[0, 0], [1, 0], [0, 1], [0, 0]])
    assert np.array_equal(traced(lambda x: np.roll(x, 1), (3,)), np.roll(np.eye(3, dtype=bool), 1, axis=0))
    assert np.array_equal(traced(lambda x: np.diff(x), (3,)), [[1, 1, 0], [0, 1, 1]])
    assert np.array_equal(
        traced(lambda x: np.where(x > 0, x, 2 * x[::-1]), (3,)), np.eye(3) + np.eye(3)[::-1] > 0
    )
    assert np.array_equal(traced(lambda x: x.T @ np.eye(2), (2, 2)).sum(), 4)
    # A SciPy sparse matrix on the left: SciPy hands the product to the tracer.
    band = sps.diags_array([1.0, 2.0], offsets=[0, 1], shape=(4, 4), format="csr")
    assert np.array_equal(traced(lambda x: band @ x + 1.0, (4,)), band.toarray() != 0)
    assert np.array_equal(traced(lambda x: band.dot(x), (4,)), band.toarray() != 0)

    # A view written in place writes through to its base.
    def through_view(x):
        y = np.zeros_like(x)
        v = y[1:]
        v += x[:-1]
        return y

    assert np.array_equal(traced(through_view, (3,)), np.eye(3, k=-1, dtype=bool))


@pytest.mark.parametrize(
    "f",
    [
        lambda x: float(x[0]) * x,
        lambda x: x if x[0] > 0 else -x,
        lambda x: np.asarray(x) + x,
        lambda x: np.asarray(x, dtype=float),
        lambda x: np.cumsum(x),
    ],
)
def test_what_the_tracer_cannot_follow_raises(f) -> None:
    with pytest.raises(TraceError):
        f(trace_input(3, (3,)))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.floats(0.1, 0.6), st.integers(0, 2**31), st.booleans())
def test_detection_never_drops_a_nonzero(m: int, n: int, density: float, seed: int, traceable: bool) -> None:
    rng = np.random.default_rng(seed)
    a = np.where(rng.random((m, n)) < density, rng.normal(size=(m, n)), 0.0)

    def f(x):
        return np.tanh(a @ x) + (a != 0) @ x**2

    def loop(x):  # the same f through Python floats: not traceable, so probed
        return np.array([np.tanh(sum(a[r, c] * float(x[c]) for c in range(n))) for r in range(m)]) + (
            (a != 0) @ np.array([float(v) ** 2 for v in x])
        )

    x = rng.uniform(-1, 1, n)
    res = dfdx.jacobian(f if traceable else loop, x, sparsity="auto")
    truth = a != 0
    assert res.sparsity.source == ("traced" if traceable else "probed")
    if res.sparsity.pattern is not None:
        assert np.all(res.sparsity.pattern.toarray()[truth])
    exact = (1 - np.tanh(a @ x) ** 2)[:, None] * a + (a != 0) * 2 * x
    value = res.value.toarray() if sps.issparse(res.value) else res.value
    assert np.allclose(value, exact, rtol=1e-9, atol=1e-9)


def test_numpy_arrays_made_of_x_are_probed_instead() -> None:
    def copied(x):
        y = np.zeros(x.size)
        y[:] = np.asarray(x)  # the tracer cannot become numbers: f is probed
        return np.sin(y[::-1])

    x = np.linspace(0.1, 1.0, 12)
    res = dfdx.jacobian(copied, x, sparsity="auto")
    assert res.sparsity.source == "probed" and res.sparsity.colors == 1
    assert np.allclose(res.value.toarray(), np.fliplr(np.diag(np.cos(x[::-1]))), rtol=1e-10)


def test_auto_on_a_grid_residual_gives_the_pattern_and_colours() -> None:
    N = 20
    x = np.random.default_rng(0).random(N * N)
    res = dfdx.jacobian(grid_residual(N), x, sparsity="auto", vectorized=True)
    dense = dfdx.jacobian(grid_residual(N), x, vectorized=True)
    assert res.sparsity.source == "traced" and not res.sparsity.dense
    assert res.sparsity.colors <= 6 and res.sparsity.pattern.nnz == 5 * N * N - 4 * N
    assert np.allclose(res.value.toarray(), dense.value, rtol=1e-12, atol=1e-12)
    assert res.nfev < dense.nfev / 10
    again = dfdx.jacobian(grid_residual(N), x, sparsity=res.sparsity.pattern, vectorized=True)
    assert np.array_equal(again.value.toarray(), res.value.toarray())


def test_a_dense_f_costs_no_more_than_the_dense_jacobian() -> None:
    x = np.linspace(0.1, 1.0, 40)

    def dense(x):
        return np.sin(x) * np.sum(x)

    def dense_loop(x):
        total = float(sum(float(v) for v in x))
        return np.sin(x) * total

    plain = dfdx.jacobian(dense, x)
    traced_res = dfdx.jacobian(dense, x, sparsity="auto")
    assert traced_res.sparsity.dense and "needs 40 colours for 40 columns" in traced_res.sparsity.note
    assert traced_res.nfev == plain.nfev and np.array_equal(traced_res.value, plain.value)
    probed = dfdx.jacobian(dense_loop, x, sparsity="auto")
    assert probed.sparsity.dense and "f looks dense" in probed.sparsity.note
    assert probed.nfev <= plain.nfev + 1 + 8


def test_a_pattern_that_fails_its_check_falls_back_to_dense() -> None:
    # f hides a dependence from the tracer (it branches on the kind of x): the check catches it.
    def sneaky(x):
        if not isinstance(x, np.ndarray):
            return x * 1.0  # traced: the identity pattern
        return x + 0.5 * np.roll(x, 1) ** 2

    x = np.linspace(0.1, 1.0, 12)
    res = dfdx.jacobian(sneaky, x, sparsity="auto")
    assert res.sparsity.dense and "failed its check" in res.sparsity.note
    assert np.allclose(res.value, dfdx.jacobian(sneaky, x).value, rtol=1e-12)


def test_an_output_shape_that_changes_under_probing_is_named() -> None:
    def grows(x):
        return np.sin(x) if float(x[0]) == 0.1 else np.sin(x[:-1])

    with pytest.raises(
        ValueError, match=r"sparsity='auto': f changed the shape of its output while dfdx probed"
    ):
        dfdx.jacobian(grows, np.linspace(0.1, 1.0, 6), sparsity="auto")


def test_dask_gives_the_serial_result() -> None:
    distributed = pytest.importorskip("distributed")
    N = 30
    x = np.random.default_rng(1).random(N * N)
    serial = dfdx.jacobian(grid_residual(N), x, sparsity="auto", vectorized=True)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            spread = dfdx.jacobian(grid_residual(N), x, sparsity="auto", vectorized=True, workers=client)
    assert np.array_equal(spread.value.toarray(), serial.value.toarray())
    assert np.array_equal(spread.error.toarray(), serial.error.toarray())


def test_the_recipe_of_the_docs_runs() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "sparse.md").read_text(encoding="utf-8")
    block = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    namespace: dict = {}
    exec(compile(block, "docs/sparse.md", "exec"), namespace)  # the page's own code
    found, sol, sol2 = namespace["found"], namespace["sol"], namespace["sol2"]
    assert found.sparsity.colors == 6 and found.nfev == 1 + 6 * 6 + 6
    assert np.abs(sol.fun).max() < 1e-7 and np.abs(sol2.fun).max() < 1e-7
    assert np.abs(sol.x - sol2.x).max() < 1e-8


def test_jac_detects_once_and_reuses_the_pattern() -> None:
    calls = []

    def counted(x):
        calls.append(type(x).__name__)
        return chain(x)

    jac = dfdx.jac(counted, sparsity="auto")
    x = np.linspace(0.1, 1.0, 30)
    first, second = jac(x), jac(x + 0.01)
    assert calls.count("Tracer") == 1  # traced at the first call only
    assert sps.issparse(first) and sps.issparse(second)
    assert np.allclose(second.toarray(), dfdx.jacobian(chain, x + 0.01).value, rtol=1e-10, atol=1e-12)


def test_an_objective_detects_once_and_reuses_the_pattern() -> None:
    calls = []

    def counted(x):
        calls.append(type(x).__name__)
        return chain(x)

    obj = dfdx.Objective(counted, sparsity="auto", check=True)  # priced as dfdx.jacobian
    x = np.linspace(0.1, 1.0, 30)
    first = obj.jac(x)
    used = obj.nfev
    second = obj.jac(x + 0.01)
    assert calls.count("Tracer") == 1  # traced at the first call only
    detected = dfdx.jacobian(chain, x + 0.01, sparsity="auto")
    colored = dfdx.jacobian(chain, x + 0.01, sparsity=detected.sparsity.pattern, accuracy=2)
    assert obj.nfev - used == colored.nfev  # f(x) and the coloured stencil: no detection
    assert sps.issparse(first) and sps.issparse(second)
    assert np.allclose(second.toarray(), dfdx.jacobian(chain, x + 0.01).value, rtol=1e-10, atol=1e-12)


def test_an_objective_with_a_budget_prices_the_detected_pattern() -> None:
    def copied(x):  # probed: the detection costs evaluations at the first call only
        return chain(np.array(np.asarray(x), dtype=float))

    x = np.linspace(0.1, 1.0, 30)
    first = dfdx.jacobian(copied, x, sparsity="auto", accuracy=2)
    assert first.sparsity.source == "probed"
    probe = dfdx.Objective(copied, sparsity="auto", check=True)  # priced as dfdx.jacobian
    probe.jac(x), probe.jac(x + 0.01)
    later = probe.nfev - first.nfev - 1  # f(x) and the coloured stencil with its check
    # (A check may send a colour to shorter steps at one point and not another: some slack.)
    obj = dfdx.Objective(copied, sparsity="auto", budget=first.nfev + 1 + 4 * later, check=True)
    obj.jac(x)
    assert obj.nfev == first.nfev + 1  # its own f(x) too
    obj.jac(x + 0.01)  # f(x) and the coloured stencil fit, though the first call cost more
    obj.jac(x + 0.02)
    assert obj.nfev <= first.nfev + 1 + 4 * later and obj.njev == 3
