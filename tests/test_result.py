"""The Result type: frozen, same fields everywhere, readable repr; statuses that say what to do."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import dfdx
from dfdx import Result, Status

FIELDS = {"value", "error", "step", "nfev", "status", "message", "method"}


def test_every_front_end_returns_the_same_result_fields():
    f = lambda x: np.sum(np.sin(x))  # noqa: E731
    results = [
        dfdx.derivative(np.sin, 1.0),
        dfdx.gradient(f, [1.0, 2.0]),
        dfdx.jacobian(np.sin, [1.0, 2.0]),
        dfdx.directional(f, [1.0, 2.0], [1.0, 0.0]),
    ]
    for res in results:
        assert isinstance(res, Result)
        assert FIELDS <= {fld.name for fld in dataclasses.fields(res)}
        assert np.shape(res.value) == np.shape(res.error)
        assert res.status is Status.SUCCESS and res.message == Status.SUCCESS.message


def test_result_is_frozen():
    res = dfdx.derivative(np.sin, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.value = 0.0  # type: ignore[misc]


def test_repr_shows_value_plus_minus_error():
    res = dfdx.gradient(lambda x: x[0] ** 2 + np.sin(x[1]), [1.0, 2.0])
    text = repr(res)
    assert "method='central'" in text and "status=Status.SUCCESS" in text
    assert "(0,)  2" in text and "±" in text
    big = dfdx.derivative(np.sin, np.linspace(0, 1, 50))
    assert "max" in repr(big) and "median" in repr(big)


def test_repr_of_a_pytree_result_names_the_entries_by_path():
    params = {"w": np.array([1.0, 2.0]), "b": 0.5}
    res = dfdx.gradient(lambda p: np.sum(p["w"] ** 2) * p["b"], params)
    lines = repr(res).splitlines()[1:]
    assert [line.split()[0] for line in lines] == ["['w'][0]", "['w'][1]", "['b']"]
    assert float(lines[0].split()[1]) == pytest.approx(1.0) and lines[0].split()[2] == "±"
    assert float(lines[2].split()[1]) == pytest.approx(5.0)
    hess = repr(dfdx.hessian(lambda p: np.sum(p[0] ** 2) * p[1], [np.ones(3), 2.0]))
    assert "\n  [0][0]  " in hess and "\n  [1][1]  " in hess  # 16 entries: one line per block
    many = repr(dfdx.gradient(lambda p: np.sum(p["a"] ** 2), {"a": np.ones(20)}))
    assert many.splitlines()[1].split()[:3] == ["['a']", "shape", "(20,),"]


def test_status_messages_say_what_to_do():
    for status in Status:
        assert len(status.message) > 40
    assert Status.NONFINITE.failed and not Status.SUCCESS.failed
    assert Status.worst(Status.SUCCESS, Status.NONFINITE, Status.ONE_SIDED) is Status.NONFINITE
    assert Status.worst() is Status.SUCCESS


def test_forward_error_estimate_is_flagged_as_modelled():
    res = dfdx.derivative(np.exp, 1.0, method="forward")
    assert res.status is Status.ESTIMATED_ERROR and res.success
    assert abs(res.value - np.e) <= res.error
