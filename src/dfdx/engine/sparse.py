"""Sparse Jacobians: structurally independent columns share their evaluations.

Two columns of the Jacobian whose nonzero rows do not overlap can be perturbed at
once: ``f(x + t (h_i e_i + h_j e_j))`` changes row ``r`` through at most one of them.
Columns are grouped greedily (Curtis, Powell and Reid), each group is one direction
for the engine, and entry ``(r, c)`` is read off the derivative along the group of
``c`` divided by ``h_c``.

References
----------
A. R. Curtis, M. J. D. Powell and J. K. Reid, "On the estimation of sparse Jacobian
matrices", IMA J. Appl. Math. 13 (1974), 117-119.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import scipy.sparse as sps  # type: ignore[import-untyped]
from numpy.typing import NDArray

from .dispatch import Call
from .fixed import entry_status
from .layouts import Axes, Directions

__all__ = ["as_pattern", "group_columns", "sparse_jacobian"]

Array = NDArray[Any]


def as_pattern(sparsity: Any, m: int, n: int) -> sps.csc_array:
    """The nonzero pattern as a boolean CSC array of shape ``(m, n)``."""
    if sps.issparse(sparsity):
        pattern = sps.csc_array(sparsity, dtype=bool)
    else:
        try:
            dense = np.asarray(sparsity)
        except (TypeError, ValueError):
            raise TypeError(
                f"`sparsity` must be a boolean array or a SciPy sparse matrix, got {sparsity!r:.60}."
            ) from None
        if dense.dtype.kind not in "biuf":
            raise TypeError(
                f"`sparsity` must be a boolean (or 0/1) array or a SciPy sparse matrix, got dtype "
                f"{dense.dtype}."
            )
        if dense.ndim != 2:
            raise ValueError(
                f"`sparsity` must be 2-D of shape (m, n) = ({m}, {n}) (m = f(x).size, "
                f"n = x.size), got shape {dense.shape}."
            )
        pattern = sps.csc_array(dense != 0)
    if pattern.shape != (m, n):
        raise ValueError(
            f"`sparsity` must have shape (m, n) = ({m}, {n}) (m = f(x).size, n = x.size), "
            f"got {pattern.shape}."
        )
    pattern.eliminate_zeros()
    pattern.sort_indices()
    return pattern


def group_columns(pattern: sps.csc_array) -> NDArray[np.intp]:
    """Greedy grouping of structurally orthogonal columns: the group of every column.

    Columns are taken in order; each joins the first group none of whose columns shares
    a nonzero row with it.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sps
    >>> tridiagonal = sps.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(6, 6))
    >>> group_columns(sps.csc_array(tridiagonal)).tolist()
    [0, 1, 2, 0, 1, 2]
    """
    m, n = pattern.shape
    indptr, indices = pattern.indptr, pattern.indices
    group = np.empty(n, dtype=np.intp)
    rows_taken: list[Array] = []
    for c in range(n):
        rows = indices[indptr[c] : indptr[c + 1]]
        for g, taken in enumerate(rows_taken):
            if not taken[rows].any():
                taken[rows] = True
                group[c] = g
                break
        else:
            taken = np.zeros(m, dtype=bool)
            taken[rows] = True
            rows_taken.append(taken)
            group[c] = len(rows_taken) - 1
    return group


_GROUPS: dict[bytes, NDArray[np.intp]] = {}


def _cached_groups(pattern: sps.csc_array) -> NDArray[np.intp]:
    """:func:`group_columns`, remembered per pattern: optimisers ask again every iteration."""
    digest = hashlib.blake2b(repr(pattern.shape).encode())
    digest.update(pattern.indptr.tobytes())
    digest.update(pattern.indices.tobytes())
    key = digest.digest()
    if key not in _GROUPS:
        if len(_GROUPS) >= 64:
            _GROUPS.clear()
        _GROUPS[key] = group_columns(pattern)
    return _GROUPS[key]


def sparse_jacobian(s: Call, sparsity: Any) -> tuple[sps.csr_array, sps.csr_array, Array, Array]:
    """Value and error (CSR, shape ``(m, n)``), entry status (per stored entry) and steps.

    `s` is the validated call (:class:`dfdx.engine.dispatch.Call`).
    """
    m, n = int(np.prod(s.ev.out_shape, dtype=np.intp)), s.x.size
    pattern = as_pattern(sparsity, m, n)
    h = s.steps(Axes(s.x, np.arange(n)))
    group = _cached_groups(pattern)
    ngroups = int(group.max()) + 1 if n else 0
    directions = np.zeros((ngroups, n))
    directions[group, np.arange(n)] = h
    est, _ = s.run(Directions(s.x, directions), h=np.ones(ngroups))
    coo = pattern.tocoo()
    rows, cols = coo.row, coo.col
    along = est.value.reshape(ngroups, m)
    error = est.error.reshape(ngroups, m)
    status = entry_status(est).reshape(ngroups, m)
    g = group[cols]
    value = along[g, rows] / h[cols]
    err = error[g, rows] / h[cols]
    shape = (m, n)
    return (
        sps.csr_array((value, (rows, cols)), shape=shape),
        sps.csr_array((err, (rows, cols)), shape=shape),
        status[g, rows],
        h,
    )
