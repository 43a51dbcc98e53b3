"""The scalar route for gradients in a few variables gives the general route's bits."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dfdx
from dfdx.engine import tiny as _tiny
from dfdx.numerics.error_model import combine, tables
from dfdx.numerics.error_scalar import Unsupported, combine_axes, combine_complex_axes, supports
from dfdx.stencils import make_stencil

from .bank import PROBLEMS

EPS = 2.0**-53

STENCILS = [make_stencil("central", 1, p) for p in (2, 4, 6, 8)] + [
    make_stencil(kind, 1, p) for kind in ("forward", "backward") for p in (1, 2, 3, 4, 6)
]

FUNCTIONS = [
    np.sin,
    np.exp,
    lambda t: t**3 - 2 * t,
    lambda t: 1 / (1 + t * t),
    lambda t: np.cos(40 * t),
    lambda t: 3.0 * t,
    lambda t: t * t,
    np.arctan,
]


def _vector_and_scalar(stencil, x, h, pick):  # type: ignore[no-untyped-def]
    """Both models on the values of sum_j g_j(x_j) at the stencil points."""
    t = tables(stencil)
    g = [FUNCTIONS[i] for i in pick]

    def f(z):  # type: ignore[no-untyped-def]
        return float(sum(gj(zj) for gj, zj in zip(g, z, strict=True)))

    n = len(x)
    values = np.empty((n, len(t.offsets), 1))
    for j in range(n):
        for k, o in enumerate(t.offsets):
            z = x.copy()
            z[j] += o * h[j]
            values[j, k, 0] = f(z)
    reach = np.maximum(1.0, np.abs(x))
    f0 = f(x)
    vector = combine(stencil, values, np.array([f0]), h[:, None], reach[:, None], EPS, True)
    scalar = combine_axes(stencil, values[:, :, 0].tolist(), f0, h.tolist(), reach.tolist(), EPS)
    return vector, scalar


@settings(max_examples=300, deadline=None)
@given(
    stencil=st.sampled_from(STENCILS),
    n=st.integers(1, 16),
    seed=st.integers(0, 2**32 - 1),
    dyadic=st.booleans(),
    user_step=st.booleans(),
)
def test_scalar_model_gives_the_vector_models_bits(stencil, n, seed, dyadic, user_step):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    if dyadic:  # exactly computed values: the rounding bound may shrink
        x = np.round(rng.normal(size=n) * 8) / 4
        pick = rng.choice([2, 5, 6], size=n)
    else:
        x = rng.normal(size=n) * 10.0 ** rng.integers(-3, 3)
        pick = rng.integers(0, len(FUNCTIONS), size=n)
    reach = np.maximum(1.0, np.abs(x))
    h = np.ldexp(0.5, np.frexp(reach * 2.0 ** -rng.integers(3, 20))[1])
    if user_step:
        h = h * rng.uniform(0.6, 1.4, size=n)
    vector, scalar = _vector_and_scalar(stencil, x, h, pick)
    for a, b in zip(vector, scalar, strict=True):
        np.testing.assert_array_equal(a[:, 0], np.array(b))


def test_scalar_model_declines_what_numpy_would_make_infinite() -> None:
    stencil = make_stencil("central", 1, 4)
    values = [[1e308, -1e308, 1e308, -1e308]]
    with pytest.raises((Unsupported, ZeroDivisionError)):
        combine_axes(stencil, values, 0.0, [2.0**-1070], [1.0], EPS)


def test_only_first_derivatives_are_supported() -> None:
    assert supports(make_stencil("central", 1, 4))
    assert supports(make_stencil("complex", 1, 2))
    assert not supports(make_stencil("central", 2, 4))


@settings(max_examples=200, deadline=None)
@given(
    accuracy=st.sampled_from([2, 4, 6, 8]),
    n=st.integers(1, 16),
    seed=st.integers(0, 2**32 - 1),
)
def test_scalar_complex_step_gives_the_vector_models_bits(accuracy, n, seed):  # type: ignore[no-untyped-def]
    stencil = make_stencil("complex", 1, accuracy)
    t = tables(stencil)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 10.0 ** rng.integers(-3, 4)
    reach = np.maximum(1.0, np.abs(x))
    h = np.ldexp(0.5, np.frexp(reach * 2.0**-66)[1])
    if rng.random() < 0.3:
        h = h * rng.uniform(0.6, 1.4, size=n)
    values = rng.normal(size=(n, len(t.offsets), 1)) * 10.0 ** rng.integers(-20, 3)
    vector = combine(stencil, values, np.array([rng.normal()]), h[:, None], reach[:, None], EPS, True)
    scalar = combine_complex_axes(stencil, values[:, :, 0].tolist(), h.tolist(), reach.tolist(), EPS)
    for a, b in zip(vector, scalar, strict=True):
        np.testing.assert_array_equal(a[:, 0], np.array(b))


def _both(monkeypatch, f, x, **options):  # type: ignore[no-untyped-def]
    """(scalar route, general route) results of dfdx.gradient, with evaluations counted."""
    counts = []

    def counted(z, *args):  # type: ignore[no-untyped-def]
        counts[-1] += 1
        return f(z, *args)

    counts.append(0)
    fast = dfdx.gradient(counted, x, **options)
    monkeypatch.setattr(_tiny, "TINY_COLUMNS", 0)
    counts.append(0)
    slow = dfdx.gradient(counted, x, **options)
    monkeypatch.undo()
    return fast, slow, counts


def _same(a: dfdx.Result, b: dfdx.Result) -> None:
    np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(a.error, b.error)
    np.testing.assert_array_equal(a.step, b.step)
    fields = ("nfev", "status", "message", "method", "accuracy")
    assert [getattr(a, k) for k in fields] == [getattr(b, k) for k in fields]


SMALL = [p for p in PROBLEMS if p.x.size <= _tiny.TINY_COLUMNS]


@pytest.mark.parametrize("problem", SMALL, ids=lambda p: p.name)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"accuracy": 2},
        {"accuracy": 8},
        {"method": "forward"},
        {"method": "backward", "accuracy": 3},
        {"method": "complex"},
        {"method": "complex", "accuracy": 6},
    ],
    ids=["default", "central-2", "central-8", "forward", "backward-3", "complex", "complex-6"],
)
def test_tiny_route_equals_the_general_route_on_the_bank(monkeypatch, problem, options) -> None:  # type: ignore[no-untyped-def]
    fast, slow, counts = _both(monkeypatch, problem.f, problem.x.copy(), **options)
    _same(fast, slow)
    assert counts[0] == counts[1] == fast.nfev


def test_tiny_route_with_user_steps_and_a_matrix_x(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def f(w):  # type: ignore[no-untyped-def]
        return float(np.sum(np.sin(w) * w**2))

    x = np.array([[0.3, -1.2], [2.5, 0.7]])
    fast, slow, _ = _both(monkeypatch, f, x, step=[[1e-3, 2e-3], [3e-3, 1.5e-3]])
    _same(fast, slow)
    assert fast.value.shape == (2, 2)


def test_domain_hole_in_the_tiny_route_evaluates_no_point_twice(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def f(w):  # type: ignore[no-untyped-def]
        return float(math.log(w[0]) if w[0] > 0 else math.nan) + float(w[1]) ** 2

    x = np.array([1e-4, 1.0])  # log is NaN left of 0: the stencil falls into the hole
    fast, slow, counts = _both(monkeypatch, f, x, throw=False)
    _same(fast, slow)
    assert counts[0] == counts[1] == fast.nfev
    assert fast.status is dfdx.Status.ONE_SIDED
    assert abs(fast.value[0] - 1e4) <= fast.error[0]


def test_values_of_other_numeric_types_are_taken_as_floats(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    outputs = itertools.cycle([np.float64(1.0), np.array(2.0), np.float32(3.0), 4, 5.0, 6.0, 7.0, 8.0, 9.0])
    fast, slow, _ = _both(monkeypatch, lambda w: next(outputs), [1.0, 2.0], throw=False)
    _same(fast, slow)


def test_a_wrong_output_in_the_tiny_route_names_the_point() -> None:
    calls = iter(range(100))

    def f(w):  # type: ignore[no-untyped-def]
        return 1.0 if next(calls) < 3 else np.array([1.0, 2.0])

    with pytest.raises(ValueError, match=r"f returned shape \(2,\) at x = "):
        dfdx.gradient(f, [1.0, 2.0])


def test_an_exception_in_f_names_the_point() -> None:
    def f(w):  # type: ignore[no-untyped-def]
        if w[1] != 2.0:
            raise RuntimeError("solver failed")
        return float(w[0])

    with pytest.raises(RuntimeError, match="solver failed") as info:
        dfdx.gradient(f, [1.0, 2.0])
    assert "x = " in "".join(getattr(info.value, "__notes__", [])) + str(info.value)


def test_the_route_is_not_taken_where_it_does_not_apply(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    taken = []
    real = _tiny.tiny_axes
    monkeypatch.setattr("dfdx.engine.dispatch.tiny_axes", lambda *a: taken.append(1) or real(*a))

    def f(w):  # type: ignore[no-untyped-def]
        return w @ w  # complex-safe

    x = np.array([1.0, 2.0])
    dfdx.gradient(f, x)
    assert taken == [1]
    for options in (
        {"bounds": ([0, 0], [3, 3])},
        {"adaptive": True},
        {"noise": 1e-10},
        {"workers": map},
        {"progress": True},
    ):
        dfdx.gradient(f, x, **options)
    dfdx.gradient(f, np.ones(_tiny.TINY_COLUMNS + 1))
    dfdx.gradient(lambda w: np.float32(w @ w), x.astype(np.float32))
    assert taken == [1]
    assert math.isfinite(dfdx.gradient(f, x).value[0])
