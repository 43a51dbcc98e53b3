"""Arrays of other libraries: torch, JAX and array-api-strict in, the same library, dtype and device out."""

from __future__ import annotations

import numpy as np
import pytest

import dfdx

torch = pytest.importorskip("torch")
jnp = pytest.importorskip("jax.numpy")
xs = pytest.importorskip("array_api_strict")

X = [0.3, -1.2, 2.0]


def _libraries():
    """(name, make x, sin, sum over axis 0) for each library."""
    return [
        ("torch64", lambda: torch.tensor(X, dtype=torch.float64), torch.sin, lambda a: torch.sum(a, dim=0)),
        ("torch32", lambda: torch.tensor(X, dtype=torch.float32), torch.sin, lambda a: torch.sum(a, dim=0)),
        ("jax32", lambda: jnp.asarray(X, dtype=jnp.float32), jnp.sin, lambda a: jnp.sum(a, axis=0)),
        ("strict64", lambda: xs.asarray(X, dtype=xs.float64), xs.sin, lambda a: xs.sum(a, axis=0)),
    ]


def _same_kind(a, b):
    assert type(a) is type(b)
    assert a.dtype == b.dtype
    assert str(getattr(a, "device", None)) == str(getattr(b, "device", None))


def _numpy(a):
    return np.asarray(
        a.detach() if hasattr(a, "detach") else np.from_dlpack(a) if hasattr(a, "__dlpack__") else a
    )


@pytest.mark.parametrize("name, make, sin, total", _libraries(), ids=[lib[0] for lib in _libraries()])
@pytest.mark.parametrize("vectorized", [False, True])
def test_gradient_round_trips_library_dtype_and_device(name, make, sin, total, vectorized):
    x = make()
    seen = []

    def f(t):
        seen.append(type(t))
        return total(sin(t) * t)

    res = dfdx.gradient(f, x, vectorized=vectorized)
    assert set(seen) == {type(x)}
    for field in (res.value, res.error, res.step):
        _same_kind(field, x)
    x64 = np.array(X)
    exact = np.cos(x64) * x64 + np.sin(x64)
    tol = 1e-4 if "32" in name else 1e-10
    np.testing.assert_allclose(_numpy(res.value), exact, rtol=tol, atol=tol)
    assert np.all(np.abs(_numpy(res.value) - exact) <= _numpy(res.error))


def test_float64_results_equal_the_numpy_bits():
    x = torch.tensor(X, dtype=torch.float64)
    res = dfdx.jacobian(lambda t: torch.stack([torch.sin(t[0]) * t[1], t[2] ** 3]), x)
    ref = dfdx.jacobian(lambda v: np.stack([np.sin(v[0]) * v[1], v[2] ** 3]), np.array(X))
    np.testing.assert_array_equal(res.value.numpy(), ref.value)
    np.testing.assert_array_equal(res.error.numpy(), ref.error)
    assert res.nfev == ref.nfev


def test_float32_gets_float32_steps():
    x32 = torch.tensor(X, dtype=torch.float32)
    res32 = dfdx.gradient(lambda t: torch.sum(torch.sin(t)), x32)
    res64 = dfdx.gradient(lambda t: torch.sum(torch.sin(t)), x32.double())
    assert torch.all(res32.step > 10 * res64.step.float())
    assert res32.value.dtype == torch.float32


def test_hessian_and_complex_step_in_torch_and_jax():
    x = torch.tensor(X, dtype=torch.float64)
    hess = dfdx.hessian(lambda t: torch.sum(torch.sin(t)), x)
    assert isinstance(hess.value, torch.Tensor) and hess.value.shape == (3, 3)
    np.testing.assert_allclose(hess.value.numpy(), np.diag(-np.sin(X)), atol=1e-7)
    cs = dfdx.gradient(lambda t: torch.sum(torch.sin(t)), x, method="complex")
    np.testing.assert_allclose(cs.value.numpy(), np.cos(X), rtol=1e-15)
    xj = jnp.asarray(X, dtype=jnp.float32)
    csj = dfdx.gradient(lambda t: jnp.sum(jnp.sin(t)), xj, method="complex")
    assert csj.value.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(csj.value), np.cos(X), rtol=1e-6)


def test_a_pytree_of_tensors():
    params = {"w": torch.ones(2, 2, dtype=torch.float32), "b": torch.zeros(2, dtype=torch.float32)}
    res = dfdx.gradient(lambda p: torch.sum((p["w"] @ torch.tensor([1.0, 2.0]) + p["b"]) ** 2), params)
    assert res.value["w"].dtype == torch.float32 and res.value["w"].shape == (2, 2)
    np.testing.assert_allclose(res.value["b"].numpy(), [6.0, 6.0], rtol=1e-4)
    np.testing.assert_allclose(res.value["w"].numpy(), [[6.0, 12.0], [6.0, 12.0]], rtol=1e-4)


def test_mixed_libraries_are_refused():
    x = {"a": torch.ones(2), "b": jnp.ones(2)}
    with pytest.raises(TypeError, match=r"`x` mixes array libraries \(torch at x\['a'\], jax at x\['b'\]\)"):
        dfdx.gradient(lambda p: 0.0, x)


def test_a_device_mismatch_of_f_is_named():
    x = torch.tensor(X, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"f returned a torch array on device meta, but x is on device cpu"):
        dfdx.gradient(lambda t: torch.sum(t).to("meta"), x)


def test_the_complex_step_without_complex_dtypes_is_refused(monkeypatch):
    from dfdx.arrays import Library

    class NoComplex:
        def __array_namespace_info__(self):
            class Info:
                def dtypes(self, device=None, kind=None):
                    return {}

            return Info()

    monkeypatch.setattr(Library, "namespace", lambda self: NoComplex())
    with pytest.raises(
        ValueError, match=r"method='complex' needs complex arrays, which torch does not offer"
    ):
        dfdx.gradient(lambda t: torch.sum(t), torch.ones(2, dtype=torch.float64), method="complex")


def _counting_from_numpy(monkeypatch):
    calls = []
    original = torch.from_numpy

    def counted(arr):
        calls.append(arr.shape)
        return original(arr)

    monkeypatch.setattr(torch, "from_numpy", counted)
    return calls


@pytest.mark.parametrize("n", [3, 100])  # the few-variable path and the serial loop
def test_a_pytree_of_tensors_is_converted_once_per_block(monkeypatch, n):
    rng = np.random.default_rng(1)
    flat = rng.standard_normal(n)
    cut = n // 3
    a = rng.standard_normal((5, n))
    at = torch.from_numpy(a)
    params = {
        "w": torch.from_numpy(flat[:cut].copy()),
        "b": torch.from_numpy(flat[cut:].reshape(1, -1).copy()),
    }
    seen = []

    def f(p, scale=1.0):
        seen.append((p["w"].shape, p["b"].shape, p["w"].dtype, p["b"].device))
        return torch.sum(torch.sin(at @ torch.cat([p["w"], p["b"].reshape(-1)]))) * scale

    calls = _counting_from_numpy(monkeypatch)
    res = dfdx.gradient(f, params, kwargs={"scale": 1.0})  # kwargs bound around the pytree's f
    # f(x)'s two leaves, one per block of points, value, error and step's two leaves each.
    assert len(calls) <= 2 + 2 + 6 < len(seen) == res.nfev
    assert set(seen) == {((cut,), (1, n - cut), torch.float64, torch.device("cpu"))}
    ref = dfdx.gradient(lambda v: float(torch.sum(torch.sin(at @ torch.as_tensor(v)))), flat)
    np.testing.assert_array_equal(torch.cat([res.value["w"], res.value["b"].reshape(-1)]).numpy(), ref.value)
    error = torch.cat([res.error["w"], res.error["b"].reshape(-1)]).numpy()
    np.testing.assert_allclose(error, ref.error, rtol=1e-14)  # (a few ulps apart before this change too)


def test_one_tensor_is_converted_once_per_block_in_its_precision(monkeypatch):
    x = torch.linspace(-1.0, 2.0, 30, dtype=torch.float32)
    seen = []

    def f(t):
        seen.append(t.dtype)
        return torch.sum(torch.sin(t))

    calls = _counting_from_numpy(monkeypatch)
    res = dfdx.gradient(f, x, method="complex")
    # the library's complex check, f(x), the one block, value, error and step.
    assert len(calls) <= 6 < len(seen) == res.nfev
    assert set(seen[1:]) == {torch.complex64} and res.value.dtype == torch.float32
    np.testing.assert_allclose(res.value.numpy(), np.cos(x.numpy()), rtol=1e-6)
