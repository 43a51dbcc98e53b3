"""The one result type of every front-end, its status codes and the error it raises."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

__all__ = ["Status", "Result", "Provenance", "Sparsity", "DifferentiationError"]

ArrayOrScalar = Union[NDArray[Any], np.generic]  # noqa: UP007 (a runtime alias on 3.10)


class Status(enum.Enum):
    """How a differentiation went. Each message says what it means and what to do.

    Statuses are ordered by severity: a result's status is the worst of its entries.
    ``failed`` statuses raise :class:`DifferentiationError` unless ``throw=False``.
    """

    SUCCESS = (0, False, "The derivative was computed and its error estimate is reliable.")
    ONE_SIDED = (
        1,
        False,
        "f is not finite on one side of x (a domain boundary or a bound) for some entries; "
        "one-sided stencils were used there. The values are sound; check `error`.",
    )
    ESTIMATED_ERROR = (
        2,
        False,
        "The error estimate rests on a model of f (too few points to measure the truncation "
        "error). Use a higher `accuracy` or `adaptive=True` for a measured estimate.",
    )
    NOT_CONVERGED = (
        3,
        False,
        "The step sequence did not settle within `max_steps` to `rtol`/`atol`; the value is "
        "the best found and `error` says how good it is. If f is noisy pass `noise=`, "
        "otherwise loosen `rtol` or raise `max_steps`.",
    )
    ROUNDOFF = (
        4,
        False,
        "Rounding or noise in f limits the accuracy: the error estimate is large compared with "
        "the value, or smaller steps could not reach the requested `rtol`/`atol`. Pass `noise=` "
        "(or 'auto') if f is noisy, loosen the tolerances, or compute f in higher precision.",
    )
    UNRESOLVED = (
        5,
        True,
        "No step was found on f's own scale for some entries: estimates at two step families "
        "disagreed at every step tried (f oscillates or turns faster than the steps could "
        "resolve, or its scale is far from |x|). Pass a `step` near f's scale, try "
        "`adaptive=True`, or check f near x.",
    )
    NOT_DIFFERENTIABLE = (
        6,
        True,
        "f does not look differentiable at x for some entries (the one-sided slopes disagree, "
        "or f jumps). Check f near x; the value is a central estimate only.",
    )
    NONFINITE = (
        7,
        True,
        "f returned NaN or inf at x or at stencil points, on both sides of x. Move x inside "
        "f's domain, pass `bounds=`, or give a smaller `step`.",
    )

    def __init__(self, severity: int, failed: bool, message: str) -> None:
        self.severity = severity
        self.failed = failed
        self.message = message

    def __repr__(self) -> str:
        return f"Status.{self.name}"

    @staticmethod
    def worst(*statuses: Status) -> Status:
        """The most severe of `statuses` (SUCCESS if none)."""
        return max(statuses, key=lambda s: s.severity, default=Status.SUCCESS)

    @property
    def code(self) -> int:
        """The status as the engine stores it per entry: its severity, a small integer."""
        return int(self.severity)

    @staticmethod
    def of_code(code: int) -> Status:
        """The status whose :attr:`code` is `code`."""
        return _BY_CODE[int(code)]


_BY_CODE = {status.severity: status for status in Status}


@dataclass(frozen=True, repr=False, eq=False)
class Sparsity:
    """How a sparse Jacobian or Hessian was laid out: the pattern and its colours.

    Attributes
    ----------
    pattern : scipy.sparse.csr_array
        The nonzero pattern used, boolean, shape ``(m, n)`` (the symmetric pattern for a
        Hessian). Pass it as ``sparsity=`` next time to skip detection.
    colors : int
        Evaluation groups (colours): columns of one colour were perturbed together.
    source : str
        ``'given'``, ``'traced'`` (f was run on index sets) or ``'probed'`` (f was
        evaluated with each coordinate moved at random points near x).
    dense : bool
        True when the derivative was computed dense: the pattern is (nearly) full, or the
        detected pattern failed its check (`note` says which).
    note : str
        What happened, in a sentence.
    coloring : str
        ``'column'`` (a grouping of columns, distance-2) or ``'star'`` (Hessians).
    """

    pattern: Any
    colors: int
    source: str
    dense: bool = False
    note: str = ""
    coloring: str = "column"

    def __repr__(self) -> str:
        nnz = None if self.pattern is None else int(self.pattern.nnz)
        return (
            f"Sparsity(source={self.source!r}, colors={self.colors}, nnz={nnz}, dense={self.dense}, "
            f"coloring={self.coloring!r})"
        )


@dataclass(frozen=True, repr=False, eq=False)
class Result:
    """A derivative with its error estimate. The same fields from every front-end.

    Attributes
    ----------
    value : ndarray or NumPy scalar
        The derivative. Its shape is documented by each front-end.
    error : ndarray or NumPy scalar
        Estimate of ``|value - truth|``, same shape as `value`.
    step : ndarray or NumPy scalar
        The absolute step(s) used, one per differentiated coordinate or direction.
    nfev : int
        Number of points at which f was evaluated, ``f(x)`` included.
    status : Status
        Worst status over all entries; ``status.message`` says what to do.
    message : str
        Human-readable account of `status`, with the affected entries.
    method : str
        The method, e.g. ``"central"`` or ``"complex"``.
    accuracy : int
        Order of accuracy of the stencil; in the adaptive mode, of the base stencil
        whose quotients were extrapolated (the answer is of higher order).
    noise : float or None
        The absolute noise level of f that the steps were chosen for, if any.
    entry_status : ndarray of Status
        The status of every entry of `value` (an object array of its shape, or for a
        pytree x the same nested structure): `status` is the worst of them.
    flat : Result or None
        For a pytree x or an array of another library, the same result on the flat
        NumPy vector that dfdx differentiated (``value`` the plain gradient, Jacobian
        or Hessian matrix; the flattening is :func:`dfdx.trees.ravel`'s). None otherwise.
    sparsity : Sparsity or None
        With ``sparsity=``: the pattern, the number of colours and how it was found.
    """

    value: ArrayOrScalar
    error: ArrayOrScalar
    step: ArrayOrScalar
    nfev: int
    status: Status
    message: str
    method: str
    accuracy: int = 0
    noise: float | None = None
    sparsity: Sparsity | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    flat: Result | None = None
    #: The per-entry status codes as the engine gave them (None: every entry SUCCESS).
    entries: Any = field(default=None, repr=False)

    @functools.cached_property
    def entry_status(self) -> Any:
        """The status of every entry of `value` (see the class documentation)."""
        shape = np.shape(self.value)
        if self.entries is None:
            return np.full(shape, Status.SUCCESS, dtype=object)
        if isinstance(self.entries, np.ndarray) and self.entries.dtype.kind in "iu":
            by_code = np.array([Status.of_code(code) for code in range(len(Status))], dtype=object)
            return np.broadcast_to(by_code[self.entries], shape).copy()
        return self.entries

    @property
    def provenance(self) -> Provenance | None:
        """With ``store=``: which points came from the store and which were evaluated (else None)."""
        found: Provenance | None = self.extras.get("provenance")
        return found

    @property
    def success(self) -> bool:
        """True unless the status is a failure (``status.failed``)."""
        return not self.status.failed

    def __array__(self, dtype: Any = None, copy: Any = None) -> NDArray[Any]:
        return np.asarray(self.value, dtype=dtype)

    def __repr__(self) -> str:
        head = (
            f"Result(method={self.method!r}, accuracy={self.accuracy}, nfev={self.nfev}, "
            f"status={self.status!r})"
        )
        return f"{head}\n{_pm(self.value, self.error)}"

    __str__ = __repr__


@dataclass(frozen=True, repr=False, eq=False)
class Provenance:
    """Where the values of f behind a result came from, when it was computed with ``store=``.

    Attributes
    ----------
    store : str
        The store's file.
    name, version : str
        f's identity in the store.
    reused : ndarray
        The points, ``(k, *x.shape)``, whose values were read from the store (``f(x)``
        included when it was recorded).
    new : ndarray
        The points f was evaluated at in this call, each recorded as it completed.
    """

    store: str
    name: str
    version: str
    reused: NDArray[Any]
    new: NDArray[Any]

    def __repr__(self) -> str:
        return (
            f"Provenance(store={self.store!r}, name={self.name!r}, version={self.version!r}, "
            f"reused={len(self.reused)} points, new={len(self.new)} points)"
        )


def _pm(value: ArrayOrScalar, error: ArrayOrScalar, limit: int = 12) -> str:
    """``value ± error`` per entry, or a summary for large arrays."""
    if hasattr(value, "tocsr"):  # sparse Jacobian
        worst = float(error.max()) if getattr(error, "nnz", 0) else 0.0
        return f"  value: {value!r}\n  error: max {worst:.2g}"
    if isinstance(value, (dict, list, tuple)):  # a pytree x (or f(x)): entries named by their paths
        return _pm_tree(list(_leaves(value, error, "")), limit)
    v = np.asarray(value)
    e = np.broadcast_to(np.asarray(error, dtype=float), v.shape)
    if v.size > limit:
        with np.printoptions(threshold=limit, edgeitems=3, precision=6):
            return f"  value: {v!r}\n  error: max {np.nanmax(e):.2g}, median {np.nanmedian(e):.2g}"
    entries = [_one(float(a), float(b)) for a, b in zip(v.ravel(), e.ravel())]
    if v.ndim == 0:
        return f"  value: {entries[0]}"
    index = [str(i) for i in np.ndindex(v.shape)]
    width = max(len(i) for i in index)
    lines = [f"  {i.ljust(width)}  {s}" for i, s in zip(index, entries)]
    return "\n".join(lines)


def _leaves(value: Any, error: Any, path: str) -> Any:
    """``(path, value, error)`` of every leaf of a nested result, in its order."""
    if isinstance(value, dict):
        for key in value:
            yield from _leaves(value[key], error[key], f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for k, (v, e) in enumerate(zip(value, error)):
            yield from _leaves(v, e, f"{path}[{k}]")
    else:
        yield path, np.asarray(value), np.asarray(error, dtype=float)


def _pm_tree(leaves: list[tuple[str, NDArray[Any], NDArray[Any]]], limit: int) -> str:
    """One line per entry, ``['w'][1]  value ± error``; one line per leaf when there are many."""
    if sum(v.size for _, v, _ in leaves) > limit:
        width = max(len(path) for path, _, _ in leaves)
        return "\n".join(
            f"  {path.ljust(width)}  shape {v.shape}, error max {np.nanmax(e) if e.size else 0:.2g}"
            for path, v, e in leaves
        )
    rows = []
    for path, v, e in leaves:
        e = np.broadcast_to(e, v.shape)
        for index in np.ndindex(v.shape):
            label = path + (f"[{', '.join(map(str, index))}]" if index else "")
            rows.append((label, _one(float(v[index]), float(e[index]))))
    width = max((len(label) for label, _ in rows), default=0)
    return "\n".join(f"  {label.ljust(width)}  {text}" for label, text in rows)


def _one(value: float, error: float) -> str:
    if not np.isfinite(value):
        return f"{value}"
    if not np.isfinite(error) or error <= 0:
        return f"{value:.17g} ± {error:.1g}"
    # Show the digits the error estimate vouches for, and two more.
    digits = int(np.clip(np.floor(np.log10(max(abs(value), 1e-300) / error)) + 2, 1, 17))
    return f"{value:.{digits}g} ± {error:.1e}"


class DifferentiationError(RuntimeError):
    """A numerical failure: f was not finite, or not differentiable, where it had to be.

    The partial result, with the entries that could be computed, is in ``result``.
    """

    def __init__(self, message: str, result: Result) -> None:
        super().__init__(message)
        self.result = result
