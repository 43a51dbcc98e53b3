"""The checker on badly scaled problems: each entry judged on its own size, never passed unverified.

Brown's badly scaled function at (1, 1) has the gradient (-2e6, -4e-6): f is about 1e12 there,
so at dfdx's default steps the second entry's numerical error (about 0.3, rounding of f) is
larger than the entry itself. Planted bugs in that entry must still be caught (the checker
checks it again at a step of its own), and an entry that cannot be verified at all must make
the check inconclusive, not passed.
"""

from __future__ import annotations

import numpy as np
import pytest

import dfdx


def brown(x):
    return (x[0] - 1e6) ** 2 + (x[1] - 2e-6) ** 2 + (x[0] * x[1] - 2) ** 2


def brown_grad(x):
    x = np.asarray(x, dtype=np.float64)
    r = x[0] * x[1] - 2
    return np.array([2 * (x[0] - 1e6) + 2 * x[1] * r, 2 * (x[1] - 2e-6) + 2 * x[0] * r])


X = np.array([1.0, 1.0])


def test_brown_gradient_is_what_the_test_says():
    np.testing.assert_allclose(brown_grad(X), [-2e6, -4e-6], rtol=1e-9)


def test_correct_brown_gradient_passes_with_each_entry_verified_on_its_own_size():
    report = dfdx.check_gradient(brown, brown_grad, X)
    assert report.passed, str(report)
    small = next(e for e in report.entries if e.index == (1,))
    # The small entry was checked to better than a tenth of itself, not to the gradient's scale.
    assert small.tolerance < 0.1 * abs(small.analytic)
    assert abs(small.numerical - (-4e-6)) < small.tolerance


@pytest.mark.parametrize(
    "planted",
    [
        pytest.param(lambda x: brown_grad(x) * [1, -1], id="small_entry_sign_flipped"),
        pytest.param(lambda x: brown_grad(np.asarray(x) + 1e-3), id="computed_at_x_plus_1e-3"),
        pytest.param(lambda x: brown_grad(x) * [1, 0.5], id="small_entry_halved"),
    ],
)
@pytest.mark.parametrize("mode", ["full", "directional"])
def test_planted_bugs_in_the_small_entry_are_caught(planted, mode):
    report = dfdx.check_gradient(brown, planted, X, mode=mode, seed=0)
    assert report.verdict == "fail" and not report.passed, str(report)
    assert (1,) in report.mismatches, str(report)
    with pytest.raises(AssertionError, match="FAILED"):
        dfdx.assert_gradient(brown, planted, X, mode=mode, seed=0)


def test_large_entry_sign_flipped_is_caught():
    report = dfdx.check_gradient(brown, lambda x: brown_grad(x) * [-1, 1], X)
    assert report.mismatches == ((0,),), str(report)


def test_badly_scaled_jacobian_rows():
    """The same in a Jacobian: the small entry of the first row is checked on its own size."""
    f = lambda x: np.array([brown(x), x[0] + x[1]])  # noqa: E731
    jac = lambda x: np.stack([brown_grad(x), np.ones(2)])  # noqa: E731
    assert dfdx.check_jacobian(f, jac, X).passed
    wrong = lambda x: jac(x) * [[1, -1], [1, 1]]  # noqa: E731
    assert dfdx.check_jacobian(f, wrong, X).mismatches == ((0, 1),)


# -- entries that cannot be verified ----------------------------------------------------


def _sin32():
    x = np.array([1e6], dtype=np.float32)
    return (lambda z: np.sin(z[0])), x


def test_an_unverifiable_entry_makes_the_check_inconclusive_not_passed():
    """sin at 1e6 in float32: x's spacing is 0.0625, no step shows cos(1e6) to a tenth."""
    f, x = _sin32()
    report = dfdx.check_gradient(f, lambda z: np.cos(z).astype(np.float32), x)
    assert report.verdict == "inconclusive" and not report.passed and not bool(report)
    assert report.entries[0].status == "inconclusive" and report.mismatches == ()
    text = str(report)
    assert text.startswith("Gradient check INCONCLUSIVE: 1 of 1 entries could not be verified")
    assert "could not be verified" in " ".join(report.notes)
    assert report.to_dict()["verdict"] == "inconclusive"
    with pytest.raises(AssertionError, match="INCONCLUSIVE"):
        dfdx.assert_gradient(f, lambda z: np.cos(z).astype(np.float32), x)


def test_a_wrong_sign_on_an_unverifiable_entry_does_not_pass():
    f, x = _sin32()
    report = dfdx.check_gradient(f, lambda z: -np.cos(z).astype(np.float32), x)
    assert not report.passed and report.verdict in ("inconclusive", "fail"), str(report)


def test_zero_entries_are_verified_against_their_row():
    """An analytic zero is verified to sqrt(eps) of its row's largest entry."""
    f = lambda x: np.sin(x[0]) + 0.0 * x[1]  # noqa: E731
    g = lambda x: np.array([np.cos(x[0]), 0.0])  # noqa: E731
    report = dfdx.check_gradient(f, g, [0.3, 2.0])
    assert report.passed and all(e.status == "ok" for e in report.entries), str(report)


def test_conclusive_judges_an_entry_on_its_own_size():
    from types import SimpleNamespace

    from dfdx.check.verdicts import conclusive

    p = SimpleNamespace(rowmax=np.array([2e6]), eps=float(np.finfo(np.float64).eps))
    assert conclusive(p, 0, -2e6, 0.68)  # 0.68 on 2e6
    assert not conclusive(p, 0, -4e-6, 0.68)  # 0.68 on 4e-6: a flipped sign would agree
    assert conclusive(p, 0, -4e-6, 1e-8)
    assert conclusive(p, 0, 0.0, 1e-3)  # zero, against the row's 2e6
    assert not conclusive(p, 0, 0.0, 1.0)
