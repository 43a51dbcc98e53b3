"""The cost of pytrees and array libraries: the same gradient through each door, side by side.

1. A 100-variable gradient (the default central stencil, f evaluated point by point) of a
   logistic-regression loss on 200 samples, with x as a flat NumPy vector, as a dict of
   four arrays (a pytree), as a torch tensor and as a dict of torch tensors. Ratio: the
   call's median time, less f's own (f takes each form in its own way), plus the flat
   f's, over the flat NumPy call's: what the structure or the library adds.
2. A vectorized torch gradient of a 2,000-variable function (the same loss with 2,000
   weights): dfdx's whole call against f's own time on the batches of points the call
   evaluates (each batch timed as a torch tensor already built, medians summed).

Run: ``python benchmarks/bench_structures.py``
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import dfdx

REPEATS = 21
rng = np.random.default_rng(0)


def _median_time(call: Callable[[], Any], repeats: int = REPEATS) -> float:
    """Median CPU time of this process (the machine may be shared: wall time would count others)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return statistics.median(times)


def overhead_100() -> None:
    n, samples = 100, 200
    a = rng.standard_normal((samples, n)) / 10
    y = rng.integers(0, 2, samples) * 2.0 - 1
    at, yt = torch.from_numpy(a), torch.from_numpy(y)
    x = rng.standard_normal(n) / 3
    names = ["a", "b", "c", "d"]
    cuts = np.cumsum([40, 30, 20, 10])[:-1]
    blocks = dict(zip(names, np.split(a, cuts, axis=1)))
    blocks_t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in blocks.items()}

    def flat(w):
        return float(np.sum(np.logaddexp(0.0, -y * (a @ w))))

    def tree(p):  # the same loss, the product taken block by block
        return float(np.sum(np.logaddexp(0.0, -y * sum(blocks[k] @ p[k] for k in names))))

    def flat_torch(w):
        return torch.sum(torch.nn.functional.softplus(-yt * (at @ w)))

    def tree_torch(p):
        return torch.sum(torch.nn.functional.softplus(-yt * sum(blocks_t[k] @ p[k] for k in names)))

    x_tree = dict(zip(names, np.split(x, cuts)))
    x_torch = torch.from_numpy(x.copy())
    x_tree_t = {k: torch.from_numpy(v.copy()) for k, v in x_tree.items()}
    cases = {
        "NumPy vector (reference)": (flat, x),
        "dict of 4 NumPy arrays": (tree, x_tree),
        "torch tensor": (flat_torch, x_torch),
        "dict of 4 torch tensors": (tree_torch, x_tree_t),
    }
    calls: dict[str, list[float]] = {name: [] for name in cases}
    alone: dict[str, list[float]] = {name: [] for name in cases}
    for f, point in cases.values():
        dfdx.gradient(f, point)  # warm up
    for _ in range(REPEATS):  # interleaved, so that load on the machine hits every case alike
        for name, (f, point) in cases.items():
            calls[name].append(_median_time(lambda f=f, point=point: dfdx.gradient(f, point), 1))
            alone[name].append(_median_time(lambda f=f, point=point: [f(point) for _ in range(401)], 1))
    t_ref, f_ref = (
        statistics.median(calls["NumPy vector (reference)"]),
        statistics.median(alone["NumPy vector (reference)"]),
    )
    print("1. 100-variable gradient, f point by point (400 evaluations + f(x)); medians")
    head = f"   {'x':28s} {'dfdx.gradient':>13s} {'f alone x401':>13s} {'dfdx own':>9s}"
    print(f"{head} {'ratio':>6s} {'added':>10s}")
    for name in cases:
        t, f_own = statistics.median(calls[name]), statistics.median(alone[name])
        # The time dfdx adds beyond f, over the flat call's time: f's own cost in each
        # form (NumPy or torch, one product or four) is the user's, not dfdx's.
        ratio = (t - f_own + f_ref) / t_ref
        own = (t - f_own) * 1e3
        added = ((t - f_own) - (t_ref - f_ref)) / 401 * 1e6  # per evaluation of f
        row = f"   {name:28s} {t * 1e3:10.2f} ms {f_own * 1e3:10.2f} ms {own:6.2f} ms"
        print(f"{row} {ratio:6.2f} {added:6.1f} us")


def vectorized_torch_2000() -> None:
    n, samples = 2000, 200
    a = torch.from_numpy(rng.standard_normal((samples, n)) / 30)
    y = torch.from_numpy(rng.integers(0, 2, samples) * 2.0 - 1)
    x = torch.from_numpy(rng.standard_normal(n) / 3)
    batches: list[torch.Tensor] = []

    def f(w):  # w: (2000, k)
        return torch.sum(torch.nn.functional.softplus(-y[:, None] * (a @ w)), dim=0)

    def recording(w):
        batches.append(w.clone())
        return f(w)

    dfdx.gradient(recording, x, vectorized=True)
    points = sum(b.shape[-1] for b in batches)
    seconds = _median_time(lambda: dfdx.gradient(f, x, vectorized=True))
    own = sum(statistics.median(_times(f, b)) for b in batches)
    print(f"\n2. vectorized torch gradient, n = {n}: {points} points in {len(batches)} batches")
    print(f"   dfdx.gradient {seconds * 1e3:8.2f} ms   f alone on those batches {own * 1e3:8.2f} ms")
    print(f"   ratio {seconds / own:.2f}")


def _times(f: Callable[[Any], Any], batch: torch.Tensor) -> list[float]:
    out = []
    for _ in range(REPEATS):
        start = time.process_time()
        f(batch)
        out.append(time.process_time() - start)
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    overhead_100()
    vectorized_torch_2000()
