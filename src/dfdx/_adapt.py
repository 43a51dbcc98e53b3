"""Front-end calls on a pytree x or another library's arrays: one flat NumPy call, nested results.

:func:`flat_call` maps x, `step`, `bounds`, `v` and `f0` to the flat vector of
:mod:`dfdx.trees`, wraps f in a :class:`TreeFunction` (flat NumPy points in, flat NumPy
values out, f itself seeing x's structure, library and device), runs the front-end's
body on the flat problem and returns its result in x's structure and library, with the
flat result in ``Result.flat``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import optree
from numpy.typing import NDArray

from ._options import Options
from ._result import DifferentiationError, Result
from .arrays import library_of, reader, to_numpy
from .trees import Flattening, Leaf, flatten

__all__ = ["TreeFunction", "flat_options", "nested_result"]

Array = NDArray[Any]


class TreeFunction:
    """f as the engine sees it: flat NumPy points in, flat NumPy values out (picklable)."""

    def __init__(self, f: Callable[..., Any], x: Flattening, vectorized: bool) -> None:
        self.f = f
        _named_after(self, f, f" on {x.spec if x.spec is not None else x.library.name}")
        self.x = x
        self.vectorized = vectorized
        #: The structure of f's values, learned from f(x); None while unknown.
        self.out: Flattening | None = None
        self.plain = False  # f returns NumPy arrays or numbers: they pass as they are
        self._point = x.point_maker()
        #: A fast reader of f's values when they are one array of x's library.
        self._type: type | None = None
        self._read: Callable[[Any], Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_point"]  # a closure: rebuilt where the function lands
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._point = self.x.point_maker()

    def __call__(self, point: Array, *args: Any, **kwargs: Any) -> Any:
        tree = self._point(point) if not self.vectorized else self.x.unravel(point, True)
        value = self.f(tree, *args, **kwargs)
        return value if self.plain else self.flat_value(value, self.vectorized)

    def rows(self, block: Array) -> tuple[Callable[..., Any], Iterable[Any]] | None:
        """f's inputs for all points of `block` at once, and the function taking one; or None.

        The evaluator's serial loop asks: where x's library makes a point per leaf slowly
        (torch), the block is converted once and f gets views of it (:meth:`Flattening.unravel_rows`).
        """
        if self.vectorized:
            return None
        inputs = self.x.unravel_rows(block)
        if inputs is None:
            return None
        read, kind = self._read, self._type
        if read is None or self.plain:
            return self.of_tree, inputs
        f, flat_value = self.f, self.flat_value

        def one_tensor(tree: Any, *args: Any, **kwargs: Any) -> Any:  # of_tree, its usual case first
            value = f(tree, *args, **kwargs)
            if type(value) is kind:
                got = read(value)
                if got is not None:
                    return got
            return flat_value(value, False)

        return one_tensor, inputs

    def of_tree(self, tree: Any, *args: Any, **kwargs: Any) -> Any:
        """f at a point already in x's structure and library, its value flat NumPy."""
        value = self.f(tree, *args, **kwargs)
        return value if self.plain else self.flat_value(value, False)

    def flat_value(self, value: Any, batch: bool) -> Any:
        """One value of f (or a batch of them) as a NumPy array."""
        if self.out is None:
            self.learn(value, batch)
        if self.plain:
            return value
        if self._read is not None and type(value) is self._type:  # one tensor, as f(x) was
            read = self._read(value)
            if read is not None:
                return read
        out = self.out
        assert out is not None
        if out.single:
            return optree.tree_map(self.checked, value)
        leaves, spec = optree.tree_flatten(value)
        if spec != out.spec:
            raise ValueError(f"f returned the structure {spec} here, but {out.spec} at x; keep it the same.")
        tail = (-1,) if batch else ()
        parts = [
            np.asarray(self.checked(leaf)).reshape((leaf_.size,) + tail)
            for leaf, leaf_ in zip(leaves, out.leaves)
        ]
        return np.concatenate(parts)

    def checked(self, value: Any) -> Any:
        """A library array of f as NumPy, refused on another device than x's."""
        lib = library_of(value)
        if lib is None or lib.is_numpy:
            return value
        if lib.name == self.x.library.name and str(lib.device) != str(self.x.library.device):
            raise ValueError(
                f"f returned a {lib.name} array on device {lib.device}, but x is on device "
                f"{self.x.library.device}; return f's values on x's device."
            )
        return to_numpy(value, lib)

    def learn(self, value: Any, batch: bool) -> None:
        """The structure of f's values, from the first one (f(x), computed in this process)."""
        leaves = optree.tree_leaves(value)
        self._type, self._read = type(value), reader(self.x.library, value)
        value = optree.tree_map(self.checked, value)
        found = flatten(value, root="f(x)", finite=False)
        if found is None:
            self.plain = all(isinstance(leaf, (np.ndarray, np.generic, float, int)) for leaf in leaves)
            found_shape = np.shape(value)[:-1] if batch else np.shape(value)
            leaf = Leaf("f(x)", found_shape, 0, self.x.dtype, False)
            self.out = Flattening(None, [leaf], self.x.library, self.x.dtype)
            return
        fl = found[0]
        if batch:  # the value of a batch of one point: drop the batch axis of every leaf
            leaves, offset = [], 0
            for leaf in fl.leaves:
                leaves.append(dataclasses.replace(leaf, shape=leaf.shape[:-1], offset=offset))
                offset += leaves[-1].size
            fl = Flattening(fl.spec, leaves, fl.library, fl.dtype)
        self.out = Flattening(fl.spec, fl.leaves, self.x.library, fl.dtype)


def flat_options(fl: Flattening, opts: Options, f: TreeFunction) -> Options:
    """The options of a pytree call, on the flat vector."""
    bounds = opts.bounds
    if isinstance(bounds, (tuple, list)) and len(bounds) == 2:
        bounds = (fl.ravel(bounds[0], "bounds lower"), fl.ravel(bounds[1], "bounds upper"))
    f0 = opts.f0
    if f0 is not None:
        f0 = f.flat_value(f0, batch=False)
    return opts.with_(step=fl.ravel(opts.step, "step"), bounds=bounds, f0=f0, kwargs=None)


def flat_pattern(sparsity: Any, out: Flattening, x: Flattening) -> Any:
    """A sparsity pattern given as nested blocks (``pattern[out_leaf][x_leaf]``) as one matrix."""
    if hasattr(sparsity, "tocsr") or isinstance(sparsity, (np.ndarray, str)):
        return sparsity  # already on the flat vectors
    blocks = optree.tree_leaves(sparsity)
    pairs = [(o, b) for o in out.leaves for b in x.leaves]
    if len(blocks) != len(pairs):
        raise ValueError(
            f"`sparsity` as blocks must have one block per output leaf and leaf of x ({len(pairs)}), "
            f"got {len(blocks)}; or give the (m, n) pattern of the flat vectors (see dfdx.trees.ravel)."
        )
    pattern = np.zeros((out.size, x.size), dtype=bool)
    for block, (o, b) in zip(blocks, pairs):
        try:
            part = np.broadcast_to(np.asarray(block, dtype=bool), o.shape + b.shape)
        except ValueError:
            raise ValueError(
                f"`sparsity` block of {o.path} and {b.path} must have shape {o.shape + b.shape}, "
                f"got {np.shape(block)}."
            ) from None
        pattern[o.offset : o.offset + o.size, b.offset : b.offset + b.size] = part.reshape(o.size, b.size)
    return pattern


def nested_result(res: Result, value_in: list[Flattening], step_in: list[Flattening]) -> Result:
    """`res` of the flat call in x's structure and library: ``value_in`` nests value and error."""

    def nest(a: Any, layout: list[Flattening], convert: bool = True) -> Any:
        if not layout:  # the step of a directional derivative: one number
            return a
        return layout[0].nest(np.asarray(a), layout[1:], convert=convert)

    if hasattr(res.value, "tocsr"):  # a sparse Jacobian stays on the flat vectors
        return dataclasses.replace(res, step=nest(res.step, step_in), flat=res)
    return dataclasses.replace(
        res,
        message=_named(res, value_in),
        value=nest(res.value, value_in),
        error=nest(res.error, value_in),
        step=nest(res.step, step_in),
        entries=nest(res.entry_status, value_in, convert=False),
        flat=res,
    )


def _named(res: Result, value_in: list[Flattening]) -> str:
    """The message with the entries named by their paths instead of flat indices."""
    if res.status.code == 0 or res.entries is None or not value_in:
        return res.message
    codes = np.asarray(res.entries)
    shape = tuple(fl.size for fl in value_in)
    if codes.size != int(np.prod(shape)):
        return res.message
    where = np.argwhere(codes.reshape(shape) == res.status.code)
    names = [" / ".join(fl.name(int(k)) for fl, k in zip(value_in, ix)) for ix in where[:6]]
    more = f" and {len(where) - 6} more" if len(where) > 6 else ""
    head = res.message.split(" Entries: ")[0]
    return f"{head} Entries: {', '.join(names)}{more}."


#: How each front-end's value (and step) nests: X is x's flattening, O that of f's values.
NESTING: dict[str, Callable[[Flattening, Flattening], tuple[list[Flattening], list[Flattening]]]] = {
    "gradient": lambda x, o: ([x], [x]),
    "derivative": lambda x, o: ([x], [x]),
    "jacobian": lambda x, o: ([o, x], [x]),
    "hessian": lambda x, o: ([o, x, x], [x]),
    "hessian_of_gradient": lambda x, o: ([x, x], [x]),
    "directional": lambda x, o: ([o], []),
}


def run_nested(run: Callable[[TreeFunction], Result], f: TreeFunction, nesting: str) -> Result:
    """`run` the flat call; its result (or the one a failure carries) comes back nested."""
    try:
        res = run(f)
    except DifferentiationError as exc:
        if f.out is not None:
            exc.result = nested_result(exc.result, *NESTING[nesting](f.x, f.out))
        raise
    if f.out is None:  # every value came from a store: f's own structure was never seen
        f.out = _flat_out(res, nesting, f.x)
    return nested_result(res, *NESTING[nesting](f.x, f.out))


def _flat_out(res: Result, nesting: str, x: Flattening) -> Flattening:
    """f's values taken as one array, its shape read off the flat result."""
    ndim = np.ndim(res.value) - len(x.shape) * {"jacobian": 1, "hessian": 2}.get(nesting, 0)
    shape = tuple(np.shape(res.value)[:ndim]) if nesting in ("jacobian", "hessian", "directional") else ()
    return Flattening(None, [Leaf("f(x)", shape, 0, x.dtype, False)], x.library, x.dtype)


#: The start of the evaluation layer's message for a complex f(x) at a real x.
COMPLEX_F = "f returned complex values at a real point x"


class ComplexParts:
    """A complex-valued f as the real methods see it: its real and imaginary parts, stacked first."""

    def __init__(self, f: Callable[..., Any]) -> None:
        self.f = f
        _named_after(self, f, " (real and imaginary parts)")

    def __call__(self, point: Array, *args: Any, **kwargs: Any) -> Array:
        return as_parts(self.f(point, *args, **kwargs))


def _named_after(wrapper: Any, f: Callable[..., Any], suffix: str) -> None:
    """Give `wrapper` f's module and name (with `suffix`): how a store names the function.

    The keyword arguments stay outside the wrapper (bound by ``functools.partial``), where
    the store finds them for its key; a wrapper of a lambda stays nameless, as the lambda.
    """
    qualname, module = getattr(f, "__qualname__", None), getattr(f, "__module__", None)
    if isinstance(qualname, str) and isinstance(module, str):
        wrapper.__qualname__, wrapper.__module__ = qualname + suffix, module


def as_parts(value: Any) -> Array:
    """``value`` as ``(2, *shape)``: real part, imaginary part."""
    value = np.asarray(value)
    return np.stack([value.real, value.imag]).astype(np.result_type(value.real.dtype, np.float64))


def complex_result(run: Callable[[], Result], extra: int) -> Result:
    """The result of `run` on the parts, combined into complex numbers (`extra` evaluations more)."""
    try:
        return _combined(run(), extra)
    except DifferentiationError as exc:
        exc.result = _combined(exc.result, extra)
        raise


def _combined(res: Result, extra: int) -> Result:
    value, error = np.asarray(res.value), np.asarray(res.error)
    codes = np.asarray(res.entries) if res.entries is not None else None
    return dataclasses.replace(
        res,
        value=_scalar(value[0] + 1j * value[1]),
        error=_scalar(np.hypot(error[0], error[1])),
        nfev=res.nfev + extra,
        entries=None if codes is None or codes.ndim == 0 else np.maximum(codes[0], codes[1]),
    )


def _scalar(a: Array) -> Any:
    return a[()] if a.ndim == 0 else a
