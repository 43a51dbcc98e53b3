"""Record every result of the bank in every mode, and compare two records bit for bit.

A refactoring that claims to keep behaviour is checked by recording before and after:

    python benchmarks/compare_bits.py record before.npz
    ... change the code ...
    python benchmarks/compare_bits.py record after.npz
    python benchmarks/compare_bits.py compare before.npz after.npz

Every problem of the extended bank (tests/bank.py) goes through the gradient in every
method and accuracy, the adaptive mode, the noisy mode, with bounds, serial and vectorized,
float64 and float32; plus derivatives of orders 1 to 4, Hessians and directional
derivatives. Each result's value, error, step, status and nfev are kept (a raised
exception is kept as its message). ``compare`` lists every key whose arrays differ in
any bit, and exits 1 if there is one.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bank import EXTENDED  # noqa: E402

import dfdx  # noqa: E402

Call = Callable[[Callable[[Any], Any], np.ndarray], Any]


def _gradient_modes() -> Iterator[tuple[str, dict[str, Any]]]:
    yield "default", {}
    for p in (2, 4, 6, 8):
        yield f"central{p}", {"accuracy": p}
    for kind in ("forward", "backward"):
        for p in (1, 2, 4):
            yield f"{kind}{p}", {"method": kind, "accuracy": p}
    yield "complex", {"method": "complex"}
    yield "adaptive", {"adaptive": True}
    yield "adaptive_forward", {"adaptive": True, "method": "forward"}
    yield "noise_auto", {"noise": "auto"}
    yield "noise_given", {"noise": 1e-10}
    yield "user_step", {"step": 1e-4}


def _bounds(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A box touching x from below in the even coordinates, close above in the odd ones."""
    i = np.arange(x.size)
    lower = np.where(i % 2 == 0, x, -np.inf)
    upper = np.where(i % 2 == 1, x + 1e-3 * np.maximum(1.0, np.abs(x)), np.inf)
    return lower, upper


def _calls(x: np.ndarray, vectorized: bool) -> Iterator[tuple[str, Call]]:
    common: dict[str, Any] = {"throw": False, "vectorized": vectorized}
    for name, options in _gradient_modes():
        yield f"gradient/{name}", lambda f, x, o=options: dfdx.gradient(f, x, **common, **o)
    box = _bounds(x)
    yield "gradient/bounds", lambda f, x: dfdx.gradient(f, x, bounds=box, **common)
    yield "gradient/bounds_adaptive", lambda f, x: dfdx.gradient(f, x, bounds=box, adaptive=True, **common)
    yield "hessian/default", lambda f, x: dfdx.hessian(f, x, **common)
    yield "hessian/adaptive", lambda f, x: dfdx.hessian(f, x, adaptive=True, **common)
    v = np.linspace(1.0, -0.5, x.size)
    yield "directional/default", lambda f, x: dfdx.directional(f, x, v, **common)
    yield "directional/complex", lambda f, x: dfdx.directional(f, x, v, method="complex", **common)
    if x.size == 1:
        for n in (1, 2, 3, 4):
            yield f"derivative/n{n}", lambda f, x, n=n: dfdx.derivative(lambda t: f([t]), x[0], n=n, **common)
            yield (
                f"derivative/n{n}_adaptive",
                lambda f, x, n=n: dfdx.derivative(lambda t: f([t]), x[0], n=n, adaptive=True, **common),
            )


def _fields(result: Any) -> dict[str, np.ndarray]:
    return {
        "value": np.asarray(result.value, dtype=np.float64),
        "error": np.asarray(result.error, dtype=np.float64),
        "step": np.asarray(result.step, dtype=np.float64),
        "status": np.asarray(str(result.status)),
        "nfev": np.asarray(result.nfev),
        "message": np.asarray(result.message),
    }


def record(path: str, names: set[str] | None = None) -> dict[str, np.ndarray]:
    """Run everything and save it to `path` (``.npz``, if given); returns the arrays."""
    out: dict[str, np.ndarray] = {}
    for p in [p for p in EXTENDED if names is None or p.name in names]:
        for dtype in (np.float64, np.float32):
            x = p.x.astype(dtype)
            for vectorized in (False, True):
                for name, call in _calls(x, vectorized):
                    key = f"{p.name}/{np.dtype(dtype).name}/{'vec' if vectorized else 'ser'}/{name}"
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            result = call(p.f, x.copy())
                    except Exception as exc:  # noqa: BLE001 -- the message is the result
                        out[f"{key}/raised"] = np.asarray(f"{type(exc).__name__}: {exc}")
                        continue
                    for field, a in _fields(result).items():
                        out[f"{key}/{field}"] = a
    if path:
        np.savez_compressed(path, **out)  # type: ignore[arg-type]
    return out


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Keys present in one record only, or whose arrays differ in any bit."""
    lines = []
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            lines.append(f"{key}: only in {'the first' if key in a else 'the second'}")
            continue
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.shape != y.shape or x.dtype != y.dtype or x.tobytes() != y.tobytes():
            lines.append(f"{key}: {_show(x)} -> {_show(y)}")
    return lines


def _show(a: np.ndarray) -> str:
    text = np.array2string(a, precision=17, threshold=6) if a.dtype.kind in "fc" else str(a)
    return text if len(text) < 200 else text[:200] + "..."


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "record":
        out = record(argv[1])
        print(f"{len(out)} arrays recorded in {argv[1]}")
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        a, b = dict(np.load(argv[1])), dict(np.load(argv[2]))
        lines = differences(a, b)
        for line in lines:
            print(line)
        results = {k.rsplit("/", 1)[0] for k in a}
        changed = {k.rsplit("/", 1)[0] for k in (line.split(":")[0] for line in lines)}
        print(f"{len(changed)} of {len(results)} results differ ({len(lines)} arrays)")
        return 1 if lines else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
