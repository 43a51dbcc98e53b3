"""Dask: a real LocalCluster with worker processes on loopback, a worker killed
mid-gradient, exceptions from workers, and clusters that are closed or unreachable.

Every test is bounded in time, and every cluster is closed at the end."""

from __future__ import annotations

import functools
import os
import socket
import time

import numpy as np
import pytest

import dfdx
from dfdx.evaluation.pools import WorkerError

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.timeout(120)

X = np.linspace(0.1, 1.6, 8)


# Module-level functions: the workers import them by name.
def trig(x):
    return float(np.sum(np.sin(x) * np.arange(1, x.size + 1)) + x[0] * np.exp(x[-1]))


def vector_valued(x):
    return np.stack([x[0] * x[1] - x[2] ** 2, np.cos(x[3]) * x[4], np.sum(x**2, axis=0)])


def fails_far_out(x):
    if x[-1] > 1.6:
        raise ArithmeticError("out of range")
    return float(np.sum(x**2))


def dies_once(x, marker, parent):
    """Kill the worker process at its first point (one worker, once: the marker file)."""
    if os.getpid() != parent:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os._exit(1)
        time.sleep(0.01)
    return trig(x)


def _cluster(**config):
    with dask.config.set(config):
        return distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            worker_dashboard_address=":0",
        )


@pytest.fixture(scope="module")
def client():
    cluster = _cluster()
    client = distributed.Client(cluster, timeout="30s")
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_gradient_through_a_local_cluster_is_the_serial_gradient(client):
    serial = dfdx.gradient(trig, X)
    for workers in (client, client.get_executor()):
        res = dfdx.gradient(trig, X, workers=workers)
        np.testing.assert_array_equal(res.value, serial.value)
        np.testing.assert_array_equal(res.error, serial.error)
        assert res.nfev == serial.nfev


@pytest.mark.parametrize("vectorized", [False, True])
def test_jacobian_through_a_local_cluster(client, vectorized):
    x = np.array([0.3, -1.2, 0.8, 2.0, -0.5])
    serial = dfdx.jacobian(vector_valued, x, vectorized=vectorized, method="complex")
    res = dfdx.jacobian(vector_valued, x, vectorized=vectorized, method="complex", workers=client)
    np.testing.assert_array_equal(res.value, serial.value)


def test_exception_in_a_dask_worker_reaches_the_user_with_the_point(client):
    with pytest.raises(ArithmeticError, match=r"out of range \(dfdx: raised by f at x = \[0\.1"):
        dfdx.gradient(fails_far_out, X, workers=client)


def test_a_killed_worker_is_replaced_and_the_numbers_are_the_same(client, tmp_path):
    marker = str(tmp_path / "killed")
    f = functools.partial(dies_once, marker=marker, parent=os.getpid())
    serial = dfdx.gradient(trig, X)
    res = dfdx.gradient(f, X, workers=client)
    assert os.path.exists(marker)  # a worker did die mid-gradient
    np.testing.assert_array_equal(res.value, serial.value)
    np.testing.assert_array_equal(res.error, serial.error)


def test_a_lost_evaluation_is_a_clear_error(tmp_path):
    marker = str(tmp_path / "killed")
    f = functools.partial(dies_once, marker=marker, parent=os.getpid())
    cluster = _cluster(**{"distributed.scheduler.allowed-failures": 0})
    try:
        with distributed.Client(cluster, timeout="30s") as client:
            with pytest.raises(
                WorkerError,
                match=r"evaluations of f at \d+ point\(s\) \(points \d+ to "
                r"\d+ of the 32 .*were lost: KilledWorker",
            ):
                dfdx.gradient(f, X, workers=client)
    finally:
        cluster.close()


def test_a_closed_client_or_cluster_is_a_clear_error():
    cluster = _cluster()
    client = distributed.Client(cluster, timeout="30s")
    executor = client.get_executor()
    cluster.close()
    start = time.monotonic()
    try:
        with pytest.raises(WorkerError, match=r"the Dask client of `workers` is (closing|closed)"):
            dfdx.gradient(trig, X, workers=executor)
    finally:
        client.close()
    assert time.monotonic() - start < 30
    with pytest.raises(WorkerError, match="is closed"):
        dfdx.gradient(trig, X, workers=client)


def test_an_unreachable_scheduler_fails_fast():
    # The recipe in docs/scaling.md: connect with a timeout; nothing waits forever.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # a port nobody listens on once the socket is closed
    start = time.monotonic()
    with pytest.raises(OSError, match="Timed out trying to connect"):
        distributed.Client(f"tcp://127.0.0.1:{port}", timeout="1s")
    assert time.monotonic() - start < 20
