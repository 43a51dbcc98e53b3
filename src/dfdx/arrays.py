"""Arrays of other libraries (torch, JAX, CuPy, any array-API library) at dfdx's boundary.

dfdx computes on NumPy arrays. A leaf of x from another library is read into NumPy once,
and every point f is evaluated at is handed back to f in that library, on x's device
(``array-api-compat`` finds the namespace and the device); f's outputs are read back the
same way, and the results are returned in x's library, on its device, in its floating
dtype. NumPy arrays and Python numbers pass through untouched.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Library", "library_of", "to_numpy"]

_NUMPY_TYPES = (np.ndarray, np.generic, float, int, bool, complex)


@dataclass(frozen=True)
class Library:
    """An array library and a device: where f's inputs are built and results returned."""

    name: str
    device: Any = None

    @property
    def is_numpy(self) -> bool:
        return self.name == "numpy"

    def namespace(self) -> Any:
        import array_api_compat

        return array_api_compat.array_namespace(self.empty())

    def empty(self) -> Any:
        """A small array of this library on this device (to find the namespace)."""
        return self.from_numpy(np.zeros(1))

    def from_numpy(self, arr: NDArray[Any], dtype: np.dtype[Any] | None = None) -> Any:
        """`arr` in this library, on this device, in `dtype` (default: arr's)."""
        if dtype is not None and arr.dtype != dtype:
            arr = arr.astype(dtype)
        if self.is_numpy:
            return arr
        if self.name == "torch":
            tensor = torch_from_numpy(arr)
            return tensor if self.device is None or str(self.device) == "cpu" else tensor.to(self.device)
        if self.name == "jax":
            import jax

            return jax.device_put(arr, self.device)
        xp = importlib.import_module(self.name)
        return xp.asarray(arr, device=self.device)

    def converter(self) -> Callable[[NDArray[Any]], Any]:
        """:meth:`from_numpy` without a dtype, made fast for the evaluation of f."""
        if self.name == "torch" and (self.device is None or str(self.device) == "cpu"):
            return torch_from_numpy
        return self.from_numpy

    def check_complex(self) -> None:
        """Refuse the complex step where the library (on this device) has no complex dtype."""
        if self.is_numpy:
            return
        info = getattr(self.namespace(), "__array_namespace_info__", None)
        kinds = info().dtypes(device=self.device, kind="complex floating") if info is not None else {"?": 0}
        if not kinds:
            raise ValueError(
                f"method='complex' needs complex arrays, which {self.name} does not offer on device "
                f"{self.device}; use method='central' (or another real stencil)."
            )


_TORCH_WARNED = False


def torch_from_numpy(arr: NDArray[Any]) -> Any:
    """A tensor sharing `arr`'s memory; read-only batches too (f is documented not to write)."""
    global _TORCH_WARNED
    import torch

    if _TORCH_WARNED or arr.flags.writeable:
        return torch.from_numpy(arr)
    with warnings.catch_warnings():
        # torch warns once per process that it cannot mark a tensor read-only.
        warnings.simplefilter("ignore", UserWarning)
        tensor = torch.from_numpy(arr)
    _TORCH_WARNED = True
    return tensor


def reader(library: Library, sample: Any) -> Callable[[Any], Any] | None:
    """A fast reader of f's values of `sample`'s type into NumPy, checking the device; or None."""
    lib = library_of(sample)
    if lib is None or lib.name != "torch" or library.name != "torch":
        return None
    expected = sample.device
    cpu = expected.type == "cpu"

    def read(value: Any) -> Any:
        if not value.is_cpu if cpu else value.device != expected:
            return None  # the general path names the mismatch
        if value.ndim == 0:
            return value.item()  # a Python number: the evaluator's fast path
        return value.detach().cpu().numpy()

    return read


def library_of(leaf: Any) -> Library | None:
    """The library and device of one leaf; None for a Python number (it goes with any library)."""
    if isinstance(leaf, (float, int, complex)) and not isinstance(leaf, bool):
        return None
    if isinstance(leaf, (np.ndarray, np.generic)):
        return Library("numpy")
    try:
        import array_api_compat
    except ImportError:  # pragma: no cover - array-api-compat is a dependency
        return None
    if not array_api_compat.is_array_api_obj(leaf):
        return None
    if array_api_compat.is_torch_array(leaf):
        name = "torch"
    elif array_api_compat.is_jax_array(leaf):
        name = "jax"
    elif array_api_compat.is_cupy_array(leaf):
        name = "cupy"
    else:
        name = array_api_compat.array_namespace(leaf).__name__
    return Library(name, array_api_compat.device(leaf))


def to_numpy(value: Any, library: Library | None) -> Any:
    """A leaf of x or an output of f as a NumPy array (Python numbers stay as they are)."""
    if library is None or library.is_numpy:
        return value
    if library.name == "torch":
        return value.detach().cpu().numpy()
    if library.name == "cupy":
        return value.get()
    try:
        return np.asarray(value)
    except (TypeError, ValueError, RuntimeError):
        return np.from_dlpack(value)
