"""Gradient checkers side by side: planted bugs caught, and false failures on correct float32 code.

    python benchmarks/bench_check.py            # the tables below
    python benchmarks/bench_check.py --sweep    # dfdx alone on 5400 correct gradients

The same bugs are planted in the gradient of the same function for every checker: as the
backward of a ``torch.autograd.Function`` for ``torch.autograd.gradcheck`` (default slow
mode, and ``fast_mode=True``), as a ``jax.custom_vjp`` for ``jax.test_util.check_grads``
(reverse mode, default tolerances), and as a plain function for ``dfdx.check_gradient``
(full and directional modes, defaults). Every checker runs with its defaults.

The second table counts failures on *correct* float32 code: real autograd / jax.grad
gradients of float32 functions at random points, which every checker should pass.
"""

from __future__ import annotations

import statistics
import time
import warnings

import numpy as np

import dfdx

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
try:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.test_util import check_grads
except ImportError:  # pragma: no cover
    jax = None


# -- the function whose gradient carries the bugs ------------------------------------------


def smooth(x, xp):
    """A coupled smooth function, written once for NumPy, torch and jax.numpy."""
    return xp.sum(xp.log(1 + x**2)) + xp.sum(xp.sin(x[:-1] * x[1:])) + 0.1 * xp.sum(x) ** 2


def smooth_grad(x):
    g = 2 * x / (1 + x**2) + 0.2 * np.sum(x)
    c = np.cos(x[:-1] * x[1:])
    g[:-1] += c * x[1:]
    g[1:] += c * x[:-1]
    return g


def field(x, xp):
    """A vector function with a non-symmetric Jacobian (for the transposed-Jacobian bug)."""
    n = x.shape[0]
    m = xp.asarray(np.triu(np.arange(1.0, n * n + 1).reshape(n, n)) / n**2)
    return xp.tanh(m @ x) + x**2


def field_jac(x):
    n = x.size
    m = np.triu(np.arange(1.0, n * n + 1).reshape(n, n)) / n**2
    return (1 - np.tanh(m @ x) ** 2)[:, None] * m + np.diag(2 * x)


def _one(k, factor):
    def mutate(g, x):
        g = g.copy()
        g[k] *= factor
        return g

    return mutate


def _swap(g, x):
    g = g.copy()
    g[[1, 4]] = g[[4, 1]]
    return g


BUGS = [
    # name, n, planted gradient (x -> wrong gradient)
    ("one entry off by 1e-6 (rel.)", 10, lambda x: _one(3, 1 + 1e-6)(smooth_grad(x), x)),
    ("one entry off by 0.05%", 10, lambda x: _one(3, 1.0005)(smooth_grad(x), x)),
    ("sign flip of one entry", 10, lambda x: _one(3, -1.0)(smooth_grad(x), x)),
    ("two entries swapped", 10, lambda x: _swap(smooth_grad(x), x)),
    ("missing factor 2", 10, lambda x: smooth_grad(x) / 2),
    ("gradient at x + 1e-6 |x|", 10, lambda x: smooth_grad(x * (1 + 1e-6))),
    ("one entry 100% off, n=100", 100, lambda x: _one(37, 2.0)(smooth_grad(x), x)),
    ("one entry off by 1e-4, n=1000", 1000, lambda x: _one(417, 1 + 1e-4)(smooth_grad(x), x)),
    ("one entry 100% off, n=1000", 1000, lambda x: _one(417, 2.0)(smooth_grad(x), x)),
]


def _point(n, seed=0):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, n)


# -- each checker on a planted gradient ------------------------------------------------------


def dfdx_check(f_np, wrong, x, mode, jacobian=False):
    check = dfdx.check_jacobian if jacobian else dfdx.check_gradient
    report = check(f_np, wrong, x, mode=mode, seed=0)
    return report.verdict == "fail", report.nfev


def torch_planted(f_torch, wrong, jacobian=False):
    class Planted(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return f_torch(x)

        @staticmethod
        def backward(ctx, out_grad):
            (x,) = ctx.saved_tensors
            j = torch.from_numpy(wrong(x.detach().numpy()))
            return out_grad @ j if jacobian else out_grad * j

    return Planted.apply


def torch_check(f_torch, wrong, x, fast, jacobian=False):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok = torch.autograd.gradcheck(
            torch_planted(f_torch, wrong, jacobian), (t,), fast_mode=fast, raise_exception=False
        )
    return not ok


def jax_planted(f_jax, wrong, jacobian=False):
    @jax.custom_vjp
    def planted(x):
        return f_jax(x)

    def fwd(x):
        return f_jax(x), x

    def bwd(x, out_grad):
        j = jnp.asarray(wrong(np.asarray(x)))
        return (out_grad @ j if jacobian else out_grad * j,)

    planted.defvjp(fwd, bwd)
    return planted


def jax_check(f_jax, x, dtype=np.float64):
    try:
        check_grads(f_jax, (jnp.asarray(x, dtype=dtype),), order=1, modes=["rev"])
    except AssertionError:
        return True
    return False


def bug_rows():
    rows = []
    cases = [(name, n, wrong, lambda x: smooth(x, np), False) for name, n, wrong in BUGS]
    cases.insert(6, ("transposed Jacobian (5x5)", 5, lambda x: field_jac(x).T, lambda x: field(x, np), True))
    for name, n, wrong, f_np, jac in cases:
        x = _point(n)
        xp_f = field if jac else smooth
        cells = []
        for mode in ("full", "directional"):
            caught, nfev = dfdx_check(f_np, wrong, x, mode, jac)
            cells.append(f"{'caught' if caught else 'MISSED'} ({nfev} ev.)")
        if torch is not None:
            for fast in (False, True):
                caught = torch_check(lambda t, xp_f=xp_f: xp_f(t, torch), wrong, x, fast, jac)
                cells.append("caught" if caught else "MISSED")
        if jax is not None:
            caught = jax_check(jax_planted(lambda z, xp_f=xp_f: xp_f(z, jnp), wrong, jac), x)
            cells.append("caught" if caught else "MISSED")
        rows.append((name, *cells))
    return rows


# -- false failures on correct float32 code ---------------------------------------------------

CORRECT = [
    lambda x, xp: xp.sum(xp.sin(x) * xp.cos(2 * x)),
    lambda x, xp: xp.log(1 + xp.sum(x**2)),
    lambda x, xp: xp.sum(xp.tanh(x[:-1] - 2 * x[1:])),
    lambda x, xp: xp.exp(-xp.sum(x**2) / 4),
    lambda x, xp: xp.sum((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2),
    lambda x, xp: xp.sqrt(1 + xp.sum(x**2)),
    lambda x, xp: xp.sum(xp.log(1 + xp.exp(x))),
    lambda x, xp: xp.log(xp.sum(xp.exp(x))),
    lambda x, xp: xp.sum(x**3) / 3 - xp.sum(x[:-1] * x[1:]),
    lambda x, xp: xp.sum(xp.arctan(x * 3)),
    lambda x, xp: smooth(x, xp),
    lambda x, xp: xp.sum(x**4 - 3 * x**2) + xp.prod(1 + x / 10),
]


def false_failures(points=6, n=8):
    counts = {"dfdx full": 0, "dfdx directional": 0, "gradcheck": 0, "gradcheck fast": 0, "check_grads": 0}
    total = 0
    for k, fn in enumerate(CORRECT):
        for seed in range(points):
            total += 1
            x = _point(n, 100 * k + seed).astype(np.float32)

            def f(z, fn=fn):
                return fn(torch.from_numpy(z), torch).detach().numpy()

            def grad(z, fn=fn):
                t = torch.from_numpy(z.copy()).requires_grad_()
                (g,) = torch.autograd.grad(fn(t, torch), t)
                return g.numpy()

            for mode in ("full", "directional"):
                counts[f"dfdx {mode}"] += not dfdx.check_gradient(f, grad, x, mode=mode, seed=seed).passed
            t = torch.tensor(x, requires_grad=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for fast, key in ((False, "gradcheck"), (True, "gradcheck fast")):
                    ok = torch.autograd.gradcheck(
                        lambda t, fn=fn: fn(t, torch), (t,), fast_mode=fast, raise_exception=False
                    )
                    counts[key] += not ok
            if jax is not None:
                counts["check_grads"] += jax_check(lambda z, fn=fn: fn(z, jnp), x, np.float32)
    return counts, total


def timing(n=100, repeats=7):
    """Median time of one check of a correct gradient, each checker, n = 100, float64."""
    x = _point(n)
    out = {}

    def run(label, call):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        out[label] = statistics.median(times)

    run("dfdx full", lambda: dfdx.check_gradient(lambda z: smooth(z, np), smooth_grad, x))
    run(
        "dfdx directional",
        lambda: dfdx.check_gradient(lambda z: smooth(z, np), smooth_grad, x, mode="directional", seed=0),
    )
    t = torch.tensor(x, requires_grad=True)
    run("gradcheck", lambda: torch.autograd.gradcheck(lambda z: smooth(z, torch), (t,)))
    run("gradcheck fast", lambda: torch.autograd.gradcheck(lambda z: smooth(z, torch), (t,), fast_mode=True))
    if jax is not None:
        run("check_grads", lambda: jax_check(lambda z: smooth(z, jnp), x))
    return out


def sweep(points=25):
    """dfdx alone on correct autograd gradients: 12 functions x 3 sizes x `points` points,
    float32 and float64, full and directional modes; |x| up to `scale` x 1.5."""
    rows = []
    for dtype in (np.float32, np.float64):
        for scale in (2, 3, 5):
            fails = {"full": 0, "directional": 0}
            total = 0
            for n in (3, 8, 40):
                for k, fn in enumerate(CORRECT):
                    for seed in range(points):
                        x = (_point(n, 1000 * k + seed) * (1 + (scale - 1) * (seed % 3) / 2)).astype(dtype)

                        def f(z, fn=fn):
                            return fn(torch.from_numpy(z), torch).detach().numpy()

                        def grad(z, fn=fn):
                            t = torch.from_numpy(z.copy()).requires_grad_()
                            (g,) = torch.autograd.grad(fn(t, torch), t)
                            return g.numpy()

                        total += 1
                        for mode in fails:
                            fails[mode] += not dfdx.check_gradient(f, grad, x, mode=mode, seed=seed).passed
            rows.append(
                (
                    np.dtype(dtype).name,
                    f"{1.5 * scale:g}",
                    f"{fails['full']} / {total}",
                    f"{fails['directional']} / {total}",
                )
            )
    return rows


def _print_table(head, rows):
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


def main():
    if torch is None or jax is None:
        print("this benchmark needs torch and jax (pip install 'dfdx[bench]' torch)")
    head = [
        "planted bug (float64)",
        "dfdx full",
        "dfdx directional",
        "gradcheck",
        "gradcheck fast",
        "check_grads",
    ]
    print("Planted bugs: caught or missed, each checker with its defaults")
    _print_table(head, bug_rows())
    print()
    counts, total = false_failures()
    print(
        f"False failures on correct float32 code ({total} checks: {len(CORRECT)} functions x "
        f"{total // len(CORRECT)} random points, n = 8, autograd gradients)"
    )
    _print_table(["checker", "false failures"], [(k, f"{v} / {total}") for k, v in counts.items()])
    print()
    times = timing()
    base = times["dfdx full"]
    print("Median time of one check of a correct gradient, n = 100, float64 (ratio to dfdx full)")
    _print_table(
        ["checker", "time", "ratio"], [(k, f"{v * 1e3:.2f} ms", f"{v / base:.2f}") for k, v in times.items()]
    )


if __name__ == "__main__":
    import sys

    if "--sweep" in sys.argv:
        print("dfdx false failures on correct autograd gradients (12 functions, n = 3, 8, 40)")
        _print_table(["dtype", "max |x|", "full", "directional"], sweep())
    else:
        main()
