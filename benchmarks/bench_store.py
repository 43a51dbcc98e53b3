"""store= and max_evals=: resuming after SIGKILL, reuse across calls, the budget, the store's overhead.

Run as ``python benchmarks/bench_store.py [resume|reuse|budget|overhead|dask ...]`` (all by default).

- resume: an f sleeping 50 ms, 24 variables, the default method, 4 thread workers, killed
  with SIGKILL at random moments (one of them inside a write); the rerun evaluates
  exactly the missing points and gives the uninterrupted run's bits.
- reuse: a Hessian after a gradient at the same x, with and without a common step.
- budget: the problem bank (Moré-Garbow-Hillstrom and others), the adaptive mode with 6
  evaluations per coordinate against the default mode: accuracy and coverage.
- overhead: milliseconds a store adds per evaluation on the local disk (serial, threads),
  and the same record written through diskcache, side by side.
- dask: a 2-process LocalCluster whose worker is killed mid-gradient.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import dfdx  # noqa: E402
from dfdx.evaluation.recorder import Recorder  # noqa: E402
from dfdx.evaluation.store import INSERT  # noqa: E402

N = 24
X = np.linspace(0.1, 2.4, N)
SLEEP = float(os.environ.get("BENCH_STORE_SLEEP", "0"))


def simulation(x):
    """A stand-in for an expensive model: BENCH_STORE_SLEEP seconds per call."""
    time.sleep(SLEEP)
    return float(np.sum(np.cos(x) * np.arange(1, x.size + 1)) + x[0] * np.exp(-x[-1]))


# -- resume ---------------------------------------------------------------------------------
def child(path: str, hold_write: int) -> None:
    """The killed run: a gradient on 4 threads; with `hold_write`, that write never commits."""
    if hold_write:
        write, count = Recorder.write, [0]

        def held(self, keys, points, values, seconds):  # type: ignore[no-untyped-def]
            count[0] += 1
            if count[0] == hold_write:
                self.con.execute("BEGIN IMMEDIATE")  # the rows written, never committed
                self.con.executemany(INSERT, self.rows(keys, points, values, seconds))
                print("IN-WRITE", flush=True)
                time.sleep(60)
            write(self, keys, points, values, seconds)

        Recorder.write = held  # type: ignore[method-assign]
    print("START", flush=True)
    with cf.ThreadPoolExecutor(4) as pool:
        dfdx.gradient(simulation, X, workers=pool, store=dfdx.Store(path, name="simulation"))
    print("DONE", flush=True)


def killed_run(path: Path, after: float, hold_write: int) -> float:
    env = {**os.environ, "BENCH_STORE_SLEEP": "0.05"}
    cmd = [sys.executable, __file__, "--child", str(path), str(hold_write)]
    start = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True) as proc:
        assert proc.stdout is not None
        awaited = "IN-WRITE" if hold_write else "START"
        while proc.stdout.readline().strip() != awaited:
            assert proc.poll() is None, "the run ended before it was killed"
        if not hold_write:
            time.sleep(after)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    return time.perf_counter() - start


def resume() -> None:
    global SLEEP
    print(f"Resume: f sleeps 50 ms, {N} variables, default method, 4 threads, killed with SIGKILL")
    plain = dfdx.gradient(simulation, X)
    with tempfile.TemporaryDirectory() as folder:
        full = Path(folder) / "full.db"
        SLEEP = 0.05
        with cf.ThreadPoolExecutor(4) as pool:
            start = time.perf_counter()
            dfdx.gradient(simulation, X, workers=pool, store=dfdx.Store(full, name="simulation"))
            whole = time.perf_counter() - start
        print(f"  uninterrupted: {plain.nfev} evaluations, {whole:.2f} s")
        print("  killed at   recorded  rerun evaluates  saving  rerun s  same bits")
        rng = np.random.default_rng(2026)
        trials = [(float(rng.uniform(0.1, 0.9) * whole), 0) for _ in range(4)] + [(0.0, 17), (0.0, 60)]
        for k, (after, hold) in enumerate(trials):
            path = Path(folder) / f"run{k}.db"
            alive = killed_run(path, after, hold)
            recorded = len(dfdx.Store(path))
            with cf.ThreadPoolExecutor(4) as pool:
                start = time.perf_counter()
                rerun = dfdx.gradient(simulation, X, workers=pool, store=dfdx.Store(path, name="simulation"))
                seconds = time.perf_counter() - start
            same = bool(np.array_equal(rerun.value, plain.value) and np.array_equal(rerun.error, plain.error))
            assert rerun.nfev == plain.nfev - recorded and same
            when = f"write #{hold}" if hold else f"{alive:.2f} s"
            print(
                f"  {when:>10}  {recorded:>8}  {rerun.nfev:>15}  {recorded / plain.nfev:>6.0%}  "
                f"{seconds:>7.2f}  {same}"
            )
        SLEEP = 0.0


# -- reuse ----------------------------------------------------------------------------------
def reuse() -> None:
    print("\nReuse: hessian after gradient at the same x (10 variables)")
    x = X[:10]
    print("  steps      gradient  hessian alone  hessian after  shared (saving)  bound (H - G)")
    for label, kw in (("default", {}), ("step=2^-10", {"step": 2.0**-10})):
        with tempfile.TemporaryDirectory() as folder:
            store = dfdx.Store(Path(folder) / "run.db", name="simulation")
            grad = dfdx.gradient(simulation, x, store=store, **kw)
            alone = dfdx.hessian(simulation, x, **kw)
            after = dfdx.hessian(simulation, x, store=store, **kw)
        assert np.array_equal(after.value, alone.value)
        shared = alone.nfev - after.nfev
        print(
            f"  {label:<10} {grad.nfev:>8}  {alone.nfev:>13}  {after.nfev:>13}  "
            f"{shared:>5} ({shared / alone.nfev:>4.0%})  {alone.nfev - grad.nfev:>13}"
            f"{'  met' if after.nfev <= alone.nfev - grad.nfev else '  not met: steps differ'}"
        )
    print(
        "  Default steps differ between first and second derivatives (eps^(1/5) vs eps^(1/6) and\n"
        "  the Hessian's scout at max(1,|x|)/2): only f(x) is shared. A common step= shares f(x)\n"
        "  and every axis point of the gradient."
    )


# -- budget ---------------------------------------------------------------------------------
def budget() -> None:
    from bank import EXTENDED

    print("\nBudget: the bank, adaptive with max_evals = 6 per coordinate vs the default mode")
    rows, spent = [], []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for p in EXTENDED:
            exact, n = p.exact_gradient, p.x.size
            default = dfdx.gradient(p.f, p.x, throw=False)
            try:
                capped = dfdx.gradient(p.f, p.x, adaptive=True, max_evals=6 * n, throw=False)
            except ValueError as exc:  # a domain hole's one-sided retries go past the budget
                assert "is spent" in str(exc)
                spent.append(p.name)
                continue
            assert capped.nfev <= 6 * n
            err_d, err_a = np.abs(default.value - exact), np.abs(capped.value - exact)
            scale = max(float(np.abs(exact).max()), 1e-300)
            row = (p.name, n, err_d, err_a, default.error, capped.error, default.nfev, capped.nfev, scale)
            rows.append(row)
    worst_d = np.array([r[2].max() for r in rows])
    worst_a = np.array([r[3].max() for r in rows])
    tiny = 1e-300
    as_good = np.mean(worst_a <= worst_d)
    ratio = np.median((worst_a + tiny) / (worst_d + tiny))
    cover_d = np.mean(np.concatenate([r[2] <= r[4] for r in rows]))
    cover_a = np.mean(np.concatenate([r[3] <= r[5] for r in rows]))
    used = sum(r[6] for r in rows), sum(r[7] for r in rows)
    print(f"  problems: {len(rows)}, evaluations: default {used[0]}, capped {used[1]}")
    print(f"  capped adaptive at least as accurate as default (worst entry): {as_good:.0%} of problems")
    print(f"  median ratio of worst errors, capped / default: {ratio:.2g}")
    print(
        f"  entries whose error estimate covers the true error: default {cover_d:.1%}, capped {cover_a:.1%}"
    )
    print(f"  refused (domain-hole retries beyond the budget): {len(spent)} ({', '.join(spent)})")
    worse = [r[0] for r, a, d in zip(rows, worst_a, worst_d) if a > 10 * d + 1e-15]
    print(f"  capped more than 10x worse than default: {len(worse)} ({', '.join(worse[:8])})")
    behind = [(a / r[8], a / d) for r, a, d in zip(rows, worst_a, worst_d) if a > d]
    if behind:
        rel = max(b[0] for b in behind)
        print(
            f"  where capped is behind ({len(behind)}): worst relative error {rel:.1e}, "
            f"median factor {np.median([b[1] for b in behind]):.2g}"
        )
    for label, k in (("default", 2), ("capped", 3)):
        over = np.concatenate([r[k + 2][r[k] > 0] / r[k][r[k] > 0] for r in rows])
        print(f"  median over-estimate (error estimate / true error), {label}: {np.median(over):.3g}x")


# -- overhead -------------------------------------------------------------------------------
def overhead(repeats: int = 5) -> None:
    print("\nOverhead of a store on the local disk (medians of", repeats, "runs)")
    x = np.linspace(0.1, 1.0, 50)
    f = simulation
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("serial", "threads"):
            plain_t, store_t, nfev = [], [], 0
            for r in range(repeats):
                with cf.ThreadPoolExecutor(4) as pool:
                    kw = {"workers": pool} if kind == "threads" else {}
                    start = time.perf_counter()
                    nfev = dfdx.gradient(f, x, **kw).nfev
                    plain_t.append(time.perf_counter() - start)
                    store = dfdx.Store(Path(folder) / f"{kind}{r}.db", name="f")
                    start = time.perf_counter()
                    dfdx.gradient(f, x, store=store, **kw)
                    store_t.append(time.perf_counter() - start)
            extra = (np.median(store_t) - np.median(plain_t)) / nfev
            print(
                f"  {kind:<8} {nfev} evaluations: store=None {np.median(plain_t) * 1e3:7.2f} ms, "
                f"with store {np.median(store_t) * 1e3:7.2f} ms: +{extra * 1e3:.3f} ms per evaluation"
            )
        _record_vs_diskcache(Path(folder), x)


def _record_vs_diskcache(folder: Path, x: np.ndarray, count: int = 300) -> None:
    """One evaluation per transaction, as the serial path records: SQLite here vs diskcache."""
    try:
        import diskcache  # type: ignore[import-untyped]
    except ImportError:
        print("  (diskcache not installed: pip install diskcache for the side-by-side)")
        return
    points = x + np.arange(count)[:, None] * 1e-3
    rec = Recorder(dfdx.Store(folder / "sqlite.db", name="f"), simulation, ())
    start = time.perf_counter()
    for p in points:
        keys, _ = rec.find(p[None])
        rec.write(keys, p[None], np.array([1.0]), 1e-3)
    ours = (time.perf_counter() - start) / count
    rec.close()
    cache = diskcache.Cache(str(folder / "diskcache"), eviction_policy="none")
    start = time.perf_counter()
    for p in points:
        key = ("f", "", p.tobytes())
        if key not in cache:
            cache.set(key, (np.float64(1.0), time.time(), 1e-3))
    theirs = (time.perf_counter() - start) / count
    cache.close()
    print(
        f"  one recorded evaluation (look-up + commit): SQLite {ours * 1e3:.3f} ms, "
        f"diskcache {theirs * 1e3:.3f} ms (ratio {ours / theirs:.2f})"
    )


# -- dask -----------------------------------------------------------------------------------
def _dies(x, folder, parent):
    time.sleep(0.06)
    if os.getpid() != parent:
        fd = os.open(os.path.join(folder, "count"), os.O_CREAT | os.O_APPEND | os.O_WRONLY)
        os.write(fd, b".")
        os.close(fd)
        if os.path.getsize(os.path.join(folder, "count")) >= 20:
            try:
                os.close(os.open(os.path.join(folder, "killed"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                pass
            else:
                os._exit(1)
    return float(np.sum(np.cos(x) * np.arange(1, x.size + 1)))


def dask() -> None:
    try:
        import dask as dask_
        import distributed
    except ImportError:
        print("\nDask: not installed")
        return
    print("\nDask: a 2-process LocalCluster, a worker killed mid-gradient (f: 60 ms)")
    x = X[:12]
    with tempfile.TemporaryDirectory() as folder:
        f = functools.partial(_dies, folder=folder, parent=os.getpid())
        store = dfdx.Store(Path(folder) / "run.db", name="dies")
        with dask_.config.set({"distributed.scheduler.allowed-failures": 0, "logging.distributed": "error"}):
            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
            )
        try:
            with distributed.Client(cluster, timeout="30s") as client:
                try:
                    dfdx.gradient(f, x, workers=client, store=store)
                except dfdx.WorkerError as exc:
                    print(f"  first run: {str(exc)[:90]}...")
                recorded = {e.point.tobytes() for e in store.entries()}
                client.wait_for_workers(2, timeout=30)
                rerun = dfdx.gradient(f, x, workers=client, store=store)
        finally:
            cluster.close()
    redone = len(recorded & {p.tobytes() for p in rerun.provenance.new})
    print(
        f"  recorded before the kill: {len(recorded)} of {rerun.nfev + len(rerun.provenance.reused)}; "
        f"rerun evaluated {rerun.nfev}; completed evaluations redone: {redone}"
    )


SECTIONS = {"resume": resume, "reuse": reuse, "budget": budget, "overhead": overhead, "dask": dask}

if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
    else:
        for name in sys.argv[1:] or list(SECTIONS):
            SECTIONS[name]()
