"""The documented recipes for checking gradients of PyTorch (and JAX) code, float32 included.

These are the recipes of ``docs/checking.md``: f and its gradient are wrapped to take and
return NumPy arrays in the model's dtype, so dfdx sees the precision it is checking.
"""

from __future__ import annotations

import numpy as np
import pytest

import dfdx

torch = pytest.importorskip("torch")


def _mlp_loss(params: torch.Tensor) -> torch.Tensor:
    """A two-layer network's squared loss on fixed data, as a function of its 2*3 + 3 weights."""
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(8, 2, generator=gen, dtype=params.dtype)
    targets = torch.randn(8, generator=gen, dtype=params.dtype)
    w1 = params[:6].reshape(2, 3)
    w2 = params[6:]
    hidden = torch.tanh(inputs @ w1)
    return torch.mean((hidden @ w2 - targets) ** 2)


def _recipe(loss):
    """The recipe: NumPy in, NumPy out, in the dtype of x."""

    def f(x):
        return loss(torch.from_numpy(x)).detach().numpy()

    def grad(x):
        t = torch.from_numpy(x.copy()).requires_grad_()
        (g,) = torch.autograd.grad(loss(t), t)
        return g.numpy()

    return f, grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["full", "directional"])
def test_autograd_gradient_of_a_network_passes(dtype, mode):
    f, grad = _recipe(_mlp_loss)
    rng = np.random.default_rng(0)
    for trial in range(5):
        x = rng.standard_normal(9).astype(dtype)
        report = dfdx.check_gradient(f, grad, x, mode=mode, seed=trial)
        assert report.passed, str(report)
        assert report.dtype == np.dtype(dtype).name


def test_item_returns_python_floats_so_the_dtype_is_given():
    """``.item()`` hides float32 behind a Python float: pass ``dtype=np.float32``."""

    def f(x):
        return _mlp_loss(torch.as_tensor(x, dtype=torch.float32)).item()

    def grad(x):
        t = torch.as_tensor(x, dtype=torch.float32).requires_grad_()
        _mlp_loss(t).backward()
        return t.grad.double().numpy()

    x = np.random.default_rng(1).standard_normal(9)
    report = dfdx.check_gradient(f, grad, x, dtype=np.float32)
    assert report.passed and report.dtype == "float32", str(report)


class _BadSoftplus(torch.autograd.Function):
    """softplus with a hand-written backward that forgets a factor: the kind of bug checked for."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.nn.functional.softplus(x)

    @staticmethod
    def backward(ctx, out_grad):
        (x,) = ctx.saved_tensors
        return out_grad * torch.sigmoid(x) * (1 + 1e-3 * (x > 1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_wrong_custom_backward_is_caught_and_located(dtype):
    def loss(x):
        return torch.sum(_BadSoftplus.apply(x) * torch.arange(1, 1 + x.numel(), dtype=x.dtype))

    f, grad = _recipe(loss)
    x = np.linspace(-2, 2.5, 10).astype(dtype)  # entries 7, 8, 9 exceed 1
    report = dfdx.check_gradient(f, grad, x)
    assert report.verdict == "fail", str(report)
    # In float32 the numerical bars include the noise measured in f's values: the smallest
    # of the three changes (entry 7, 1e-3 relative) may only be checked loosely.
    assert {(8,), (9,)} <= set(report.mismatches) <= {(7,), (8,), (9,)}
    directional = dfdx.check_gradient(f, grad, x, mode="directional", seed=0)
    assert {(8,), (9,)} <= set(directional.mismatches) <= {(7,), (8,), (9,)}, str(directional)


def test_relu_network_at_a_kink_is_not_called_wrong():
    def loss(x):
        return torch.sum(torch.relu(x) * torch.tensor([1.0, 2.0, 3.0], dtype=x.dtype))

    f, grad = _recipe(loss)
    report = dfdx.check_gradient(f, grad, np.array([0.0, 1.0, -1.0]))
    assert report.verdict == "not differentiable" and report.nondifferentiable == (0,)
    assert dfdx.check_gradient(f, grad, np.array([0.0, 1.0, -1.0]), kinks="accept").passed


def test_jax_recipe_float32():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    def loss(w):
        return jnp.sum(jnp.tanh(w[:3] * w[3:]) ** 2) + jnp.log1p(jnp.sum(w**2))

    def f(x):
        return np.asarray(loss(jnp.asarray(x)))

    def grad(x):
        return np.asarray(jax.grad(loss)(jnp.asarray(x)))

    x = np.random.default_rng(2).standard_normal(6).astype(np.float32)
    assert f(x).dtype == np.float32
    for mode in ("full", "directional"):
        report = dfdx.check_gradient(f, grad, x, mode=mode, seed=1)
        assert report.passed and report.dtype == "float32", str(report)
    wrong = dfdx.check_gradient(f, lambda x: grad(x) * np.array([1, 1, 1, 1, 1.01, 1], np.float32), x)
    assert wrong.mismatches == ((4,),), str(wrong)


def test_a_tensor_x_is_refused_with_the_recipe():
    """f and grad would receive NumPy arrays: the torch code inside them would fail obscurely."""

    def loss(p):
        return torch.sum(torch.tanh(p) ** 2)

    with pytest.raises(TypeError, match=r"check_gradient takes x as a NumPy array, .* x is a torch\.Tensor"):
        dfdx.check_gradient(loss, lambda p: p, torch.ones(3))
    with pytest.raises(TypeError, match=r"check_jacobian takes x as a NumPy array, .*'PyTorch' and 'JAX'"):
        dfdx.check_jacobian(loss, lambda p: p, torch.ones(3, dtype=torch.float64))
