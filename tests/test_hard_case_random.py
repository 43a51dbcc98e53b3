"""The random hard-case suite: its shape, its references, and the trust contract on it.

The references (mpmath derivatives of each formula's twin) are checked against closed forms
written out by hand per formula, each twin against its NumPy f (allowing for the rounding the
float64 formula cannot avoid), and each noisy f against its smooth twin plus at most its noise.
The acceptance tests at the end (0 silent wrong answers per mode, weak misses, the adaptive
answer rate) are marked strict ``xfail`` where dfdx does not meet them yet.
"""

import functools
import math
import time
from collections import Counter

import mpmath
import numpy as np
import pytest

from .hard_case_kit import Case, reference, twin_values
from .hard_case_random import FORMULAS, RANDOM_CASES, RANDOM_FAMILIES, describe, salted_unit
from .hard_case_random_closed import closed_form, twin_allowance
from .hard_case_random_families import random_cases
from .hard_cases import MODES, applies, outcome

BY_NAME = {c.name: c for c in RANDOM_CASES}
EPS = 2.0**-52


def test_suite_covers_the_kinds_of_trouble():
    assert len(RANDOM_CASES) >= 400
    families = Counter(c.family for c in RANDOM_CASES)
    assert set(families) == set(RANDOM_FAMILIES) and min(families.values()) >= 30
    assert {c.front for c in RANDOM_CASES} == {"derivative", "gradient", "jacobian", "hessian", "directional"}
    assert {c.n for c in RANDOM_CASES} == {1, 2, 3, 4, 5}
    assert sum(not c.exists for c in RANDOM_CASES) >= 10
    assert all(c.family == "kinks" for c in RANDOM_CASES if not c.exists)
    edges = [c for c in RANDOM_CASES if c.family == "edges"]
    assert 10 <= sum("bounds" in c.options for c in edges) <= len(edges) - 10
    steps = np.concatenate([np.ravel(c.options["step"]) for c in RANDOM_CASES if "step" in c.options])
    assert steps.min() < 1e-250 and steps.max() > 30
    assert any(c.options.get("vectorized") for c in RANDOM_CASES)


def test_parameters_span_the_ranges_asked_for():
    osc = [
        FORMULAS[c.name][1] | {"t": np.max(np.abs(c.x))} for c in RANDOM_CASES if c.family == "oscillation"
    ]
    a, t = np.array([p["a"] for p in osc]), np.array([p["t"] for p in osc])
    assert a.min() < 1e-4 and a.max() > 1e4 and t.min() < 1e-6 and t.max() > 1e8
    noise = Counter(c.note.split("; noise ")[1].split()[0] for c in RANDOM_CASES if c.family == "noise")
    assert set(noise) == {"float32", "quantised", "relative", "absolute"} and min(noise.values()) >= 5
    spreads = [int(c.name.rsplit("spread", 1)[1]) for c in RANDOM_CASES if c.family == "coord_scales"]
    assert max(spreads) >= 8
    kinks = [
        abs(float(np.ravel(c.x)[0]) - FORMULAS[c.name][1]["k"]) for c in RANDOM_CASES if c.family == "kinks"
    ]
    assert min(kinks) == 0.0 and 0 < sorted(k for k in kinks if k > 0)[0] < 1e-12 and max(kinks) > 1e-3
    offsets = [abs(p["C"]) for name, (_, p) in FORMULAS.items() if name.startswith("cancel_") and "C" in p]
    assert max(offsets) > 1e11


def test_suite_is_seeded():
    again = random_cases()
    assert [c.name for c in again] == [c.name for c in RANDOM_CASES]
    for a, b in zip(again, RANDOM_CASES, strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        assert a.options.keys() == b.options.keys() and a.note == b.note


def test_references_build_fast():
    start = time.perf_counter()
    for c in RANDOM_CASES:
        reference(c)
    assert time.perf_counter() - start < 10.0


@pytest.mark.parametrize("c", [c for c in RANDOM_CASES if c.exists], ids=lambda c: c.name)
def test_reference_is_finite_and_shaped(c):
    x = np.shape(c.x)
    shape = {"hessian": x + x, "directional": ()}.get(c.front, x)
    if c.front == "jacobian":
        shape = (len(c.ref(list(np.asarray(c.x)))),) + x
    assert c.truth.shape == shape
    assert np.all(np.isfinite(c.truth))


WITH_CLOSED_FORM = [c for c in RANDOM_CASES if c.exists and closed_form(c) is not None]


def test_most_references_have_a_closed_form_check():
    assert len(WITH_CLOSED_FORM) >= 0.7 * sum(c.exists for c in RANDOM_CASES)
    assert {c.family for c in WITH_CLOSED_FORM} == set(RANDOM_FAMILIES)


@pytest.mark.parametrize("c", WITH_CLOSED_FORM, ids=lambda c: c.name)
def test_reference_against_closed_form(c):
    with mpmath.workdps(40):
        expected = np.asarray(closed_form(c), dtype=float)
    np.testing.assert_allclose(c.truth, expected, rtol=1e-12, atol=1e-300, err_msg=describe(c))


@pytest.mark.parametrize(
    "c", [c for c in RANDOM_CASES if c.exists and c.family != "noise"], ids=lambda c: c.name
)
def test_twin_is_the_same_function(c):
    """f and its mpmath twin agree up to the rounding the float64 formula cannot avoid."""
    got, ref = twin_values(c)
    expr, p = FORMULAS[c.name]
    tol = 1e-9 * np.abs(ref) + twin_allowance(expr, p, np.asarray(c.x, dtype=float), ref) + 1e-300
    assert np.all(np.abs(got - ref) <= tol), describe(c)


NOISY = [c for c in RANDOM_CASES if c.family == "noise"]


def _noise_bound(c: Case, ref: np.ndarray) -> np.ndarray:
    kind, level = c.note.split("; noise ")[1].split()[:2]
    q, size = float(level), 1 + np.abs(ref)
    if kind == "quantised":
        return q / 2 + 64 * EPS * size
    if kind == "relative":
        return q * np.abs(ref) + 64 * EPS * size
    if kind == "absolute":
        return q + 64 * EPS * size
    scale = 1 + max(abs(v) for v in FORMULAS[c.name][1].values()) if FORMULAS[c.name][1] else 1.0
    return 1e-5 * size * (1 + np.max(np.abs(c.x))) * scale


@pytest.mark.parametrize("c", NOISY, ids=lambda c: c.name)
def test_noisy_f_is_its_twin_plus_at_most_its_noise(c):
    got, ref = twin_values(c)
    assert np.all(np.abs(got - ref) <= _noise_bound(c, ref)), describe(c)


def test_noise_is_there():
    differ = sum(not np.array_equal(*twin_values(c)) for c in NOISY)
    assert differ >= 0.9 * len(NOISY)


def test_salted_noise_is_deterministic_and_spread():
    x = 1.0 + np.arange(2000) * 2.0**-52
    u = salted_unit(x, 7)
    np.testing.assert_array_equal(u, salted_unit(x.copy(), 7))
    assert u.min() >= -1 and u.max() < 1 and abs(u.mean()) < 0.05 and 0.5 < u.std() < 0.65
    assert np.mean(u == salted_unit(x, 8)) < 0.01
    assert np.shape(salted_unit(1.0, 3)) == ()


def test_describe_reproduces_a_case():
    c = BY_NAME[next(n for n in BY_NAME if n.startswith("step_"))]
    line = describe(c)
    assert line.startswith("derivative(f = ") and f"x={c.x!r}" in line and "step=" in line
    assert repr(c.options["step"]) in line
    assert math.isclose(float(line.split("step=")[1].split(",")[0].rstrip(")")), c.options["step"])


# --- the contract (issue: trust), on cases the numerics were not tuned to --------------------------


@functools.cache
def verdicts(mode: str) -> dict[str, str]:
    return {c.name: outcome(c, mode).verdict for c in RANDOM_CASES if applies(c, mode)}


def _known(reason: str):
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)


def _modes(failing: set[str], reason: str) -> list:
    return [pytest.param(m, marks=_known(reason)) if m in failing else m for m in MODES]


SILENT_TODAY = {"default", "central-2", "complex", "adaptive"}
WHY_SILENT = "steps sized by |x|, and an error model blind to aliasing, noise, cancellation and kinks"


@pytest.mark.parametrize("mode", _modes(SILENT_TODAY, WHY_SILENT))
def test_no_silent_wrong_answer(mode):
    silent = sorted(k for k, v in verdicts(mode).items() if v == "silent")
    assert silent == [], f"{len(silent)} silent wrong in mode {mode}: {silent[:20]}"


WEAK_LIMIT = {"forward": 0.2, "backward": 0.2}
WEAK_TODAY: set[str] = set()
WHY_WEAK = "ESTIMATED_ERROR bars that miss by more than 10x"


@pytest.mark.parametrize("mode", _modes(WEAK_TODAY, WHY_WEAK))
def test_weak_statuses_rarely_miss_by_10x(mode):
    n = Counter(verdicts(mode).values())
    assert n["weak_miss"] <= WEAK_LIMIT.get(mode, 0.1) * sum(n.values()), n


def test_adaptive_answers_three_quarters():
    with_d = [c.name for c in RANDOM_CASES if c.exists]
    covered = sum(verdicts("adaptive")[k] == "covered" for k in with_d)
    assert covered >= 0.75 * len(with_d), f"{covered} of {len(with_d)}"
