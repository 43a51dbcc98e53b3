"""Stencil weights: exact against textbook tables, exact on polynomials, right orders."""

from __future__ import annotations

import math
from fractions import Fraction as Fr

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfdx import stencils
from dfdx.stencils import backward, central, complex_step, fornberg_weights, forward, make_stencil


def exact(offsets, n):
    return fornberg_weights([Fr(o) for o in offsets], n)[n]


# Fornberg (1988), Table 1 (centred) and Table 3 (one-sided), exact rationals.
TEXTBOOK = [
    ((-1, 0, 1), 1, [Fr(-1, 2), 0, Fr(1, 2)]),
    ((-2, -1, 0, 1, 2), 1, [Fr(1, 12), Fr(-2, 3), 0, Fr(2, 3), Fr(-1, 12)]),
    ((-3, -2, -1, 0, 1, 2, 3), 1, [Fr(-1, 60), Fr(3, 20), Fr(-3, 4), 0, Fr(3, 4), Fr(-3, 20), Fr(1, 60)]),
    ((-1, 0, 1), 2, [1, -2, 1]),
    ((-2, -1, 0, 1, 2), 2, [Fr(-1, 12), Fr(4, 3), Fr(-5, 2), Fr(4, 3), Fr(-1, 12)]),
    ((-2, -1, 0, 1, 2), 3, [Fr(-1, 2), 1, 0, -1, Fr(1, 2)]),
    ((-2, -1, 0, 1, 2), 4, [1, -4, 6, -4, 1]),
    ((0, 1), 1, [-1, 1]),
    ((0, 1, 2), 1, [Fr(-3, 2), 2, Fr(-1, 2)]),
    ((0, 1, 2, 3), 1, [Fr(-11, 6), 3, Fr(-3, 2), Fr(1, 3)]),
    ((0, 1, 2, 3, 4), 1, [Fr(-25, 12), 4, -3, Fr(4, 3), Fr(-1, 4)]),
    ((0, 1, 2), 2, [1, -2, 1]),
    ((0, 1, 2, 3), 2, [2, -5, 4, -1]),
]


@pytest.mark.parametrize("offsets, n, expected", TEXTBOOK)
def test_fornberg_matches_textbook_tables(offsets, n, expected):
    assert exact(offsets, n) == [Fr(e) for e in expected]


def test_fornberg_rejects_bad_input():
    with pytest.raises(ValueError, match="`order` must be in"):
        fornberg_weights([0.0, 1.0], 2)
    with pytest.raises(ValueError, match="distinct"):
        fornberg_weights([0.0, 0.0, 1.0], 1)


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(-6, 6), min_size=2, max_size=7, unique=True),
    data=st.data(),
)
def test_weights_exact_on_polynomials_within_degree(offsets, data):
    """An npts-point rule differentiates every polynomial of degree < npts exactly."""
    npts = len(offsets)
    n = data.draw(st.integers(0, npts - 1))
    coefs = data.draw(st.lists(st.integers(-9, 9), min_size=npts, max_size=npts))
    w = exact(offsets, n)
    # p(t) = sum_k c_k t^k; p^(n)(0) = n! c_n.
    approx = sum(wk * sum(Fr(c) * Fr(o) ** k for k, c in enumerate(coefs)) for wk, o in zip(w, offsets))
    assert approx == math.factorial(n) * coefs[n]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("accuracy", [2, 4, 6, 8])
def test_central_orders(n, accuracy):
    s = central(n, accuracy)
    assert s.accuracy == accuracy
    assert s.n == n
    np.testing.assert_allclose(s.offsets, -s.offsets[::-1])
    # Exact on x**(n + accuracy - 1) at x = 0.3, wrong at degree n + accuracy.
    h = 0.5
    for degree, exactness in ((n + accuracy - 1, True), (n + accuracy, False)):
        vals = (0.3 + s.offsets * h) ** degree
        got = np.dot(s.weights, vals) / h**n
        truth = math.perm(degree, n) * 0.3 ** (degree - n)
        assert np.isclose(got, truth, rtol=1e-9, atol=1e-9) == exactness


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("accuracy", [1, 2, 3, 4])
def test_one_sided_orders_and_mirror(n, accuracy):
    fw, bw = forward(n, accuracy), backward(n, accuracy)
    assert fw.accuracy == accuracy and bw.accuracy == accuracy
    assert np.all(fw.offsets >= 0) and np.all(bw.offsets <= 0)
    np.testing.assert_allclose(bw.offsets, -fw.offsets)
    np.testing.assert_allclose(bw.weights, (-1) ** n * fw.weights)


def test_leading_error_coefficient_matches_taylor():
    # (f(x+h) - f(x-h)) / 2h = f' + h^2 f'''/6 + ...
    assert central(1, 2).error_coefficient == pytest.approx(1 / 6)
    assert central(1, 4).error_coefficient == pytest.approx(-1 / 30)
    assert forward(1, 1).error_coefficient == pytest.approx(1 / 2)
    assert central(2, 2).error_coefficient == pytest.approx(1 / 12)


@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_complex_step_weights_and_order(accuracy):
    s = complex_step(accuracy)
    f, df = np.exp, np.exp
    errors = []
    for h in (0.2, 0.1):
        approx = np.dot(s.weights, np.exp(0.5 + 1j * s.offsets * h).imag) / h
        errors.append(abs(approx - df(0.5)))
    slope = np.log2(errors[0] / errors[1])
    assert slope == pytest.approx(accuracy, abs=0.3)
    assert abs(errors[1]) / (abs(s.error_coefficient) * 0.1**accuracy * np.exp(0.5)) == pytest.approx(
        1, rel=0.2
    )
    assert f(0.0) == 1.0


def test_stencil_properties_and_repr():
    s = central(1, 4)
    assert s.nfev == 4 and not s.uses_center and s.amplification == pytest.approx(1.5)
    assert central(2, 2).uses_center and central(2, 2).nfev == 2
    assert "central" in repr(s) and "accuracy=4" in repr(s)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: central(1, 3), "must be even for method='central'"),
        (lambda: complex_step(3), "must be even for method='complex'"),
        (lambda: forward(0, 1), "`n` .* must be an integer >= 1"),
        (lambda: forward(1, 0), "`accuracy` must be an integer >= 1"),
        (lambda: central(20, 8), "beyond what double precision"),
        (lambda: make_stencil("complex", 2, 2), "first derivatives only"),
        (lambda: make_stencil("sideways", 1, 2), "`method` must be one of"),
    ],
)
def test_stencil_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_module_exports():
    assert set(stencils.__all__) >= {"Stencil", "fornberg_weights", "central", "forward", "backward"}
