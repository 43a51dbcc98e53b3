"""Pytrees: x as nested dicts, lists and tuples of numbers and arrays, of any array library.

The engine differentiates one flat NumPy vector. A :class:`Flattening` maps x to it and
back: the leaves in optree's order (dict keys sorted, sequences in order), each ravelled
in C order and concatenated, in the finest floating dtype among them. f receives points
in x's structure (and library, on x's device); results come back in it: a gradient in
x's structure, a Jacobian as ``jac[out_leaf][x_leaf]`` and a Hessian as ``hess[a][b]``
(blocks of shape ``a.shape + b.shape``), as in JAX. ``Result.flat`` holds the same
result on the flat vector (``value`` the plain matrix); :func:`ravel` gives the vector
and the way back.

A list or tuple that NumPy reads as one numeric array (``[1.0, 2.0]``) is an array, as
before; dicts, namedtuples, ragged or nested structures and arrays of other libraries are
pytrees.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optree
from numpy.typing import NDArray

from .arrays import Library, library_of, to_numpy

__all__ = ["ravel"]  # the public face; Flattening and flatten serve the front-ends

Array = NDArray[Any]


@dataclass(frozen=True)
class Leaf:
    """Where one leaf lives in the flat vector, and what it was."""

    path: str
    shape: tuple[int, ...]
    offset: int
    dtype: np.dtype[Any]
    number: bool  # a Python number: it comes back as a NumPy scalar

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class Flattening:
    """How a pytree (or one array of another library) maps to one flat NumPy vector."""

    def __init__(self, spec: Any, leaves: Sequence[Leaf], library: Library, dtype: np.dtype[Any]) -> None:
        self.spec = spec
        self.leaves = tuple(leaves)
        self.library = library
        self.dtype = dtype
        #: One leaf without structure (a bare torch tensor): its shape is kept, not ravelled.
        self.single = spec is None
        self.size = sum(leaf.size for leaf in self.leaves)
        self.shape = self.leaves[0].shape if self.single else (self.size,)
        self._make = library.converter()
        #: ``(start, stop, shape, number)`` of every leaf: the slices of a point.
        self._slices = [(lf.offset, lf.offset + lf.size, lf.shape, lf.number) for lf in self.leaves]
        #: A NumPy point's leaves in one call: an index (a number) or a slice per leaf,
        #: then the leaves of two or more dimensions reshaped.
        views = [start if number else slice(start, stop) for start, stop, _, number in self._slices]
        self._take = operator.itemgetter(*views) if len(views) > 1 else None
        self._reshape = [(k, shape) for k, (*_, shape, number) in enumerate(self._slices) if len(shape) > 1]

    # -- to the flat vector ----------------------------------------------------------
    def ravel(self, tree: Any, name: str) -> Any:
        """An argument of x's structure (`step`, a bound, `v`) as a flat array; numbers pass."""
        if tree is None or (isinstance(tree, (int, float)) and not isinstance(tree, bool)):
            return tree
        if self.single:
            return _numeric(tree, self.library, name)
        leaves, spec = optree.tree_flatten(tree)
        if spec != self.spec:
            if spec.is_leaf() and np.ndim(_numeric(tree, self.library, name)) == 0:
                return _numeric(tree, self.library, name)  # one number for every coordinate
            raise ValueError(f"`{name}` must be a number or have x's structure {self.spec}, got {spec}.")
        parts = [
            np.broadcast_to(_numeric(value, self.library, name), leaf.shape).ravel()
            for value, leaf in zip(leaves, self.leaves)
        ]
        return np.concatenate(parts).astype(np.result_type(*parts), copy=False)

    # -- from the flat vector ----------------------------------------------------------
    def point_maker(self) -> Callable[[Array], Any]:
        """:meth:`unravel` for single points, made fast where x is a NumPy pytree."""
        if self.single and self.dtype != np.float32:  # no complex point to bring to x's precision
            return self._make
        if not (self.library.is_numpy and self._take is not None and not self._reshape):
            return self.unravel
        take, spec, unflatten = self._take, self.spec, optree.tree_unflatten
        return lambda flat: unflatten(spec, take(flat))

    def unravel(self, flat: Array, batch: bool = False) -> Any:
        """A point (or a batch, the points on a last axis) in x's structure and library."""
        lib = self.library
        if flat.dtype.kind == "c" and self.dtype == np.float32:
            flat = flat.astype(np.complex64)  # the complex step in x's precision
        if self.single:
            return self._make(flat)
        tail = flat.shape[1:] if batch else ()
        if lib.is_numpy and not batch and self._take is not None:
            pieces = self._take(flat)
            if self._reshape:
                pieces = list(pieces)
                for k, shape in self._reshape:
                    pieces[k] = pieces[k].reshape(shape)
        elif lib.is_numpy:
            pieces = [
                flat[start] if number and not batch else flat[start:stop].reshape(shape + tail)
                for start, stop, shape, number in self._slices
            ]
        else:
            make = self._make
            pieces = [
                flat[start] if number and not batch else make(flat[start:stop].reshape(shape + tail))
                for start, stop, shape, number in self._slices
            ]
        return optree.tree_unflatten(self.spec, pieces)

    def unravel_rows(self, block: Array) -> Iterable[Any] | None:
        """The points of `block` (one a row) in x's structure, for f one at a time; or None.

        Made for torch, where building a tensor costs microseconds: the block becomes one
        tensor, each leaf's columns are cut from it once and split into rows (views), so a
        point costs a pytree of views instead of a tensor per leaf. Other libraries (and
        NumPy, whose point maker is as fast) get None: their points are made one by one.
        """
        if self.library.name != "torch":
            return None
        if block.dtype.kind == "c" and self.dtype == np.float32:
            block = block.astype(np.complex64)  # the complex step in x's precision
        tensor = self._make(np.ascontiguousarray(block))
        if self.single:
            return tuple(tensor.unbind(0))
        rows = len(block)
        columns = [
            block[:, start] if number else tensor[:, start:stop].reshape((rows, *shape)).unbind(0)
            for start, stop, shape, number in self._slices
        ]
        return map(self.spec.unflatten, zip(*columns))

    def name(self, k: int) -> str:
        """The path of the flat vector's entry `k`: ``x['w'][1, 0]``."""
        if self.single:
            index = np.unravel_index(k, self.shape)
            return f"{self.leaves[0].path}[{', '.join(map(str, index))}]" if index else self.leaves[0].path
        for leaf in self.leaves:
            if leaf.offset <= k < leaf.offset + leaf.size:
                index = np.unravel_index(k - leaf.offset, leaf.shape)
                return f"{leaf.path}[{', '.join(map(str, index))}]" if index else leaf.path
        raise IndexError(k)

    def nest(
        self, a: Any, inner: Sequence[Flattening], lead: tuple[int, ...] = (), convert: bool = True
    ) -> Any:
        """`a` (shape ``lead + self.shape + inner shapes``) as blocks in this structure, then `inner`'s."""
        blocks = []
        for leaf in self.leaves:
            block = a
            if not self.single:
                axis = len(lead)
                block = np.take(a, np.arange(leaf.offset, leaf.offset + leaf.size), axis=axis)
                block = block.reshape(lead + leaf.shape + a.shape[axis + 1 :])
            if inner:
                blocks.append(inner[0].nest(block, inner[1:], lead + leaf.shape, convert))
            elif convert and leaf.number and self.library.is_numpy and block.ndim == 0:
                blocks.append(block.astype(_real(leaf.dtype, block))[()])  # a number comes back one
            elif convert:
                blocks.append(self.library.from_numpy(np.array(block), _real(leaf.dtype, block)))
            else:
                blocks.append(block)
        return blocks[0] if self.single else optree.tree_unflatten(self.spec, blocks)


def _real(dtype: np.dtype[Any], block: Array) -> np.dtype[Any]:
    """The result dtype of a block: the leaf's precision, complex if the values are."""
    return np.result_type(dtype, np.complex64) if block.dtype.kind == "c" else dtype


def path_name(path: tuple[Any, ...], root: str = "x") -> str:
    """``('layer1', 'b')`` -> ``x['layer1']['b']``; ``(0, 2)`` -> ``x[0][2]``."""
    return root + "".join(f"[{key!r}]" for key in path)


def _numeric(leaf: Any, library: Library | None, name: str) -> Array:
    """One leaf as a NumPy array; non-numbers are refused, named by `name`."""
    value = np.asarray(to_numpy(leaf, library_of(leaf) or library))
    if value.dtype.kind not in "fiu":
        kind = "complex" if value.dtype.kind == "c" else f"{type(leaf).__name__} {leaf!r:.40}"
        raise TypeError(f"`{name}` must be numeric (a real number or an array of real numbers), got {kind}.")
    return value


def _is_array(x: Any) -> bool:
    """x is one NumPy array (or number, or a list NumPy reads as one numeric array)."""
    if isinstance(x, (np.ndarray, np.generic, int, float, complex, bool, str, bytes)) or x is None:
        return True
    if type(x) in (list, tuple):
        leaves = optree.tree_leaves(x)
        if all(isinstance(leaf, (np.ndarray, np.generic, int, float, complex, bool)) for leaf in leaves):
            try:
                arr = np.asarray(x)
            except (TypeError, ValueError):
                return False
            return arr.dtype.kind != "O"
        return False
    return not _is_tree(x)


def _is_tree(x: Any) -> bool:
    """A container of leaves, or an array of another library."""
    return library_of(x) is not None or not optree.tree_structure(x).is_leaf()


def flatten(x: Any, root: str = "x", finite: bool = True) -> tuple[Flattening, Array] | None:
    """x's flattening and flat vector; None when x is a NumPy array or number (no adapter)."""
    if _is_array(x):
        return None
    paths, values, spec = optree.tree_flatten_with_path(x)
    if not values:
        raise ValueError(f"`{root}` is empty; give at least one coordinate.")
    single = spec.is_leaf()
    libraries = [library_of(value) for value in values]
    library = _one_library(libraries, paths, root)
    arrays, leaves, offset = [], [], 0
    for path, value in zip(paths, values):
        name = path_name(path, root)
        arr = _numeric(value, library, name)
        if finite and not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` must be finite; it has NaN or inf.")
        dtype = np.dtype(np.float64) if arr.dtype.kind in "iu" else arr.dtype
        dtype = np.dtype(np.float32) if dtype == np.float16 else dtype
        number = isinstance(value, (int, float))
        leaves.append(Leaf(name, arr.shape, offset, dtype, number))
        arrays.append(arr)
        offset += arr.size
    dtype = np.result_type(*[leaf.dtype for leaf in leaves])
    fl = Flattening(None if single else spec, leaves, library, dtype)
    if single:
        return fl, arrays[0].astype(dtype)
    return fl, np.concatenate([a.ravel() for a in arrays]).astype(dtype)


def _one_library(libraries: list[Library | None], paths: list[Any], root: str) -> Library:
    """The one library (and device) of x's leaves; mixing libraries or devices is refused."""
    found: dict[Library, Any] = {}
    for lib, path in zip(libraries, paths):
        if lib is not None:
            found.setdefault(lib, path)
    names = {lib.name for lib in found}
    if len(names) > 1:
        listed = ", ".join(f"{lib.name} at {path_name(path, root)}" for lib, path in found.items())
        raise TypeError(
            f"`{root}` mixes array libraries ({listed}); convert its leaves to one library first."
        )
    if len(found) > 1:
        listed = ", ".join(f"{lib.device} at {path_name(path, root)}" for lib, path in found.items())
        raise ValueError(f"`{root}` has leaves on different devices ({listed}); move them to one device.")
    return next(iter(found), Library("numpy"))


def ravel(x: Any) -> tuple[Array, Callable[[Array], Any]]:
    """The flat NumPy vector dfdx differentiates for x, and the function that maps one back.

    Examples
    --------
    >>> import numpy as np
    >>> from dfdx.trees import ravel
    >>> flat, unravel = ravel({"b": np.array([1.0, 2.0]), "a": 3.0})
    >>> flat
    array([3., 1., 2.])
    >>> unravel(flat * 2)
    {'b': array([2., 4.]), 'a': np.float64(6.0)}
    """
    found = flatten(x)
    if found is None:
        arr = np.asarray(x, dtype=np.result_type(np.asarray(x).dtype, np.float64))
        return arr.ravel(), lambda flat: np.asarray(flat).reshape(arr.shape)
    fl, flat = found
    return flat, fl.unravel
