"""Pytrees: x as nested dicts, lists and tuples; results in the same structure, the flat bits."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import dfdx
from dfdx.trees import ravel

PARAMS = {
    "layer1": {"w": np.array([[0.5, -1.0], [2.0, 0.25]]), "b": np.array([0.1, -0.3])},
    "scale": 1.5,
}


def loss(p):
    hidden = np.tanh(p["layer1"]["w"] @ np.array([1.0, -2.0]) + p["layer1"]["b"])
    return p["scale"] ** 2 * float(np.sum(hidden**2)) + np.sin(p["scale"])


def flat_loss(v):
    _, unravel = ravel(PARAMS)
    return loss(unravel(v))


def test_ravel_orders_leaves_as_optree_does_and_round_trips():
    flat, unravel = ravel(PARAMS)
    # dict keys sorted: layer1/b, layer1/w, scale; each leaf ravelled in C order.
    np.testing.assert_array_equal(flat, [0.1, -0.3, 0.5, -1.0, 2.0, 0.25, 1.5])
    back = unravel(flat)
    assert back.keys() == PARAMS.keys()
    np.testing.assert_array_equal(back["layer1"]["w"], PARAMS["layer1"]["w"])
    assert isinstance(back["scale"], float)


@pytest.mark.parametrize("vectorized", [False, True])
def test_gradient_of_a_dict_has_its_structure_and_the_flat_bits(vectorized):
    f = loss
    if vectorized:

        def f(p):  # a batch: every leaf has the points on its last axis
            w, b, s = p["layer1"]["w"], p["layer1"]["b"], p["scale"]
            hidden = np.tanh(np.einsum("ijk,j->ik", w, np.array([1.0, -2.0])) + b)
            return s**2 * np.sum(hidden**2, axis=0) + np.sin(s)

    res = dfdx.gradient(f, PARAMS, vectorized=vectorized)
    flat = dfdx.gradient(flat_loss, ravel(PARAMS)[0])
    assert set(res.value) == {"layer1", "scale"}
    assert res.value["layer1"]["w"].shape == (2, 2)
    assert isinstance(res.value["scale"], np.float64)
    np.testing.assert_array_equal(ravel(res.value)[0], flat.value)
    np.testing.assert_array_equal(ravel(res.error)[0], flat.error)
    np.testing.assert_array_equal(ravel(res.step)[0], flat.step)
    np.testing.assert_array_equal(res.flat.value, flat.value)
    assert res.nfev == flat.nfev
    assert res.entry_status["layer1"]["b"].shape == (2,)


def test_lists_tuples_and_namedtuples_keep_their_types():
    Params = namedtuple("Params", "a b")
    x = [Params(np.array([1.0, 2.0]), 3.0), (np.array([[0.5]]),)]
    f = lambda p: float(np.sum(p[0].a ** 2) * p[0].b + np.sum(p[1][0]) ** 3)
    res = dfdx.gradient(f, x)
    assert type(res.value) is list and type(res.value[0]) is Params and type(res.value[1]) is tuple
    np.testing.assert_allclose(res.value[0].a, [6.0, 12.0], rtol=1e-10)
    np.testing.assert_allclose(res.value[0].b, 5.0, rtol=1e-10)
    np.testing.assert_allclose(res.value[1][0], [[0.75]], rtol=1e-10)
    # A plain list of numbers stays an array, as before.
    assert isinstance(dfdx.gradient(lambda v: v @ v, [1.0, 2.0]).value, np.ndarray)


def test_jacobian_and_hessian_come_as_nested_blocks():
    x = {"a": np.array([1.0, 2.0]), "b": 0.5}
    f = lambda p: {"s": np.sum(p["a"] ** 2) * p["b"], "v": p["a"] * p["b"]}
    jac = dfdx.jacobian(f, x)
    np.testing.assert_allclose(jac.value["s"]["a"], [1.0, 2.0], rtol=1e-10)
    np.testing.assert_allclose(jac.value["s"]["b"], 5.0, rtol=1e-10)
    np.testing.assert_allclose(jac.value["v"]["a"], np.eye(2) * 0.5, atol=1e-12)
    np.testing.assert_allclose(jac.value["v"]["b"], [1.0, 2.0], rtol=1e-10)
    assert jac.flat.value.shape == (3, 3)
    hess = dfdx.hessian(lambda p: float(np.sum(p["a"] ** 2) * p["b"]), x)
    assert hess.value["a"]["a"].shape == (2, 2) and np.shape(hess.value["a"]["b"]) == (2,)
    np.testing.assert_allclose(hess.value["a"]["a"], np.eye(2), atol=1e-7)
    np.testing.assert_allclose(hess.value["b"]["a"], [2.0, 4.0], rtol=1e-7)
    np.testing.assert_allclose(hess.flat.value, hess.flat.value.T)


def test_derivative_and_directional_on_trees():
    x = {"u": np.array([0.1, 0.2]), "t": 1.0}
    d = dfdx.derivative(lambda p: {"u": np.sin(p["u"]), "t": np.exp(p["t"])}, x)
    np.testing.assert_allclose(d.value["u"], np.cos(x["u"]), rtol=1e-10)
    np.testing.assert_allclose(d.value["t"], np.e, rtol=1e-10)
    v = {"u": np.array([1.0, 0.0]), "t": 2.0}
    res = dfdx.directional(lambda p: np.sum(p["u"]) * p["t"], x, v)
    np.testing.assert_allclose(res.value, 1.0 + 2 * 0.3, rtol=1e-10)


def test_step_bounds_and_f0_take_x_structure():
    x = {"a": np.array([1.0, 2.0]), "b": 0.5}
    f = lambda p: float(np.sum(p["a"] ** 2) + np.log(p["b"]))
    res = dfdx.gradient(f, x, step={"a": 1e-3, "b": np.float64(1e-4)})
    np.testing.assert_allclose(res.step["a"], [1e-3, 1e-3], rtol=1e-12)  # realised on the grid of floats
    assert res.step["b"] == pytest.approx(1e-4, rel=1e-12)  # realised on the grid of floats
    bounded = dfdx.gradient(f, x, bounds=({"a": -np.inf, "b": 0.5}, np.inf), f0=f(x))
    np.testing.assert_allclose(bounded.value["b"], 2.0, rtol=1e-8)
    assert bounded.nfev == res.nfev - 1  # f(x) was given


@pytest.mark.parametrize(
    "x, kwargs, exc, match",
    [
        (
            {"layer1": {"w": np.ones(2), "b": "zero"}},
            {},
            TypeError,
            r"`x\['layer1'\]\['b'\]` must be numeric",
        ),
        ({"a": np.array([1.0, np.nan])}, {}, ValueError, r"`x\['a'\]` must be finite"),
        (
            {"a": np.ones(2)},
            {"step": {"b": 1e-3}},
            ValueError,
            r"`step` must be a number or have x's structure",
        ),
        ({"a": np.ones(2)}, {"step": {"a": "big"}}, TypeError, r"`step` must be numeric"),
        ({}, {}, ValueError, r"`x` is empty"),
        ({"a": np.ones(2), "b": 1 + 1j}, {}, TypeError, r"`x\['b'\]` must be numeric .*got complex"),
    ],
)
def test_bad_trees_are_named_by_path(x, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        dfdx.gradient(lambda p: 0.0, x, **kwargs)


def test_f_must_keep_its_output_structure():
    calls = iter(range(100))
    f = lambda p: {"a": p["a"]} if next(calls) == 0 else {"b": p["a"]}
    with pytest.raises(ValueError, match=r"f returned the structure .* here, but .* at x; keep it the same"):
        dfdx.jacobian(f, {"a": np.ones(2)})


def test_failures_carry_the_nested_partial_result():
    f = lambda p: p["a"][0] ** 2 + (0.0 if p["a"][1] == -1.0 else np.nan)  # NaN off a[1] = -1
    x = {"a": np.array([1.0, -1.0])}
    with pytest.raises(dfdx.DifferentiationError) as info:
        dfdx.gradient(f, x)
    statuses = info.value.result.entry_status["a"]
    assert statuses[0] is dfdx.Status.SUCCESS and statuses[1] is dfdx.Status.NONFINITE
    res = dfdx.gradient(f, x, throw=False)
    assert res.status is dfdx.Status.NONFINITE and res.value["a"][0] == pytest.approx(2.0)


def test_a_sparse_jacobian_of_a_tree_stays_on_the_flat_vectors():
    x = {"a": np.array([1.0, 2.0, 3.0])}
    f = lambda p: p["a"] ** 2
    res = dfdx.jacobian(f, x, sparsity=np.eye(3, dtype=bool))
    np.testing.assert_allclose(res.value.toarray(), np.diag([2.0, 4.0, 6.0]), rtol=1e-10)
    assert res.step["a"].shape == (3,)


def module_loss(p, scale=1.0):
    return scale * float(np.sum(p["a"] ** 2) + np.sin(p["b"]))


def test_a_pytree_in_a_process_pool_gives_the_serial_bits():
    x = {"a": np.array([0.5, -1.0]), "b": 0.25}
    serial = dfdx.gradient(module_loss, x, kwargs={"scale": 2.0})
    pooled = dfdx.gradient(module_loss, x, kwargs={"scale": 2.0}, workers=2)
    np.testing.assert_array_equal(ravel(pooled.value)[0], ravel(serial.value)[0])


def test_messages_name_the_entries_by_path():
    f = lambda p: p["a"][0] ** 2 + (0.0 if p["a"][1] == -1.0 else np.nan) + p["b"]
    res = dfdx.gradient(f, {"a": np.array([1.0, -1.0]), "b": 2.0}, throw=False)
    assert res.message.endswith("Entries: x['a'][1].")
    g = lambda p: {"u": p["a"] * (np.nan if p["b"] != 2.0 else 1.0), "v": p["b"]}
    jac = dfdx.jacobian(g, {"a": np.array([1.0, 3.0]), "b": 2.0}, throw=False)
    assert "Entries: f(x)['u'][0] / x['b'], f(x)['u'][1] / x['b']." in jac.message


def test_sparsity_as_nested_blocks():
    x = {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([0.5, -0.5, 2.0])}
    f = lambda p: p["a"] ** 2 + np.sin(p["b"])
    blocks = {"a": np.eye(3, dtype=bool), "b": np.eye(3, dtype=bool)}
    res = dfdx.jacobian(f, x, sparsity=blocks)
    dense = dfdx.jacobian(f, x).flat.value
    assert res.value.shape == (3, 6) and res.value.nnz == 6
    np.testing.assert_allclose(res.value.toarray(), dense, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match=r"`sparsity` as blocks must have one block per output leaf"):
        dfdx.jacobian(f, x, sparsity={"a": np.eye(3, dtype=bool)})
    with pytest.raises(ValueError, match=r"`sparsity` block of f\(x\) and x\['b'\] must have shape \(3, 3\)"):
        dfdx.jacobian(f, x, sparsity={"a": np.eye(3, dtype=bool), "b": np.ones((2, 2), dtype=bool)})


def test_a_store_keys_a_pytree_call_by_f_its_structure_and_kwargs(tmp_path):
    x = {"a": np.array([0.5, -1.0]), "b": 0.25}
    path = tmp_path / "evals.sqlite"
    first = dfdx.gradient(module_loss, x, kwargs={"scale": 2.0}, store=path)
    again = dfdx.gradient(module_loss, x, kwargs={"scale": 2.0}, store=path)
    np.testing.assert_array_equal(ravel(again.value)[0], ravel(first.value)[0])
    assert len(again.provenance.new) == 0  # every point came from the store
    assert "module_loss on PyTreeSpec" in again.provenance.name
    other = dfdx.gradient(module_loss, x, kwargs={"scale": 3.0}, store=path)
    assert len(other.provenance.reused) == 0  # other kwargs: nothing reused
    np.testing.assert_allclose(ravel(other.value)[0], 1.5 * ravel(first.value)[0], rtol=1e-12)
