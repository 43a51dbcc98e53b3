"""A persistent record of f's evaluations (``store=``): one SQLite file, written as results arrive.

Every evaluation is a row keyed by f's identity (a name and a version), a digest of its
extra arguments, and a digest of the exact bits, dtype and shape of the point; the row
holds the point, the value's bytes, dtype and shape, when it finished and how long f
took. A later call with the same f, arguments and points (a rerun after a crash, a
Hessian after a gradient at the same x) reads these values instead of calling f, so its
results are bit for bit those of a run that evaluated everything.

Why SQLite from the standard library rather than ``diskcache`` (a key-value cache built
on SQLite): the record must never evict an evaluation (a cache does, by design, past its
size limit), must be listed by columns (function, when, how long) rather than opaque
pickled keys, and should cost no dependency; both rest on the same SQLite transactions,
and the benchmark ``benchmarks/bench_store.py`` measures the two side by side.

Robustness: the file is in WAL mode (readers never block the one writer, and a process
killed in the middle of a transaction leaves the last committed state), writers wait up
to ``timeout`` seconds for a lock, and each batch of results is one transaction made in
the calling process as the values arrive, whatever ran f (threads, processes, Dask).
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Store", "StoreError", "Entry", "as_store", "decode", "shape_text", "INSERT", "CHUNK"]

#: Version of the file layout, kept in the file's ``dfdx_store`` table.
FORMAT = "1"
CHUNK = 500  # digests per SELECT (SQLite allows 999 parameters in older builds)
#: One evaluation into the table (a point recorded twice keeps its first value).
INSERT = "INSERT OR IGNORE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dfdx_store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    name TEXT NOT NULL, version TEXT NOT NULL, context BLOB NOT NULL, digest BLOB NOT NULL,
    point BLOB NOT NULL, point_dtype TEXT NOT NULL, point_shape TEXT NOT NULL,
    value BLOB NOT NULL, value_dtype TEXT NOT NULL, value_shape TEXT NOT NULL,
    finished REAL NOT NULL, seconds REAL,
    PRIMARY KEY (name, version, context, digest)
) WITHOUT ROWID;
"""


class StoreError(RuntimeError):
    """The store file cannot be used: corrupt, not a dfdx store, locked too long, or read-only.

    Raised before anything is evaluated when the file cannot be opened. When the file
    stayed locked to the end of a call, the derivative itself is complete: it is in
    ``result`` (otherwise None), and the message counts the evaluations not recorded.
    """

    result: Any = None


@dataclass(frozen=True)
class Entry:
    """One recorded evaluation: ``f(point) = value``, finished at `finished`, taking `seconds`.

    `seconds` is the wall time of f at that point; for points evaluated together (a
    vectorized call, a batch on a worker) it is the batch's time shared equally.
    """

    name: str
    version: str
    point: NDArray[Any]
    value: NDArray[Any]
    finished: datetime
    seconds: float | None


class Store:
    """A persistent record of f's evaluations in one SQLite file, for ``store=``.

    Parameters
    ----------
    path : str or os.PathLike
        The file; created if missing (its folder must exist).
    name : str, optional
        f's identity in the store. Default: f's module and qualified name
        (``"mymodel.simulate"``); required for a lambda or a nested function.
    version : str, optional
        Change it when f changes: values of another version are never used. Default "".
    timeout : float, optional
        Seconds to wait for another process's lock before a :class:`StoreError`. Default 30.

    Examples
    --------
    >>> import os, tempfile, numpy as np, dfdx
    >>> path = os.path.join(tempfile.mkdtemp(), "run.db")
    >>> store = dfdx.Store(path, name="quadratic", version="1")
    >>> def f(x):
    ...     return float(x @ x)
    >>> first = dfdx.gradient(f, [1.0, 2.0], store=store)
    >>> again = dfdx.gradient(f, [1.0, 2.0], store=store)
    >>> first.nfev, again.nfev, len(again.provenance.reused), len(store)
    (13, 0, 13, 13)
    >>> bool((first.value == again.value).all())
    True
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        version: str = "",
        timeout: float = 30.0,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"the store's path must be a str or os.PathLike, got {type(path).__name__}.")
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"`name` must be a non-empty str, got {name!r:.60}.")
        if not isinstance(version, str):
            raise TypeError(f"`version` must be a str (e.g. '2'), got {type(version).__name__}.")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
            raise ValueError(f"`timeout` must be a number of seconds >= 0, got {timeout!r:.40}.")
        self.path = Path(path)
        self.name, self.version, self.timeout = name, version, float(timeout)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, name={self.name!r}, version={self.version!r})"

    def identity(self, f: Callable[..., Any]) -> str:
        """f's name in the store: the given `name`, or f's module and qualified name.

        A ``functools.partial`` (how `kwargs` reach f) is named by the function it wraps;
        its bound arguments are part of the key with `args` (see the recorder).
        """
        if self.name is not None:
            return self.name
        while isinstance(f, functools.partial):
            f = f.func
        qualname, module = getattr(f, "__qualname__", None), getattr(f, "__module__", None)
        if not isinstance(qualname, str) or "<lambda>" in qualname or "<locals>" in qualname:
            raise ValueError(
                f"store= needs a name for f = {f!r:.60}: a lambda, a nested function or a callable "
                "object has no stable name of its own. Pass dfdx.Store(path, name='my-model', "
                "version='1')."
            )
        return f"{module}.{qualname}"

    def connect(self, *, write: bool) -> sqlite3.Connection:
        """An open connection, the file checked (and created, laid out, in WAL mode, for `write`)."""
        try:
            if write:
                # Used by one thread at a time; a finalizer may close it from another.
                con = sqlite3.connect(
                    self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
                )
            else:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                con = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise self.failure(exc, "open") from exc
        try:
            if write:
                tables = {
                    row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
                if tables and "dfdx_store" not in tables:
                    raise StoreError(self._foreign())
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")  # durable across a crash of the process
                con.executescript(_SCHEMA)
                con.execute("INSERT OR IGNORE INTO dfdx_store VALUES ('format', ?)", (FORMAT,))
            self._check_format(con)
        except sqlite3.Error as exc:
            con.close()
            raise self.failure(exc, "open") from exc
        except StoreError:
            con.close()
            raise
        return con

    def _check_format(self, con: sqlite3.Connection) -> None:
        try:
            row = con.execute("SELECT value FROM dfdx_store WHERE key = 'format'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            row = None
        if row is None or row[0] != FORMAT:
            raise StoreError(self._foreign())

    def _foreign(self) -> str:
        return (
            f"dfdx store {self.path}: it is not a dfdx store (format {FORMAT}) but another SQLite "
            "database. Give store= a new file name."
        )

    def failure(self, exc: sqlite3.Error, action: str) -> StoreError:
        """A clear :class:`StoreError` naming the file, for an error of SQLite."""
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            why = (
                f"it stayed locked by another process for more than {self.timeout:g} s "
                "(raise Store(..., timeout=) or stop the other writer)"
            )
        elif "readonly" in text or "read-only" in text or "unable to open" in text:
            why = "it cannot be written: a read-only file or folder, or a folder that does not exist"
        elif "not a database" in text or "malformed" in text or "corrupt" in text:
            why = "it is corrupt or not a SQLite file: move it aside and start a new store"
        else:
            why = f"SQLite failed: {exc}"
        return StoreError(f"dfdx store {self.path}: could not {action}: {why}. (SQLite: {exc})")

    def entries(self, *, name: str | None = None, version: str | None = None) -> list[Entry]:
        """Every recorded evaluation (of f `name`, `version` if given), oldest first."""
        sql = (
            "SELECT name, version, point, point_dtype, point_shape, value, value_dtype, value_shape, "
            "finished, seconds FROM evaluations"
        )
        if not self.path.exists():
            return []
        where = [(c, v) for c, v in (("name", name), ("version", version)) if v is not None]
        if where:
            sql += " WHERE " + " AND ".join(f"{c} = ?" for c, _ in where)
        with _closing(self.connect(write=False)) as con:
            rows = self._query(con, sql + " ORDER BY finished", [v for _, v in where])
        return [
            Entry(n, ver, decode(p, pd, ps), decode(v, vd, vs), datetime.fromtimestamp(t, timezone.utc), s)
            for n, ver, p, pd, ps, v, vd, vs, t, s in rows
        ]

    def __len__(self) -> int:
        if not self.path.exists():
            return 0
        with _closing(self.connect(write=False)) as con:
            return int(self._query(con, "SELECT count(*) FROM evaluations", [])[0][0])

    def _query(self, con: sqlite3.Connection, sql: str, params: list[Any]) -> list[Any]:
        try:
            return con.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self.failure(exc, "read") from exc


class _closing:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def __enter__(self) -> sqlite3.Connection:
        return self.con

    def __exit__(self, *exc: Any) -> None:
        self.con.close()


def as_store(store: Any) -> Store | None:
    """Validate ``store=``: None, a path, or a :class:`Store`."""
    if store is None or isinstance(store, Store):
        return store
    if isinstance(store, (str, os.PathLike)):
        return Store(store)
    raise TypeError(
        f"`store` must be a file path or a dfdx.Store, got {type(store).__name__}; "
        "e.g. store='gradient-run.db' or store=dfdx.Store('run.db', name='model', version='1')."
    )


def decode(blob: bytes, dtype: str, shape: str) -> NDArray[Any]:
    """An array back from its bytes, dtype and shape as recorded."""
    dims = tuple(int(d) for d in shape.split(",") if d)
    out: NDArray[Any] = np.frombuffer(blob, dtype=np.dtype(dtype)).reshape(dims).copy()
    return out


def shape_text(a: NDArray[Any]) -> str:
    """A shape as recorded: ``"3,4"``, ``""`` for a scalar."""
    return ",".join(str(d) for d in a.shape)
