"""The checker with store=: a check after a gradient (or a rerun of a check) evaluates no point twice."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dfdx

X = np.linspace(0.1, 1.6, 6)
POINTS: list[bytes] = []


def loss(x, scale=1.0, shift=0.0):
    POINTS.append(np.asarray(x).tobytes())
    return float(scale * np.sum(np.sin(x + shift) * np.arange(1, x.size + 1)))


def loss_grad(x, scale=1.0, shift=0.0):
    return scale * np.cos(x + shift) * np.arange(1, x.size + 1)


def resid(x):
    POINTS.append(np.asarray(x).tobytes())
    return np.array([x[0] * x[1], np.sin(x[2]), x[3] ** 2 + x[4] * x[5]])


def resid_jac(x):
    j = np.zeros((3, 6))
    j[0, :2] = x[1], x[0]
    j[1, 2] = np.cos(x[2])
    j[2, 3:] = 2 * x[3], x[5], x[4]
    return j


def _new_points(call):
    POINTS.clear()
    out = call()
    return out, list(POINTS)


def test_a_check_after_a_gradient_evaluates_no_point_again(tmp_path):
    store = dfdx.Store(tmp_path / "run.db")
    opts = dict(args=(2.0,), kwargs={"shift": 0.5})
    res, first = _new_points(lambda: dfdx.gradient(loss, X, store=store, **opts))
    assert len(first) == res.nfev == 1 + 6 * X.size
    report, again = _new_points(lambda: dfdx.check_gradient(loss, loss_grad, X, store=store, **opts))
    assert report.passed and again == []
    # Without the store the check evaluates every point itself.
    report, alone = _new_points(lambda: dfdx.check_gradient(loss, loss_grad, X, **opts))
    assert report.passed and sorted(alone) == sorted(first)


def test_a_jacobian_check_and_assert_gradient_take_the_store(tmp_path):
    store = dfdx.Store(tmp_path / "run.db")
    dfdx.jacobian(resid, X, store=store)
    report, again = _new_points(lambda: dfdx.check_jacobian(resid, resid_jac, X, store=store))
    assert report.passed and again == []
    _, first = _new_points(lambda: dfdx.assert_gradient(loss, loss_grad, X, store=store))
    _, again = _new_points(lambda: dfdx.assert_gradient(loss, loss_grad, X, store=str(tmp_path / "run.db")))
    assert len(first) == 1 + 6 * X.size and again == []


def test_a_directional_check_run_again_reads_every_point(tmp_path):
    store = dfdx.Store(tmp_path / "run.db")
    report, first = _new_points(
        lambda: dfdx.check_gradient(loss, loss_grad, X, mode="directional", seed=3, store=store)
    )
    assert report.passed and len(first) == 1 + 4 * 3  # each direction's two points and its check's
    report, again = _new_points(
        lambda: dfdx.check_gradient(loss, loss_grad, X, mode="directional", seed=3, store=store)
    )
    assert report.passed and again == []


def test_a_vectorized_check_shares_the_vectorized_gradient_points(tmp_path):
    def batch_loss(x):
        POINTS.extend(np.asarray(col).tobytes() for col in np.moveaxis(x, -1, 0))
        return np.sum(np.sin(x) * np.arange(1, 7)[:, None], axis=0)

    store = dfdx.Store(tmp_path / "run.db", name="batch-loss")
    dfdx.gradient(batch_loss, X, vectorized=True, store=store)
    report, again = _new_points(
        lambda: dfdx.check_gradient(batch_loss, loss_grad, X, vectorized=True, store=store)
    )
    assert report.passed and again == []


def test_a_store_with_a_coarser_check_precision_is_refused(tmp_path):
    with pytest.raises(
        ValueError, match=r"`store=` records f's own values, but this check rounds them to float32"
    ):
        dfdx.check_gradient(loss, loss_grad, X, dtype=np.float32, store=dfdx.Store(tmp_path / "run.db"))


def test_a_lambda_needs_a_name_in_the_store_for_a_check_too(tmp_path):
    with pytest.raises(ValueError, match=r"store= needs a name for f"):
        dfdx.check_gradient(lambda x: float(np.sum(x**2)), lambda x: 2 * x, X, store=tmp_path / "run.db")


def test_the_report_counts_f_x_only_when_evaluated(tmp_path):
    store = dfdx.Store(tmp_path / "run.db")
    first = dfdx.check_gradient(loss, loss_grad, X, store=store)
    again = dfdx.check_gradient(loss, loss_grad, X, store=store)
    assert first.nfev == 1 + 6 * X.size and again.nfev == 0


def test_the_command_line_records_a_gradient_and_the_check_reads_it(tmp_path, capsys):
    from dfdx.cli import main

    seed = "(2*w1 + 3*w2 - 5)**2 + (w1 - w2 - 1)**2"
    path = str(tmp_path / "cli.db")
    assert main(["gradient", seed, "--at", "w1=1,w2=1", "--store", path, "--json"]) == 0
    done = json.loads(capsys.readouterr().out)["result"]["nfev"]
    grad = "10*w1 + 10*w2 - 22, 10*w1 + 20*w2 - 28"
    assert main(["check", seed, grad, "--at", "w1=1,w2=1", "--store", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["report"]
    assert done == 13 and report["nfev"] == 0 and len(dfdx.Store(path)) == 13
