"""Workers: map-like callables, thread and process pools give the serial numbers bit for
bit; batches keep workers busy without flooding the pool; failures are named."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import multiprocessing
import os
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dfdx
from dfdx.engine.layouts import AxisPoints
from dfdx.evaluation.evaluator import Evaluator
from dfdx.evaluation.pools import WorkerError

pytestmark = pytest.mark.timeout(120)

X = np.array([0.3, -1.2, 0.8, 2.0, -0.5])


# Module-level functions: process pools pickle them by reference.
def trig(x):
    return np.sum(np.sin(x) * np.arange(1, x.size + 1)) + x[0] * np.exp(x[-1])


def vector_valued(x):
    return np.stack([x[0] * x[1] - x[2] ** 2, np.cos(x[3]) * x[4], np.sum(x**2, axis=0)])


def polynomial(x):
    """Products and sums only: a batch gives the same bits as single points."""
    return x[0] * x[1] * x[1] + x[2] * x[3] - x[4] * x[4] * x[0]


def fails_far_out(x):
    if x[3] > 2.0:
        raise ArithmeticError("out of range")
    return float(np.sum(x**2))


def dies_in_a_worker(x, parent):
    if os.getpid() != parent:
        os._exit(3)
    return float(np.sum(x))


def pid_of_caller(x):
    return float(os.getpid())


@pytest.fixture(scope="module")
def processes():
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.fixture(scope="module")
def mp_pool():
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def threads():
    with cf.ThreadPoolExecutor(4) as pool:
        yield pool


FRONT_ENDS = {
    "gradient": lambda w, **kw: dfdx.gradient(trig, X, workers=w, **kw),
    "gradient-complex": lambda w, **kw: dfdx.gradient(trig, X, method="complex", workers=w, **kw),
    "gradient-forward": lambda w, **kw: dfdx.gradient(trig, X, method="forward", workers=w, **kw),
    "jacobian": lambda w, **kw: dfdx.jacobian(vector_valued, X, workers=w, **kw),
    "derivative": lambda w, **kw: dfdx.derivative(np.sin, X, n=2, workers=w, **kw),
    "directional": lambda w, **kw: dfdx.directional(trig, X, X[::-1], workers=w, **kw),
}


def _same(a, b):
    np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(a.error, b.error)
    assert a.nfev == b.nfev and a.status == b.status


@pytest.mark.parametrize("front", FRONT_ENDS)
def test_every_kind_of_worker_gives_the_serial_numbers(front, threads, processes, mp_pool):
    run = FRONT_ENDS[front]
    serial = run(None)
    for workers in (threads, processes, map, mp_pool, mp_pool.map):
        _same(run(workers), serial)


@pytest.mark.parametrize("accuracy", [2, 6])
def test_vectorized_f_on_workers(accuracy, threads, processes, mp_pool):
    serial = dfdx.gradient(polynomial, X, vectorized=True, accuracy=accuracy)
    one_by_one = dfdx.gradient(polynomial, X, accuracy=accuracy)
    _same(serial, one_by_one)
    for workers in (threads, processes, map, mp_pool.map):
        _same(dfdx.gradient(polynomial, X, vectorized=True, accuracy=accuracy, workers=workers), serial)


def matrix_valued(x):
    """Products and sums only, shape (2, 2) (+ the batch axis): bitwise the same batched."""
    return np.stack([np.stack([x[0] * x[1], x[2] - x[3] * x[3]]), np.stack([x[4] * x[0], x[1] + x[2]])])


def test_vectorized_matrix_valued_f_on_workers(threads, processes):
    """Batches come back batch axis first whether computed here or on workers."""
    one_by_one = dfdx.jacobian(matrix_valued, X)
    assert one_by_one.value.shape == (2, 2, X.size)
    for workers in (None, threads, processes, map):
        _same(dfdx.jacobian(matrix_valued, X, vectorized=True, workers=workers), one_by_one)


def test_f_of_x_is_computed_in_the_calling_process(processes):
    res = dfdx.jacobian(pid_of_caller, X, workers=processes, method="forward", throw=False)
    # f(x) here, the rest on the pool (the check's points, and shorter steps: the pids differ)
    assert res.nfev >= 2 * X.size + 1
    assert np.all(res.value != 0)


@pytest.mark.parametrize("kind", ["threads", "processes", "map"])
def test_exception_in_a_worker_reaches_the_user_with_the_point(kind, threads, processes):
    workers = {"threads": threads, "processes": processes, "map": map}[kind]
    with pytest.raises(ArithmeticError, match=r"out of range \(dfdx: raised by f at x = \[.*2\.00"):
        dfdx.gradient(fails_far_out, X, workers=workers)


def test_a_dead_process_is_named_not_hidden():
    die = functools.partial(dies_in_a_worker, parent=os.getpid())
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        with pytest.raises(
            WorkerError,
            match=r"point\(s\) \(points \d+ to \d+ of the 20 .*were lost: "
            r"BrokenProcessPool.*no derivative was computed",
        ):
            dfdx.gradient(die, X, workers=pool)


def test_a_shut_down_executor_is_a_clear_error():
    pool = cf.ThreadPoolExecutor(2)
    pool.shutdown()
    with pytest.raises(WorkerError, match=r"could not be submitted: RuntimeError: cannot schedule"):
        dfdx.gradient(trig, X, workers=pool)


class Recording(cf.ThreadPoolExecutor):
    """A thread pool that records the size of every task and the most tasks in flight."""

    def __init__(self, workers):
        super().__init__(workers)
        self.sizes, self.in_flight, self.most = [], 0, 0
        self.lock = threading.Lock()

    def submit(self, fn, block, **kwargs):
        with self.lock:
            self.sizes.append(len(block) if not getattr(fn, "vectorized", False) else block.shape[-1])
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        future = super().submit(fn, block, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _):
        with self.lock:
            self.in_flight -= 1


@pytest.mark.parametrize("vectorized", [False, True])
def test_batches_keep_workers_busy_without_flooding(vectorized):
    active, most = [0], [0]
    lock = threading.Lock()

    def slow(x):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.002)
        with lock:
            active[0] -= 1
        return np.sum(x**2, axis=0)

    x = np.linspace(-1, 1, 40)
    with Recording(4) as pool:
        res = dfdx.gradient(slow, x, workers=pool, vectorized=vectorized)
    points = 6 * x.size  # four points and the check's two per coordinate
    assert sum(pool.sizes) == points == res.nfev - 1
    assert len(pool.sizes) >= 4 * 4  # a few tasks per worker: no idle worker at the end
    assert pool.most <= 2 * 4  # never more than two tasks per worker in flight
    assert most[0] == 4  # and all four workers did run at once
    np.testing.assert_allclose(res.value, 2 * x, atol=1e-9)


def test_cheap_f_gets_few_large_tasks():
    x = np.linspace(-1, 1, 10)
    with Recording(2) as pool:
        dfdx.gradient(lambda x: float(x @ x), x, workers=pool)
    # 40 points of a function that takes microseconds: a task per worker is plenty,
    # where four per worker would be handed out if f took long.
    assert pool.sizes == [20, 20, 10, 10]  # and the check's 20 points, again one task per worker


@pytest.mark.parametrize(
    "workers, message",
    [
        (
            2.0,
            r"`workers` must be a map-like callable .* got float 2\.0\. Pass a pool",
        ),
        ("threads", r"got str 'threads'\. Pass a pool: concurrent\.futures\.ThreadPoolExecutor"),
        ("processes", r"got str 'processes'\. Pass a pool: concurrent\.futures\.ProcessPoolExecutor"),
        ("dask", r"got str 'dask'\. Pass a dask\.distributed\.Client\(\.\.\.\)"),
        (cf.ThreadPoolExecutor, r"got the class ThreadPoolExecutor; create one first"),
        (
            object(),
            r"`workers` must be a map-like callable \(map, pool\.map\), a concurrent\.futures"
            r"\.Executor or a dask\.distributed Client, got object",
        ),
    ],
)
def test_workers_that_are_not_pools(workers, message):
    calls = []
    with pytest.raises(TypeError, match=message):
        dfdx.gradient(lambda x: calls.append(x) or 1.0, X, workers=workers)
    assert not calls  # validated before f is called


def test_a_map_that_loses_or_invents_results():
    short = lambda f, xs: [f(x) for x in list(xs)[:-1]]  # noqa: E731
    with pytest.raises(ValueError, match=r"`workers` returned 19 results for 20 points"):
        dfdx.gradient(trig, X, workers=short)
    long = lambda f, xs: [f(x) for x in list(xs) + list(xs)]  # noqa: E731
    with pytest.raises(ValueError, match=r"`workers` returned more results for 20 points"):
        dfdx.gradient(trig, X, workers=long)


class Inline(cf.Executor):
    """An executor of another kind: runs each task at once, in the calling thread."""

    def __init__(self, mangle=None):
        self.mangle = mangle

    def submit(self, fn, *args, **kwargs):
        future = cf.Future()
        try:
            result = fn(*args, **kwargs)
            future.set_result(self.mangle(result) if self.mangle else result)
        except Exception as exc:
            future.set_exception(exc)
        return future


def test_any_executor_is_accepted_and_callbacks_follow():
    serial = dfdx.gradient(trig, X)
    _same(dfdx.gradient(trig, X, workers=Inline()), serial)
    _same(dfdx.gradient(polynomial, X, workers=Inline(), vectorized=True), dfdx.gradient(polynomial, X))
    seen = []
    ev = Evaluator(trig, X, workers=Inline())
    ev.callbacks.append(seen.append)
    ev(AxisPoints(X, np.arange(X.size), np.full(X.size, 0.5), np.array([-1.0, 1.0])))
    assert sum(seen) == 2 * X.size == ev.nfev - 1 and len(seen) > 1


def test_an_executor_that_loses_values_is_named():
    with pytest.raises(WorkerError, match=r"came back incomplete: ValueError: \d+ values"):
        dfdx.gradient(trig, X, workers=Inline(mangle=lambda values: values[:-1]))


def test_values_of_the_wrong_shape_from_a_worker_name_the_point(threads):
    def f(x):
        return np.array([1.0, 2.0]) if x[4] < -0.5 else 1.0

    with pytest.raises(ValueError, match=r"f returned shape \(2,\) at x = \[0\.3"):
        dfdx.gradient(f, X, workers=threads)


def test_exception_in_a_vectorized_f_on_a_worker(threads):
    def f(x):
        if x.shape[-1] > 1:
            raise FloatingPointError("overflow")
        return np.sum(x, axis=0)

    with pytest.raises(FloatingPointError, match=r"overflow \(dfdx: raised by vectorized f on a batch"):
        dfdx.gradient(f, X, workers=threads, vectorized=True)


def test_points_of_any_shape_travel_to_processes(processes):
    x = np.array([[0.5, 1.0, -0.3], [2.0, 0.1, 0.7]])
    serial = dfdx.jacobian(vector_valued_matrix, x)
    _same(dfdx.jacobian(vector_valued_matrix, x, workers=processes), serial)
    assert serial.value.shape == (3, 2, 3)


def vector_valued_matrix(x):
    return np.array([x[0, 0] * x[1, 2], np.sin(x[1, 1]) + x[0, 1] ** 2, np.sum(x)])


@settings(max_examples=25, deadline=None)
@given(
    shape=st.sampled_from([(1,), (3,), (7,), (2, 2)]),
    method=st.sampled_from(["central", "forward", "backward", "complex"]),
    seed=st.integers(0, 2**16),
    vectorized=st.booleans(),
)
def test_threads_and_maps_give_serial_bits_for_random_points(shape, method, seed, vectorized):
    x = np.random.default_rng(seed).uniform(-2, 2, shape)
    f = polynomial_any if vectorized else trig_any
    serial = dfdx.gradient(f, x, method=method, vectorized=vectorized)
    with cf.ThreadPoolExecutor(3) as pool:
        _same(dfdx.gradient(f, x, method=method, vectorized=vectorized, workers=pool), serial)
    _same(dfdx.gradient(f, x, method=method, vectorized=vectorized, workers=map), serial)


def trig_any(x):
    x = x.reshape(-1)
    return np.sum(np.sin(x) * np.arange(1, x.size + 1)) + x[0] * np.exp(x[-1])


def polynomial_any(x):
    x = x.reshape(-1, *x.shape[-1:]) if x.ndim > 2 else x
    return np.sum(x * x * (1.0 + x), axis=0) + x[0] * x[-1]


def test_a_function_processes_cannot_receive_is_named(processes):
    with pytest.raises(TypeError, match=r"could not be sent to the workers: .*define it at module level"):
        dfdx.gradient(lambda x: float(x @ x), X, workers=processes)


def blocks_kept_where_called(x, parent):
    import dfdx.evaluation.work

    if os.getpid() != parent and not dfdx.evaluation.work._BLOCKS_KEPT:
        raise RuntimeError("a vectorized batch reached f before the heap was set to keep blocks")
    return np.sum(x * x, axis=0)


def test_worker_processes_keep_block_sized_temporaries_too():
    # A fresh pool: its processes have run nothing yet, as in a user's first call.
    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        res = dfdx.gradient(blocks_kept_where_called, X, vectorized=True, workers=pool, args=(os.getpid(),))
    np.testing.assert_allclose(res.value, 2 * X, rtol=1e-9)
