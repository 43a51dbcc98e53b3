"""store=: a persistent record of evaluations, read back bit for bit, safe to kill, never mixed up."""

from __future__ import annotations

import concurrent.futures as cf
import io
import multiprocessing
import os
import pickle
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import dfdx
from dfdx.evaluation.progress import Progress

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
X = np.linspace(0.1, 1.6, 6)
CALLS: list[int] = []


def trig(x, scale=1.0):
    return float(scale * np.sum(np.sin(x) * np.arange(1, x.size + 1)) + x[0] * np.exp(x[-1]))


def analytic(x):
    return np.sum(np.sin(x) * np.arange(1, x.size + 1)) + x[0] * np.exp(x[-1])


def counted(x):
    CALLS.append(1)
    return trig(x)


def vector(x):
    return np.stack([x[0] * x[1] - x[2] ** 2, np.cos(x[3]) * x[4], np.sum(x**2, axis=0)])


def same_bits(a, b):
    np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(a.error, b.error)
    np.testing.assert_array_equal(a.step, b.step)
    assert a.status is b.status


def test_a_second_call_reads_every_point_bit_for_bit(tmp_path):
    path = tmp_path / "run.db"
    plain = dfdx.gradient(trig, X)
    first = dfdx.gradient(trig, X, store=path)
    again = dfdx.gradient(trig, X, store=str(path))
    same_bits(first, plain)
    same_bits(again, plain)
    assert (first.nfev, again.nfev) == (plain.nfev, 0)
    assert len(first.provenance.new) == plain.nfev and len(first.provenance.reused) == 0
    assert len(again.provenance.reused) == plain.nfev and len(again.provenance.new) == 0
    assert first.provenance.name == "test_store.trig" or first.provenance.name.endswith(".trig")
    assert "reused=0 points" in repr(first.provenance)
    assert plain.provenance is None
    assert len(dfdx.Store(path)) == plain.nfev


@pytest.mark.parametrize("kind", ["vectorized", "threads", "processes", "map"])
def test_every_way_of_running_f_records_and_reads_the_same_bits(tmp_path, kind):
    path = tmp_path / "run.db"
    f = vector if kind == "vectorized" else trig
    front = dfdx.jacobian if kind == "vectorized" else dfdx.gradient
    x = np.linspace(0.1, 1.6, 5) if kind == "vectorized" else X
    plain = front(f, x)
    spawn = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    pools = {"threads": cf.ThreadPoolExecutor(3), "processes": cf.ProcessPoolExecutor(2, mp_context=spawn)}
    try:
        kw = {"vectorized": True} if kind == "vectorized" else {"workers": pools.get(kind, map)}
        first = front(f, x, store=path, **kw)
        again = front(f, x, store=path)  # serial, from the store alone
    finally:
        for pool in pools.values():
            pool.shutdown()
    same_bits(first, plain)
    same_bits(again, plain)
    assert again.nfev == 0
    entries = dfdx.Store(path).entries()
    assert len(entries) == plain.nfev
    assert all(e.seconds is not None and e.seconds >= 0 for e in entries)


def test_adaptive_and_complex_points_are_recorded_too(tmp_path):
    path = tmp_path / "run.db"
    for kw in ({"adaptive": True}, {"method": "complex"}):
        plain = dfdx.gradient(analytic, X, **kw)
        first = dfdx.gradient(analytic, X, store=path, **kw)
        again = dfdx.gradient(analytic, X, store=path, **kw)
        same_bits(first, plain)
        same_bits(again, plain)
        assert again.nfev == 0


def test_a_later_call_at_the_same_x_reuses_the_points_it_shares(tmp_path):
    path = tmp_path / "run.db"
    step = 2.0**-10
    grad = dfdx.gradient(trig, X, store=path, step=step)
    hess_alone = dfdx.hessian(trig, X, step=step)
    hess = dfdx.hessian(trig, X, store=path, step=step)
    same_bits(hess, hess_alone)
    shared = len(hess.provenance.reused)
    # f(x) and the four axis points of each coordinate are the gradient's own (where the
    # gradient's check kept its first step).
    assert 1 + 3 * X.size <= shared <= 1 + 4 * X.size
    assert hess.nfev == hess_alone.nfev - shared <= hess_alone.nfev - grad.nfev + shared
    # An adaptive run after the fixed-step one reads f(x) at least.
    adaptive = dfdx.gradient(trig, X, store=path, adaptive=True)
    assert len(adaptive.provenance.reused) >= 1


def test_the_store_is_keyed_by_name_version_and_args(tmp_path):
    path = tmp_path / "run.db"
    one = dfdx.gradient(trig, X, store=dfdx.Store(path, name="model", version="1"))
    two = dfdx.gradient(trig, X, store=dfdx.Store(path, name="model", version="2"))
    other = dfdx.gradient(trig, X, store=dfdx.Store(path, name="other", version="1"))
    scaled = dfdx.gradient(trig, X, store=dfdx.Store(path, name="model", version="1"), args=(2.0,))
    assert one.nfev == two.nfev == other.nfev == scaled.nfev == 6 * X.size + 1  # stencils and checks
    np.testing.assert_array_equal(scaled.value, dfdx.gradient(trig, X, args=(2.0,)).value)
    store = dfdx.Store(path)
    assert len(store) == 4 * one.nfev
    assert len(store.entries(name="model", version="2")) == one.nfev
    assert {e.version for e in store.entries(name="model")} == {"1", "2"}


def test_another_function_under_the_same_name_is_refused(tmp_path):
    path = tmp_path / "run.db"
    x = X[:5]
    dfdx.gradient(trig, x, store=dfdx.Store(path, name="model"))
    # The store trusts a name and version to mean one f; values of another shape give it away.
    with pytest.raises(
        dfdx.StoreError, match=r"run\.db: f 'model' version '' was recorded returning shape \(\).*new version"
    ):
        dfdx.jacobian(vector, x, f0=vector(x), store=dfdx.Store(path, name="model"))


def test_listing_says_what_when_and_how_long(tmp_path):
    path = tmp_path / "run.db"

    def slow(x):
        time.sleep(0.01)
        return trig(x)

    before = time.time()
    res = dfdx.gradient(slow, X[:2], store=dfdx.Store(path, name="slow"))
    entries = dfdx.Store(path).entries()
    assert len(entries) == res.nfev == 13
    assert all(e.seconds >= 0.009 for e in entries)
    stamps = [e.finished.timestamp() for e in entries]
    assert stamps == sorted(stamps) and before - 1 <= stamps[0] <= time.time() + 1
    np.testing.assert_array_equal(entries[0].point, X[:2])  # f(x) first
    assert entries[0].value == slow(X[:2])


def test_the_progress_bar_counts_stored_points_as_done(tmp_path):
    path = tmp_path / "run.db"
    x = X[:3]
    dfdx.gradient(trig, x, store=path)
    out = io.StringIO()
    bar = Progress(file=out)
    from dfdx.evaluation.evaluator import Evaluator

    ev = Evaluator(trig, x, store=path, progress=bar)
    assert (bar.done, bar.total) == (1, 1) and ev.nfev == 0
    res = dfdx.gradient(trig, np.append(x, 0.5), store=path)  # another x: new points
    assert res.nfev == 25
    ev.close()
    assert re.findall(r"(\d+)/(\d+) \[", out.getvalue())[-1] == ("1", "1")


def test_a_rerun_after_sigkill_evaluates_exactly_the_missing_points(tmp_path):
    """Killed at random moments (one of them inside a write): the rerun fills the gaps, same bits."""
    rng = np.random.default_rng(7)
    plain = dfdx.gradient(_sleepy, np.linspace(0.1, 2.4, 24))
    for trial, during_write in enumerate([True, False, False]):
        path = tmp_path / f"run{trial}.db"
        recorded = _run_and_kill(path, float(rng.uniform(0.05, 0.3)), during_write)
        assert 0 < recorded < plain.nfev
        store = dfdx.Store(path, name="sleepy")
        rerun = dfdx.gradient(_sleepy, np.linspace(0.1, 2.4, 24), store=store)
        assert rerun.nfev == plain.nfev - recorded
        assert len(rerun.provenance.reused) == recorded
        same_bits(rerun, plain)
        assert len(dfdx.Store(path)) == plain.nfev


#: Seconds each evaluation of _sleepy takes (set in the killed process only: not an argument
#: of f, which the store's key would include).
SLEEP = [0.0]


def _sleepy(x):
    time.sleep(SLEEP[0])
    return float(np.sum(np.cos(x) * np.arange(1, x.size + 1)))


KILLED = """
import sys, time, sqlite3, concurrent.futures as cf
import numpy as np
import dfdx
from dfdx.evaluation.recorder import Recorder
from dfdx.evaluation.store import INSERT
import test_store
from test_store import _sleepy

test_store.SLEEP[0] = 0.02
path, during_write = sys.argv[1], sys.argv[2] == "1"
write = Recorder.write
count = [0]

def slow_write(self, keys, points, values, seconds):
    count[0] += 1
    if during_write and count[0] == 6:  # hold the sixth write open, mid-transaction
        self.con.execute("BEGIN IMMEDIATE")  # the rows written, never committed
        self.con.executemany(INSERT, self.rows(keys, points, values, seconds))
        print("IN-WRITE", flush=True)
        time.sleep(60)
    write(self, keys, points, values, seconds)
    print("WROTE", flush=True)

Recorder.write = slow_write
with cf.ThreadPoolExecutor(4) as pool:
    store = dfdx.Store(path, name="sleepy")
    dfdx.gradient(_sleepy, np.linspace(0.1, 2.4, 24), workers=pool, store=store)
print("DONE", flush=True)
"""


def _run_and_kill(path: Path, after: float, during_write: bool) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
    with subprocess.Popen(
        [sys.executable, "-c", KILLED, str(path), "1" if during_write else "0"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        awaited = "IN-WRITE" if during_write else "WROTE"
        line = None
        while line != awaited:
            line = proc.stdout.readline().strip()
            assert line or proc.poll() is None, "the process ended before it was killed"
        if not during_write:
            time.sleep(after)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    con = sqlite3.connect(path)  # readable, and consistent
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
    return len(dfdx.Store(path))


def test_two_processes_writing_one_store_at_once(tmp_path):
    path = tmp_path / "shared.db"
    script = textwrap.dedent(
        """
        import sys, numpy as np, dfdx, test_store
        from test_store import _sleepy
        x = np.linspace(0.1, 2.4, 12) + float(sys.argv[2])
        ref = dfdx.gradient(_sleepy, x)
        test_store.SLEEP[0] = 0.001
        res = dfdx.gradient(_sleepy, x, store=sys.argv[1])
        print(res.nfev, bool((res.value == ref.value).all()))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), shift], stdout=subprocess.PIPE, env=env, text=True
        )
        for shift in ("0", "0.5", "0")
    ]
    outs = [p.communicate(timeout=90)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert all(o[1] == "True" for o in outs)
    # Two of them computed the same points: the store holds each point once.
    assert len(dfdx.Store(path)) == 2 * 73


def test_threads_in_one_process_share_a_store(tmp_path):
    path = tmp_path / "run.db"
    results = []

    def one(shift):
        results.append(dfdx.gradient(trig, X + shift, store=path))

    threads = [threading.Thread(target=one, args=(s,)) for s in (0.0, 0.25, 0.5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and len(dfdx.Store(path)) == 3 * 37


# -- bad input ---------------------------------------------------------------------------
def test_a_corrupt_file_is_named_and_nothing_is_evaluated(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database" * 100)
    CALLS.clear()
    with pytest.raises(dfdx.StoreError, match=r"broken\.db: could not open: it is corrupt or not a SQLite"):
        dfdx.gradient(counted, X, store=dfdx.Store(path, name="c"))
    assert CALLS == []


def test_another_sqlite_database_is_not_taken_for_a_store(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(dfdx.StoreError, match=r"other\.db.* not a dfdx store.*new file name"):
        dfdx.gradient(trig, X, store=path)


def test_a_store_locked_too_long_is_a_clear_error(tmp_path):
    path = tmp_path / "locked.db"
    dfdx.gradient(trig, X, store=path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    CALLS.clear()
    try:
        with pytest.raises(
            dfdx.StoreError, match=r"locked\.db: could not .*locked by another process .* 0\.2 s"
        ):
            dfdx.gradient(counted, X + 1, store=dfdx.Store(path, name="c", timeout=0.2))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert CALLS == []


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root writes anywhere")
def test_a_read_only_store_is_a_clear_error(tmp_path):
    path = tmp_path / "ro.db"
    dfdx.gradient(trig, X, store=path)
    path.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(dfdx.StoreError, match=r"ro\.db: could not open: it cannot be written"):
            dfdx.gradient(trig, X, store=path)
    finally:
        tmp_path.chmod(0o755)
        path.chmod(0o644)


def test_a_read_only_store_is_a_clear_error_for_root_too(tmp_path, monkeypatch):
    # Root ignores file modes: SQLite's own read-only mode stands in for the file system's.
    path = tmp_path / "ro.db"
    dfdx.gradient(trig, X, store=path)
    connect = sqlite3.connect

    def read_only(database, *args, **kwargs):
        kwargs["uri"] = True
        return connect(f"file:{database}?mode=ro", *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    CALLS.clear()
    with pytest.raises(dfdx.StoreError, match=r"ro\.db: could not open: it cannot be written"):
        dfdx.gradient(counted, X, store=dfdx.Store(path, name="c"))
    assert CALLS == []


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(dfdx.StoreError, match=r"nowhere.*could not open: it cannot be written"):
        dfdx.gradient(trig, X, store=tmp_path / "nowhere" / "run.db")


def test_functions_without_a_stable_name_need_one(tmp_path):
    with pytest.raises(ValueError, match=r"store= needs a name for f = .*lambda.*Store\(path, name="):
        dfdx.gradient(lambda x: float(x @ x), X, store=tmp_path / "a.db")

    def local(x):
        return float(x @ x)

    with pytest.raises(ValueError, match="store= needs a name"):
        dfdx.gradient(local, X, store=tmp_path / "a.db")
    res = dfdx.gradient(local, X, store=dfdx.Store(tmp_path / "a.db", name="local"))
    assert res.provenance.name == "local"


def test_unpicklable_args_are_refused(tmp_path):
    with pytest.raises(
        TypeError, match=r"store= keys evaluations by f's `args` and `kwargs`, which could not be pickled"
    ):
        dfdx.gradient(
            lambda x, lock: float(x @ x),
            X,
            args=(threading.Lock(),),
            store=dfdx.Store(tmp_path / "a", name="q"),
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"path": 3}, TypeError, "path must be a str or os.PathLike, got int"),
        ({"path": "a.db", "name": ""}, TypeError, "`name` must be a non-empty str"),
        ({"path": "a.db", "version": 2}, TypeError, r"`version` must be a str \(e\.g\. '2'\), got int"),
        ({"path": "a.db", "timeout": -1}, ValueError, "`timeout` must be a number of seconds >= 0"),
    ],
)
def test_store_arguments_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        dfdx.Store(**kwargs)


def test_store_must_be_a_path_or_a_store():
    with pytest.raises(TypeError, match=r"`store` must be a file path or a dfdx\.Store, got dict"):
        dfdx.gradient(trig, X, store={})


def test_an_empty_store_lists_nothing(tmp_path):
    store = dfdx.Store(tmp_path / "none.db")
    assert len(store) == 0 and store.entries() == [] and repr(store).startswith("Store(")
    assert not store.path.exists()  # listing creates nothing
    assert pickle.loads(pickle.dumps(store)).path == store.path


# -- Dask ----------------------------------------------------------------------------------
def _dies_mid_gradient(x, folder, parent):
    """trig, slow, but the worker process dies (once) at the 12th point evaluated on the workers."""
    time.sleep(0.06)  # slower than a Dask task's overhead: one point per task
    if os.getpid() != parent:
        fd = os.open(os.path.join(folder, "count"), os.O_CREAT | os.O_APPEND | os.O_WRONLY)
        os.write(fd, b".")
        os.close(fd)
        if os.path.getsize(os.path.join(folder, "count")) >= 12:
            try:
                os.close(os.open(os.path.join(folder, "killed"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                pass
            else:
                os._exit(1)
    return trig(x)


def test_a_dask_worker_killed_mid_gradient_loses_no_completed_evaluation(tmp_path):
    distributed = pytest.importorskip("distributed")
    dask = pytest.importorskip("dask")
    import functools

    f = functools.partial(_dies_mid_gradient, folder=str(tmp_path), parent=os.getpid())
    store = dfdx.Store(tmp_path / "run.db", name="trig")
    x = np.linspace(0.1, 1.6, 8)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        )
    try:
        with distributed.Client(cluster, timeout="30s") as client:
            with pytest.raises(dfdx.WorkerError, match="KilledWorker"):
                dfdx.gradient(f, x, workers=client, store=store)
            recorded = {e.point.tobytes() for e in store.entries()}
            assert os.path.exists(tmp_path / "killed") and len(recorded) >= 2
            client.wait_for_workers(2, timeout=30)
            rerun = dfdx.gradient(f, x, workers=client, store=store)
    finally:
        cluster.close()
    plain = dfdx.gradient(trig, x)
    same_bits(rerun, plain)
    assert rerun.nfev == plain.nfev - len(recorded)
    assert not recorded & {p.tobytes() for p in rerun.provenance.new}  # nothing done twice


def test_stored_points_do_not_speed_up_the_eta():
    # 90 points read from a store, then 5 evaluated at 20 ms each: the rate is that of the
    # evaluations measured, not 95 points over 0.1 s.
    bar = Progress(file=io.StringIO())
    bar._options["mininterval"] = 0
    bar.grow(100)
    bar.skip(90)
    for _ in range(5):
        time.sleep(0.02)
        bar.update(1)
    rate = bar._bar.format_dict["rate"] or (bar.done - bar._bar.initial) / bar._bar.format_dict["elapsed"]
    assert (bar.done, bar.total, bar.stored) == (95, 100, 90)
    assert 10 < rate < 60  # evaluations per second: about 1 / 20 ms
    bar.close()
    assert "90 from the store" in bar._options["file"].getvalue()


def test_a_lock_taken_mid_run_delays_the_record_and_loses_nothing(tmp_path):
    path = tmp_path / "run.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    calls = [0]

    def f(x):
        calls[0] += 1
        if calls[0] == 4:  # another process takes the lock for a while
            holder.execute("BEGIN IMMEDIATE")
        if calls[0] == 15:
            holder.execute("ROLLBACK")
        return trig(x)

    res = dfdx.gradient(f, X, store=dfdx.Store(path, name="f", timeout=0.05))
    holder.close()
    assert res.nfev == calls[0] == 37
    assert len(dfdx.Store(path)) == 37  # every evaluation recorded, late ones included
    same_bits(res, dfdx.gradient(trig, X))


def test_a_lock_held_to_the_end_is_a_clear_error_counting_what_was_not_recorded(tmp_path):
    path = tmp_path / "run.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    calls = [0]

    def f(x):
        calls[0] += 1
        if calls[0] == 20:
            holder.execute("BEGIN IMMEDIATE")
        return trig(x)

    try:
        with pytest.raises(
            dfdx.StoreError, match=r"run\.db: could not record 18 new evaluation\(s\): .*locked"
        ) as info:
            dfdx.gradient(f, X, store=dfdx.Store(path, name="f", timeout=0.05))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(dfdx.Store(path)) == 19  # those recorded before the lock
    same_bits(info.value.result, dfdx.gradient(trig, X))  # the derivative itself is complete


def test_kwargs_are_part_of_the_key(tmp_path):
    path = tmp_path / "run.db"
    one = dfdx.gradient(trig, X, kwargs={"scale": 2.0}, store=path)
    again = dfdx.gradient(trig, X, kwargs={"scale": 2.0}, store=path)
    other = dfdx.gradient(trig, X, kwargs={"scale": 3.0}, store=path)
    assert (one.nfev, again.nfev, other.nfev) == (37, 0, 37)
    assert one.provenance.name.endswith(".trig")  # the function, not the partial binding kwargs
    np.testing.assert_array_equal(other.value, dfdx.gradient(trig, X, args=(3.0,)).value)
    with pytest.raises(TypeError, match=r"`args` and `kwargs`, which could not be pickled"):
        dfdx.gradient(trig, X, kwargs={"scale": threading.Lock()}, store=path)


def test_a_rerun_shows_its_stored_points_in_the_progress_bar(tmp_path, capsys):
    path = tmp_path / "run.db"
    dfdx.gradient(trig, X[:3], store=path)
    res = dfdx.gradient(trig, X[:4], store=path, progress=True)  # f(x) and the rest new
    again = dfdx.gradient(trig, X[:4], store=path, progress=True)
    err = capsys.readouterr().err
    assert (res.nfev, again.nfev) == (25, 0)
    assert re.findall(r"(\d+)/(\d+) \[", err)[-1] == ("25", "25")  # the stencils and checks
    assert "25 from the store" in err
