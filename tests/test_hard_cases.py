"""The hard-case suite itself: its references, its verdicts, and the trust contract on it.

The references are checked against closed forms and each mpmath twin against its NumPy f;
:func:`classify` is checked on synthetic results. The acceptance tests at the end (0 silent
wrong answers per mode, the adaptive answer rate, weak misses) are marked ``xfail`` where dfdx
does not meet them yet, strictly, so that a fix that meets one turns its test into a failure
until the mark is removed.
"""

import math
import time
from collections import Counter

import mpmath
import numpy as np
import pytest

from .hard_case_families2 import hash_unit
from .hard_case_kit import twin_values
from .hard_cases import CASES, FAMILIES, MODES, Case, applies, classify, outcome, reference

BY_NAME = {c.name: c for c in CASES}


def test_suite_covers_the_families_and_front_ends():
    assert len(CASES) >= 150
    assert len(BY_NAME) == len(CASES)
    families = Counter(c.family for c in CASES)
    assert set(families) == set(FAMILIES)
    assert min(families.values()) >= 10
    fronts = Counter(c.front for c in CASES)
    assert set(fronts) == {"derivative", "gradient", "jacobian", "hessian", "directional"}
    assert {c.n for c in CASES} == {1, 2, 3, 4, 5}
    assert sum(not c.exists for c in CASES) >= 10
    assert all(not c.exists for c in CASES if c.family == "kinks" and c.truth is None)
    assert any("bounds" in c.options for c in CASES) and any("step" in c.options for c in CASES)
    assert any(c.options.get("vectorized") for c in CASES)


def _expected_shape(c: Case) -> tuple[int, ...]:
    x = np.shape(c.x)
    if c.front == "hessian":
        return x + x
    if c.front == "jacobian":
        return (len(c.ref(list(np.asarray(c.x)))),) + x
    return () if c.front == "directional" else x


@pytest.mark.parametrize("c", [c for c in CASES if c.exists], ids=lambda c: c.name)
def test_reference_is_finite_and_shaped(c):
    assert np.asarray(c.x).dtype == np.float64 or isinstance(c.x, float)
    assert c.truth.shape == _expected_shape(c)
    assert np.all(np.isfinite(c.truth))


def test_references_build_fast():
    start = time.perf_counter()
    for c in CASES:
        reference(c)
    assert time.perf_counter() - start < 5.0


#: Closed forms, in float64 where that is exact enough, else in mpmath.
CLOSED = {
    "sin_at_1e+06": lambda: math.cos(1e6),
    "sin_at_1e+08": lambda: math.cos(1e8),
    "log_at_1e300": lambda: 1e-300,
    "log_at_1e-08": lambda: 1e8,
    "daily_cycle_unix": lambda: float(2 * mpmath.pi / 86400 * mpmath.cos(2 * mpmath.pi * 1.7e9 / 86400)),
    "sin_t2_at_300.25": lambda: 2 * 300.25 * math.cos(300.25**2),
    "pole_1.00001": lambda: float(-1 / (mpmath.mpf(1.00001) - 1) ** 2),
    "asin_near_1_bounds": lambda: float(1 / mpmath.sqrt(1 - mpmath.mpf(1 - 1e-6) ** 2)),
    "sin_1e4_n5": lambda: math.cos(1e4),
    "sin_1e4_n2": lambda: -math.sin(1e4),
    "log_0.5_n5": lambda: 24 / 0.5**5,
    "x6_at_1e3_n5": lambda: 720e3,
    "exp_t_100_at_1e4_n4": lambda: float(mpmath.exp(100) / 100**4),
    "offset_square_1": lambda: 2 * (1 + 1e8),
    "expanded_poly7": lambda: float(7 * (mpmath.mpf(1.01) - 1) ** 6),
    "solver_tolerance_root": lambda: 0.25,  # y(2) = 1, y' = 1 / (3 y^2 + 1)
    # f = (x0 - 1e6)^2 + (x1 - 2e-6)^2 + (x0 x1 - 2)^2 at (1, 1)
    "grad_brown_start": lambda: [float(2 * (1 - mpmath.mpf(1e6)) - 2), float(2 * (1 - mpmath.mpf(2e-6)) - 2)],
    "grad_multiscale": lambda: math.cos(0.7) / np.array([1e-5, 1e-2, 1.0, 1e3]),
    "hess_micro_1e-05": lambda: np.array([[2.0, -1.0], [-1.0, 2.0]]),
    "hess_x0sq_x1": lambda: np.array([[2e3, 2e-5], [2e-5, 0.0]]),
    "dir_sinlog_x1": lambda: 100 * math.cos(-50.0) * math.log(100.0),
    "jac_edges_bounds": lambda: np.array([[1e4, 0.0], [0.0, 0.5 / 1e-3], [1e-6, 1e-4]]),
    "boxed_exp_linspace": lambda: np.exp(np.linspace(0, 2, 10)),
}


@pytest.mark.parametrize("name", sorted(CLOSED))
def test_reference_against_closed_form(name):
    with mpmath.workdps(40):
        expected = np.asarray(CLOSED[name](), dtype=float)
    np.testing.assert_allclose(BY_NAME[name].truth, expected, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize(
    "c", [c for c in CASES if c.exists and c.family not in ("noise", "cancellation")], ids=lambda c: c.name
)
def test_twin_is_the_same_function(c):
    """The mpmath twin is the NumPy f (so the reference is f's derivative, not another's)."""
    got, ref = twin_values(c)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-15 * max(1.0, np.max(np.abs(ref))))


@pytest.mark.parametrize("c", [c for c in CASES if c.family == "noise"], ids=lambda c: c.name)
def test_noisy_f_is_its_smooth_twin_plus_noise(c):
    """A noisy f differs from its twin, by its noise only (a few float32 ulps at most)."""
    got, ref = twin_values(c)
    assert not np.array_equal(got, ref)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7 * max(1.0, np.max(np.abs(ref))))


def test_hash_noise_is_deterministic_and_spread():
    x = 1.0 + np.arange(2000) * 2.0**-52
    u = hash_unit(x)
    np.testing.assert_array_equal(u, hash_unit(x.copy()))
    assert u.min() >= -1 and u.max() < 1
    assert abs(u.mean()) < 0.05 and 0.5 < u.std() < 0.65
    assert np.all(u[1:] != u[:-1])
    assert np.shape(hash_unit(1.0)) == ()


# --- classify -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, error, status, truth, exists, verdict",
    [
        (1.0, 0.1, "SUCCESS", 1.05, True, "covered"),
        (1.0, 0.01, "SUCCESS", 1.05, True, "silent"),
        (1.0, 0.01, "ONE_SIDED", 1.05, True, "silent"),
        (1.0, 0.01, "ESTIMATED_ERROR", 1.05, True, "weak"),
        (1.0, 0.001, "ROUNDOFF", 1.05, True, "weak_miss"),
        (1.0, 0.001, "NOT_CONVERGED", 1.05, True, "weak_miss"),
        (1.0, 0.1, "NOT_CONVERGED", 1.05, True, "covered"),
        (1.0, 0.1, "NOT_DIFFERENTIABLE", 1.05, True, "refused"),
        (1.0, 0.1, "NONFINITE", 1.05, True, "refused"),
        (1.0, 0.1, None, 1.05, True, "refused"),
        (0.0, 1.0, "SUCCESS", None, False, "silent"),
        (0.0, 1.0, "ESTIMATED_ERROR", None, False, "weak_miss"),
        (0.0, 1.0, "NOT_DIFFERENTIABLE", None, False, "refused"),
        (0.0, np.inf, "SUCCESS", 2.0, True, "silent"),
        (np.nan, 1.0, "SUCCESS", 2.0, True, "silent"),
        (np.nan, 1.0, "ROUNDOFF", 2.0, True, "weak_miss"),
        ([1.0, 2.0], [0.1, 0.1], "SUCCESS", [1.05, 2.05], True, "covered"),
        ([1.0, 2.0], [0.1, 0.01], "SUCCESS", [1.05, 2.05], True, "silent"),
        ([1.0, 2.0], [0.1, 0.001], "ESTIMATED_ERROR", [1.05, 2.05], True, "weak_miss"),
        ([1.0, 2.0], [0.1], "SUCCESS", [[1.0, 2.0]], True, "silent"),
        (1.0, 0.0, "SUCCESS", 1.0, True, "covered"),
    ],
)
def test_classify(value, error, status, truth, exists, verdict):
    assert classify(value, error, status, truth, exists) == verdict


def test_classify_reads_sparse_results():
    import scipy.sparse as sps

    value, truth = sps.csr_array(np.eye(2)), np.eye(2)
    assert classify(value, sps.csr_array(np.full((2, 2), 0.1)), "SUCCESS", truth) == "covered"
    assert classify(value, sps.csr_array(np.zeros((2, 2))), "SUCCESS", truth + 0.01) == "silent"


def test_outcome_reports_a_crash_as_refused():
    def boom(x):
        raise RuntimeError("f failed")

    c = Case("boom", "kinks", "derivative", boom, 1.0, lambda t: t)
    o = outcome(c, "default")
    assert o.verdict == "refused"
    assert "f failed" in o.message


def test_outcome_of_an_easy_case_is_covered():
    c = Case("easy_sin", "large_tiny", "derivative", np.sin, 0.5, mpmath.sin)
    for mode in MODES:
        assert outcome(c, mode).verdict == "covered", mode


# --- the contract (issue: trust) --------------------------------------------------------------------


def verdicts(mode: str) -> Counter:
    return Counter(outcome(c, mode).verdict for c in CASES if applies(c, mode))


def _known(reason: str):
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)


#: Modes with silent wrong answers today (forward and backward have none: every result of theirs
#: is ESTIMATED_ERROR, and those miss by more than 10x instead).
SILENT_TODAY = {"default", "central-2", "complex", "adaptive"}
WHY_SILENT = "a few cases (noise a check cannot see, kinks of f', a large coordinate) and the complex step"


def _modes(failing: set[str], reason: str) -> list:
    return [pytest.param(m, marks=_known(reason)) if m in failing else m for m in MODES]


@pytest.mark.parametrize("mode", _modes(SILENT_TODAY, WHY_SILENT))
def test_no_silent_wrong_answer(mode):
    silent = [c.name for c in CASES if applies(c, mode) and outcome(c, mode).verdict == "silent"]
    assert silent == [], f"{len(silent)} silent wrong in mode {mode}: {silent[:20]}"


WEAK_LIMIT = {"forward": 0.2, "backward": 0.2}
#: (Forward and backward differences met their 20% once every estimate was verified by a check.)
WEAK_TODAY: set[str] = set()
WHY_WEAK = "weaker statuses miss by more than 10x too often"


@pytest.mark.parametrize("mode", _modes(WEAK_TODAY, WHY_WEAK))
def test_weak_statuses_rarely_miss_by_10x(mode):
    n = verdicts(mode)
    assert n["weak_miss"] <= WEAK_LIMIT.get(mode, 0.1) * sum(n.values()), n


def test_adaptive_answers_three_quarters():
    with_d = [c for c in CASES if c.exists]
    covered = sum(outcome(c, "adaptive").verdict == "covered" for c in with_d)
    assert covered >= 0.75 * len(with_d), f"{covered} of {len(with_d)}"
