"""The ``sparsity=`` option of jacobian and hessian: pattern, colours, checks, the result.

:func:`sparse_jacobian_call` takes a given pattern or detects one (``'auto'``), decides
whether grouping pays (a pattern that needs nearly a colour per column does not: the
dense Jacobian is computed instead, and the result says so), computes the compressed
Jacobian, checks a detected pattern along a random direction, and falls back to the
dense Jacobian when that check fails. :func:`sparse_hessian_call` does the same for a
Hessian, from a gradient (star colouring) or from f (second differences of the pattern's
pairs only).
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sps  # type: ignore[import-untyped]
from numpy.typing import NDArray

from .._result import DifferentiationError, Result, Sparsity, Status
from ..numerics.coloring import column_groups, count
from .detect import detect, traced_pattern, verify
from .sparse import PatternMisses, as_pattern, pattern_key, sparse_jacobian

__all__ = [
    "sparse_jacobian_call",
    "sparse_result",
    "resolve_pattern",
    "with_report",
    "checked_key",
    "already_checked",
    "DENSE_LIMIT",
]

Array = NDArray[Any]

#: Largest dense Jacobian (entries) that ``sparsity='auto'`` falls back to.
DENSE_LIMIT = 2**27

_SUCCESS = Status.SUCCESS


def resolve_pattern(s: Any, sparsity: Any, m: int, n: int) -> tuple[sps.csc_array | None, str]:
    """The pattern to use and its source, None if f is dense (``'auto'`` only)."""
    if isinstance(sparsity, str):
        if sparsity != "auto":
            raise ValueError(
                f"`sparsity` must be 'auto', a boolean array or a SciPy sparse matrix, got {sparsity!r:.40}."
            )
        return detect(s)
    return as_pattern(sparsity, m, n), "given"


def sparse_jacobian_call(s: Any, sparsity: Any) -> tuple[Result | None, Sparsity]:
    """The sparse result, or None and the report when the dense Jacobian is to be computed."""
    m, n = int(np.prod(s.ev.out_shape, dtype=np.intp)), s.x.size
    pattern, source = resolve_pattern(s, sparsity, m, n)
    if pattern is None:
        return None, _dense_report(
            None,
            n,
            source,
            "f looks dense (probing found a row depending on "
            "half the coordinates or more): the Jacobian was computed dense",
        )
    auto = source != "given"
    # A detected pattern is new: coloured here, not remembered. A given one is remembered.
    colouring = column_groups(pattern) if auto else None
    if colouring is not None:
        colors = count(colouring)
        if colors + 1 >= n:  # grouping saves nothing over the dense Jacobian (with the check)
            note = (
                f"the detected pattern needs {colors} colours for {n} columns: "
                "the Jacobian was computed dense"
            )
            return None, _dense_report(pattern, n, source, note)
    try:
        value, error, status, rows, cols, h, colors = sparse_jacobian(s, pattern, colouring)
    except PatternMisses as exc:
        if not auto:
            raise
        return None, _dense_report(pattern, n, source, f"the detected pattern missed nonzeros ({exc})")
    key = None if auto else checked_key(s, pattern)
    note = "" if already_checked(key) else verify(s, value, error, h)
    if note and key is not None:
        misses = _misses(s, pattern, note)
        if misses is not None:
            raise misses
        note = ""  # tracing confirms the given pattern: the disagreement is the entries' accuracy
    if key is not None:
        _remember(key)
    if note:
        note = f"the {source} pattern failed its check: {note}; the Jacobian was computed dense"
        return None, _dense_report(pattern, n, source, note)
    report = Sparsity(
        pattern=sps.csr_array(pattern),
        colors=colors,
        source=source,
        note=f"{source} pattern with {pattern.nnz} nonzeros in {colors} colours"
        + (", checked along a random direction" if auto else ""),
    )
    return sparse_result(s, value, error, status, rows, cols, h, report), report


#: The given patterns already checked, per function: weak keys, so that a function that is
#: gone cannot pass its patterns on to a new one that happens to reuse its memory.
_CHECKED: weakref.WeakKeyDictionary[Any, set[bytes]] = weakref.WeakKeyDictionary()


def checked_key(s: Any, pattern: sps.csc_array) -> tuple[Any, bytes]:
    """A given pattern is checked once per function it is used with (an optimiser's calls)."""
    return s.ev.f, pattern_key(pattern)


def already_checked(key: tuple[Any, bytes] | None) -> bool:
    """Whether the pattern of `key` passed its check with the same function before."""
    if key is None:
        return False
    f, pattern = key
    try:
        return pattern in _CHECKED.get(f, ())
    except TypeError:  # f cannot be referenced weakly: it is checked every time
        return False


def _remember(key: tuple[Any, bytes]) -> None:
    """A given pattern passed its check along a random direction: later calls skip it."""
    f, pattern = key
    try:
        _CHECKED.setdefault(f, set()).add(pattern)
    except TypeError:
        pass


def _misses(s: Any, pattern: sps.csc_array, note: str) -> PatternMisses | None:
    """The error for a given pattern that failed its check, naming the entries if tracing finds them.

    None when tracing finds every entry inside the pattern.
    """
    traced = traced_pattern(s)
    if traced is None:
        return PatternMisses(
            f"`sparsity` misses nonzeros of the Jacobian: {note}, so f depends on coordinates the "
            "pattern leaves out in those rows. Add them, or pass sparsity='auto'.",
            [],
        )
    missing = sps.coo_array(traced > pattern)
    if missing.nnz == 0:
        return None
    entries = [(int(r), [int(c)]) for r, c in zip(missing.row[:6], missing.col[:6])]
    shown = ", ".join(f"({r}, {c[0]})" for r, c in entries)
    more = f" and {missing.nnz - 6} more" if missing.nnz > 6 else ""
    return PatternMisses(
        f"`sparsity` misses {missing.nnz} nonzero(s) of the Jacobian that f depends on: "
        f"entries {shown}{more} (row = output, column = coordinate of x). Add them to the pattern, "
        "or pass sparsity='auto'.",
        entries,
    )


def _dense_report(pattern: sps.csc_array | None, n: int, source: str, note: str) -> Sparsity:
    full = None if pattern is None else sps.csr_array(pattern)
    if pattern is not None and pattern.shape[0] * n > DENSE_LIMIT:
        raise ValueError(
            f"sparsity='auto': {note}, but the dense Jacobian ({pattern.shape[0]} x {n}) is too large to "
            "fall back to. Pass the pattern as `sparsity=` (a boolean SciPy sparse array)."
        )
    return Sparsity(pattern=full, colors=n, source=source, dense=True, note=note)


def sparse_result(
    s: Any,
    value: sps.csr_array,
    error: sps.csr_array,
    entries: Array,
    rows: Array,
    cols: Array,
    h: Array,
    report: Sparsity,
) -> Result:
    """The Result of a sparse derivative: the worst entry status, naming its entries.

    `entries` holds the status code of every stored entry, in the order of `rows` and `cols`.
    """
    codes = np.asarray(entries, dtype=np.int8)
    worst = Status.of_code(int(codes.max())) if codes.size else _SUCCESS
    result: Result = replace(s.finish(value, error, None, h.reshape(s.x.shape)), sparsity=report)
    if worst is _SUCCESS:
        return result
    bad = np.flatnonzero(codes == worst.code)
    shown = ", ".join(f"({int(rows[k])}, {int(cols[k])})" for k in bad[:6])
    more = f" and {bad.size - 6} more" if bad.size > 6 else ""
    message = f"{worst.message} Entries: {shown}{more}."
    entries_csr = sps.csr_array((codes, (rows, cols)), shape=value.shape)  # Result.entry_status, sparse
    result = replace(result, status=worst, message=message, entries=entries_csr)
    if s.throw and worst.failed:
        raise DifferentiationError(f"{worst.name}: {message}", result)
    return result


def with_report(result: Result, report: Sparsity | None) -> Result:
    """A dense result carrying the sparsity report (why it is dense)."""
    if report is None:
        return result
    return replace(result, sparsity=report)
