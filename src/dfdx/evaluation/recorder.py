"""One call's link to the store: the recorded values it finds, the new ones it records.

The :class:`Recorder` is opened by the :class:`~dfdx.evaluation.evaluator.Evaluator`
before anything is evaluated (so that a bad file is reported first), looks points up
block by block, and records each batch of new values in one transaction as it arrives.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .store import CHUNK, INSERT, Store, StoreError, decode, shape_text
from .work import PointSet

__all__ = ["Recorder", "digest"]


def digest(point: NDArray[Any]) -> bytes:
    """A 16-byte digest of a point's exact bits, dtype and shape."""
    a = np.ascontiguousarray(point)
    h = hashlib.blake2b(f"{a.dtype.str}{a.shape}".encode(), digest_size=16)
    h.update(a.data)
    return h.digest()


def _bound(f: Callable[..., Any]) -> tuple[tuple[Any, ...], list[tuple[str, Any]]]:
    """The arguments a ``functools.partial`` binds (`kwargs` reach f that way), in a fixed order."""
    args: tuple[Any, ...] = ()
    keywords: dict[str, Any] = {}
    while isinstance(f, functools.partial):
        args, keywords = f.args + args, {**f.keywords, **keywords}
        f = f.func
    return args, sorted(keywords.items())


class Recorder:
    """One call's link to a :class:`Store`: finds recorded values and records new ones.

    Also keeps which points came from the store and which were evaluated (provenance).
    """

    def __init__(self, store: Store, f: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.store = store
        self.name, self.version = store.identity(f), store.version
        try:
            blob = pickle.dumps((args, *_bound(f)), protocol=4)
        except Exception as exc:
            raise TypeError(
                f"store= keys evaluations by f's `args` and `kwargs`, which could not be pickled "
                f"({exc}); pass picklable ones, or fold them into f and name it with "
                "Store(name=, version=)."
            ) from exc
        self.context = hashlib.blake2b(blob, digest_size=16).digest()
        self.con = store.connect(write=True)
        self.reused: list[NDArray[Any]] = []
        self.new: list[NDArray[Any]] = []
        #: Rows a lock held back, and when to try them again.
        self.pending: list[tuple[Any, ...]] = []
        self.retry_at = 0.0

    def find(self, block: NDArray[Any]) -> tuple[list[bytes], dict[int, tuple[NDArray[Any], float | None]]]:
        """The digests of the points of `block` and the recorded ``(value, seconds)`` by index."""
        keys = [digest(p) for p in block]
        where: dict[bytes, list[int]] = {}
        for i, k in enumerate(keys):
            where.setdefault(k, []).append(i)
        found: dict[int, tuple[NDArray[Any], float | None]] = {}
        unique = list(where)
        for a in range(0, len(unique), CHUNK):
            chunk = unique[a : a + CHUNK]
            sql = (
                "SELECT digest, value, value_dtype, value_shape, seconds FROM evaluations "
                "WHERE name = ? AND version = ? AND context = ? "
                f"AND digest IN ({','.join('?' * len(chunk))})"
            )
            rows = self.store._query(self.con, sql, [self.name, self.version, self.context, *chunk])
            for k, blob, dtype, shape, seconds in rows:
                for i in where[k]:
                    found[i] = (decode(blob, dtype, shape), seconds)
        if found:
            self.reused.append(block[sorted(found)].copy())
        return keys, found

    def fill(
        self,
        points: PointSet,
        out: NDArray[Any],
        block_points: int,
        fresh: Callable[[NDArray[Any], list[bytes]], NDArray[Any]],
        skip: Callable[[int], None],
    ) -> None:
        """Values from the store where recorded, ``fresh(points, keys)`` (f, recorded) elsewhere."""
        total = len(points)
        for start in range(0, total, block_points):
            stop = min(total, start + block_points)
            block = points.block(start, stop)
            keys, found = self.find(block)
            for i, (value, _) in found.items():
                out[start + i] = self._checked(value, out)
            skip(len(found))
            missing = [i for i in range(stop - start) if i not in found]
            if missing:
                # A copy: the points recorded are those f was asked for, whatever f does to them.
                new = np.array(block[missing], dtype=block.dtype)
                out[start + np.array(missing)] = fresh(new, [keys[i] for i in missing])

    def _checked(self, value: NDArray[Any], out: NDArray[Any]) -> NDArray[Any]:
        """A recorded value, checked against the shape and dtype f gives now."""
        if value.shape != out.shape[1:] or value.dtype != out.dtype:
            raise StoreError(
                f"dfdx store {self.store.path}: f {self.name!r} version {self.version!r} was recorded "
                f"returning shape {value.shape} and dtype {value.dtype}, but returns shape "
                f"{out.shape[1:]} and dtype {out.dtype} now: another function under the same name. "
                "Give dfdx.Store(..., version=) a new version (or another name)."
            )
        return value

    def write(
        self, keys: list[bytes], points: NDArray[Any], values: NDArray[Any], seconds: float | None
    ) -> None:
        """Record f at `points` (one transaction); `seconds` is f's time for all of them.

        While another process holds the file locked past the timeout, the rows wait here
        and are written with a later batch (tried again one timeout later), or at
        :meth:`close`: a lock delays the record, it does not stop the run or lose a value.
        """
        self.new.append(np.array(points, copy=True))
        self.pending += self.rows(keys, points, values, seconds)
        if time.monotonic() >= self.retry_at:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        try:
            self.con.execute("BEGIN IMMEDIATE")
            self.con.executemany(INSERT, self.pending)
            self.con.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.con.in_transaction:
                self.con.execute("ROLLBACK")
            failure = self.store.failure(exc, f"record {len(self.pending)} new evaluation(s)")
            if final or not isinstance(exc, sqlite3.OperationalError) or "lock" not in str(exc):
                raise failure from exc
            self.retry_at = time.monotonic() + self.store.timeout
            return
        self.pending = []

    def close(self) -> None:
        """Write what a lock held back, and close the connection.

        Raises
        ------
        StoreError
            If the file is still locked: the evaluations not recorded are counted in
            the message (the call's result itself is complete).
        """
        try:
            if self.pending:
                self._flush(final=True)
        finally:
            self.pending = []  # reported once, by the error above
            self.con.close()

    def rows(
        self, keys: list[bytes], points: NDArray[Any], values: NDArray[Any], seconds: float | None
    ) -> list[tuple[Any, ...]]:
        """The rows of the evaluations table for f at `points`, finished now."""
        each = None if seconds is None else seconds / max(1, len(points))
        now = time.time()
        return [
            (self.name, self.version, self.context, k, p.tobytes(), p.dtype.str, shape_text(p))
            + (v.tobytes(), v.dtype.str, shape_text(v), now, each)
            for k, p, v in zip(keys, np.ascontiguousarray(points), np.asarray(values))
        ]
