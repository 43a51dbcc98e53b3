"""Bits that must not depend on how a problem is cut: columns, evaluations, output types."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dfdx
from dfdx.numerics.error_model import combine, tables
from dfdx.stencils import make_stencil

EPS = 2.0**-53

STENCILS = (
    [make_stencil("central", n, p) for n in (1, 2, 3) for p in (2, 4, 6, 8)]
    + [make_stencil(kind, n, p) for kind in ("forward", "backward") for n in (1, 2) for p in (1, 2, 4, 6)]
    + [make_stencil("complex", 1, p) for p in (2, 4, 6)]
)

FUNCTIONS = [np.sin, np.exp, lambda t: t**3 - 2 * t, lambda t: 1 / (1 + t * t), lambda t: np.cos(40 * t)]


@settings(max_examples=200, deadline=None)
@given(
    stencil=st.sampled_from(STENCILS),
    ncols=st.integers(1, 12),
    m=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
    dyadic=st.booleans(),
    elementwise=st.booleans(),
)
def test_a_columns_estimate_does_not_depend_on_the_other_columns(  # type: ignore[no-untyped-def]
    stencil, ncols, m, seed, dyadic, elementwise
):
    """The model sums over nodes and columns in a fixed order, never by BLAS: any subset
    of the columns gives the same bits as all of them (so a gradient entry does not
    depend on how many variables there are), for per-column and per-entry steps."""
    t = tables(stencil)
    rng = np.random.default_rng(seed)
    if dyadic:  # exactly computed values: the rounding bound may shrink
        x = np.round(rng.normal(size=ncols) * 8) / 4
        g = [FUNCTIONS[2]] * m
    else:
        x = rng.normal(size=ncols) * 10.0 ** rng.integers(-3, 3)
        g = [FUNCTIONS[i] for i in rng.integers(0, len(FUNCTIONS), size=m)]
    reach = np.maximum(1.0, np.abs(x))[:, None]
    h = np.ldexp(0.5, np.frexp(reach * 2.0 ** -rng.integers(3, 20))[1])
    if elementwise:
        h = h * rng.uniform(0.6, 1.4, size=(ncols, m))
        reach = np.broadcast_to(reach, (ncols, m)).copy()
    points = x[:, None, None] + t.offsets[None, :, None] * h[:, None, :]
    values = np.stack([gi(points[..., min(i, points.shape[2] - 1)]) for i, gi in enumerate(g)], axis=-1)
    f0 = np.array([float(np.sum([gi(0.1) for gi in g]))] * m) if stencil.is_complex else rng.normal(size=m)
    whole = combine(stencil, values, f0, h, reach, EPS, False)
    for j in rng.permutation(ncols)[:3]:
        part = combine(stencil, values[j : j + 1], f0, h[j : j + 1], reach[j : j + 1], EPS, False)
        for a, b in zip(whole, part, strict=True):
            np.testing.assert_array_equal(a[j], b[0])


def test_the_rounding_floor_sums_the_columns_in_order() -> None:
    """For a gradient the floor adds up over the coordinates: a running sum, so the
    first columns' entries are the same whether or not more columns follow."""
    stencil = make_stencil("central", 1, 4)
    t = tables(stencil)
    x = np.linspace(0.1, 2.0, 6)
    h = np.full((6, 1), 2.0**-10)
    values = np.sin(x[:, None] + t.offsets * h)[:, :, None] + 3.0
    f0 = np.array([float(np.sum(np.sin(x))) + 3.0])
    reach = np.ones((6, 1))
    alone = combine(stencil, values, f0, h, reach, EPS, False)
    summed = combine(stencil, values, f0, h, reach, EPS, True)
    np.testing.assert_array_equal(alone[0], summed[0])
    assert np.all(summed[1] >= alone[1])


def test_a_domain_hole_evaluates_no_point_twice() -> None:
    calls = [0]

    def f(w):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return float(math.log(w[0]) if w[0] > 0 else math.nan) + float(w[1]) ** 2

    res = dfdx.gradient(f, np.array([1e-4, 1.0]), throw=False)  # log is NaN left of 0
    assert calls[0] == res.nfev
    assert res.status is dfdx.Status.ONE_SIDED
    assert abs(res.value[0] - 1e4) <= res.error[0]


def test_values_of_other_numeric_types_are_taken_as_floats() -> None:
    outputs = [np.float64(1.0), np.array(2.0), np.float32(3.0), 4, 5.0, 6.0, 7.0, 8.0, 9.0]
    plain = [float(v) for v in outputs]
    first, second = itertools.cycle(outputs), itertools.cycle(plain)
    a = dfdx.gradient(lambda w: next(first), [1.0, 2.0], throw=False)
    b = dfdx.gradient(lambda w: next(second), [1.0, 2.0], throw=False)
    np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(a.error, b.error)
    assert a.status is b.status


def test_a_wrong_output_names_the_point() -> None:
    calls = itertools.count()

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
