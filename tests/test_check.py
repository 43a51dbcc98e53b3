"""Gradient and Jacobian checking: verdicts, the report, kinks, the directional mode, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import dfdx
from dfdx import CheckReport

from .check_problems import CHECK_PROBLEMS, JACOBIAN_PROBLEMS, analytic_gradient


def loss(w):
    return (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2


def loss_grad(w):
    return np.array([10 * w[0] + 10 * w[1] - 22, 10 * w[0] + 20 * w[1] - 28])


# -- the seed examples --------------------------------------------------------------


def test_seed_tutorial_gradient_passes_and_reports_digits():
    report = dfdx.check_gradient(loss, loss_grad, [1.0, 1.0])
    assert isinstance(report, CheckReport)
    assert report.passed and report.verdict == "pass" and bool(report)
    assert report.mismatches == () and report.nondifferentiable == ()
    assert report.nfev == report.nfev_full == 13 and report.ngrad == 1
    assert all(e.status == "ok" and e.digits > 11 for e in report.entries)
    assert {e.index for e in report.entries} == {(0,), (1,)}


def test_seed_answer_gradient():
    g = lambda x: x[0] ** 2 + np.sin(x[1])  # noqa: E731
    assert dfdx.check_gradient(g, lambda x: np.array([2 * x[0], np.cos(x[1])]), [1.0, 2.0]).passed
    report = dfdx.check_gradient(g, lambda x: np.array([2 * x[0], np.sin(x[1])]), [1.0, 2.0])
    assert report.mismatches == ((1,),)


# -- zero false failures on correct gradients ---------------------------------------


#: Correct gradients that cannot be verified numerically: sin at x = 1e6 in float32, where
#: x's own spacing (0.0625) leaves no step at which the derivative shows to a tenth.
#: Entries float32 cannot resolve: sin at 1e6, and Himmelblau's gradient of ~0.05 next to
#: values of ~100 (an honest numerical error of ~0.03 there: an entry that loose is not a pass).
UNVERIFIABLE = {np.float64: set(), np.float32: {"sin_large_x", "himmelblau"}}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["full", "directional"])
def test_no_false_failures_on_the_bank(dtype, mode):
    assert len(CHECK_PROBLEMS) >= 30
    failures = []
    for p in CHECK_PROBLEMS:
        x = p.x.astype(dtype)
        grad = analytic_gradient(p)
        assert grad(x).dtype == dtype
        for seed in range(3 if mode == "directional" else 1):
            report = dfdx.check_gradient(p.f, grad, x, mode=mode, seed=seed)
            inconclusive = report.verdict == "inconclusive" and p.name in UNVERIFIABLE[dtype]
            if not (report.passed or inconclusive):
                failures.append(f"{p.name} seed {seed}:\n{report}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["full", "directional"])
def test_no_false_failures_on_jacobians(dtype, mode):
    for q in JACOBIAN_PROBLEMS:
        report = dfdx.check_jacobian(q.f, q.jac, q.x.astype(dtype), mode=mode, seed=3)
        assert report.passed, str(report)
        assert report.shape == q.jac(q.x).shape and report.kind == "jacobian"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-3, 3), min_size=3, max_size=3), st.integers(0, 2), st.sampled_from([1e-3, -0.5, 2.0])
)
@example([-2.0, 0.0, 1.8e-13], 2, 1e-3)  # an entry of 1e-25 beside f's rounding: unverifiable
def test_random_points_correct_passes_and_planted_bug_is_caught(point, k, factor):
    f = lambda x: np.exp(0.3 * x[0]) * np.sin(x[1]) + x[2] ** 3 * x[0] - np.log1p(x[1] ** 2)  # noqa: E731

    def grad(x):
        return np.array(
            [
                0.3 * np.exp(0.3 * x[0]) * np.sin(x[1]) + x[2] ** 3,
                np.exp(0.3 * x[0]) * np.cos(x[1]) - 2 * x[1] / (1 + x[1] ** 2),
                3 * x[2] ** 2 * x[0],
            ]
        )

    x = np.array(point)
    report = dfdx.check_gradient(f, grad, x)
    # A correct gradient never fails; an entry far below f's rounding at x (x[2] ** 2 * x[0]
    # at x[2] ~ 1e-13) may only be unverifiable, and the report then says so.
    assert report.verdict in ("pass", "inconclusive"), str(report)
    unverified = {e.index for e in report.entries if e.status == "inconclusive"}
    assert report.passed or unverified <= {(2,)}, str(report)

    def wrong(x):
        g = grad(x)
        g[k] = g[k] * (1 + factor) + (factor if abs(g[k]) < 1e-3 else 0.0)
        return g

    report = dfdx.check_gradient(f, wrong, x)
    assert report.verdict == "fail" and report.mismatches == ((k,),), str(report)


# -- the report ------------------------------------------------------------------------


def test_report_text_and_dict():
    report = dfdx.check_gradient(loss, lambda w: loss_grad(w) * [1, 1.001], [1.0, 1.0])
    text = str(report)
    assert text.startswith("Gradient check FAILED: 1 of 2 entries disagree")
    for label in (
        "analytic",
        "numerical",
        "abs error",
        "rel error",
        "tolerance",
        "digits",
        "MISMATCH",
        "error estimate",
        "eps = 2.2e-16 for float64",
        "a full check takes 13",
    ):
        assert label in text
    worst = report.entries[0]
    assert worst.index == (1,) and worst.status == "mismatch"
    assert worst.analytic == pytest.approx(2.002) and worst.numerical == pytest.approx(2.0, rel=1e-10)
    assert worst.abs_error == pytest.approx(0.002) and worst.rel_error == pytest.approx(0.002 / 2.002)
    assert worst.digits == pytest.approx(-np.log10(0.002 / 2.002), abs=0.01)
    assert worst.ratio > 1e6
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["passed"] is False and data["mismatches"] == [[1]]
    assert data["entries"][0]["status"] == "mismatch" and "ratio" in data["entries"][0]
    assert "CheckReport(passed=False" in repr(report)


def test_report_lists_at_most_show_entries_but_keeps_all_failures():
    n = 50
    report = dfdx.check_gradient(
        lambda x: np.sum(x**2), lambda x: 2 * x + (np.arange(n) < 12), np.ones(n), show=3
    )
    assert len(report.mismatches) == 12 and len(report.entries) == 12 + 3
    assert str(report).count("MISMATCH") == 3
    quiet = dfdx.check_gradient(lambda x: np.sum(x**2), lambda x: 2 * x, np.ones(n), show=4)
    assert len(quiet.entries) == 4


def test_tolerance_explained_and_scalable():
    bug = lambda w: loss_grad(w) * (1 + 1e-9)  # noqa: E731
    assert not dfdx.check_gradient(loss, bug, [1.0, 1.0]).passed
    # loss is a quadratic evaluated exactly at (1, 1): the estimate is a few ulps.
    assert dfdx.check_gradient(loss, bug, [1.0, 1.0], tolerance_factor=1e6).passed
    assert dfdx.check_gradient(loss, bug, [1.0, 1.0], rtol=1e-8).passed
    assert dfdx.check_gradient(loss, bug, [1.0, 1.0], atol=1e-7).passed
    fixed = dfdx.check_gradient(loss, bug, [1.0, 1.0], tolerance_factor=0, atol=1e-7)
    assert fixed.passed and "atol 1e-07" in fixed.tolerance
    tight = dfdx.check_gradient(loss, loss_grad, [1.0, 1.0], tolerance_factor=0.5)
    loose = dfdx.check_gradient(loss, loss_grad, [1.0, 1.0], tolerance_factor=4)
    assert tight.entries[0].tolerance < loose.entries[0].tolerance
    assert tight.tolerance.startswith("0.5 x (dfdx's error estimate")


def test_float32_precision_from_grad_or_dtype_option():
    """f computing in float32 but returning Python floats: the precision comes from grad or `dtype`."""
    c = np.float32(0.1)
    f = lambda x: float(np.sum(np.sin(x.astype(np.float32) * c) * np.float32(3)))  # noqa: E731
    g32 = lambda x: (np.float32(3) * c * np.cos(x.astype(np.float32) * c)).astype(np.float32)  # noqa: E731
    g64 = lambda x: 0.3 * np.cos(0.1 * x)  # noqa: E731
    x = np.linspace(-2.0, 3.0, 6)
    report = dfdx.check_gradient(f, g32, x)
    assert report.passed and report.dtype == "float32", str(report)
    assert dfdx.check_gradient(f, g64, x, dtype=np.float32).passed
    assert dfdx.check_gradient(f, g64, x, dtype="float32").dtype == "float32"


def test_args_vectorized_and_scalar_x():
    f = lambda x, a: a * np.sum(x**2, axis=0)  # noqa: E731
    g = lambda x, a: 2 * a * x  # noqa: E731
    assert dfdx.check_gradient(f, g, [1.0, 2.0], args=(3.0,)).passed
    assert dfdx.check_gradient(f, g, [1.0, 2.0], args=(3.0,), vectorized=True).passed
    vec = dfdx.check_gradient(
        f, g, np.linspace(0, 1, 40), args=(3.0,), vectorized=True, mode="directional", seed=2
    )
    assert vec.passed
    assert dfdx.check_gradient(np.sin, np.cos, 0.5).passed
    assert dfdx.check_gradient(np.sin, np.sin, 0.5).mismatches == ((),)


# -- Jacobians ------------------------------------------------------------------------


def test_jacobian_mismatch_is_located():
    q = JACOBIAN_PROBLEMS[1]

    def wrong(x):
        j = q.jac(x)
        j[2, 1] *= -1
        return j

    for mode in ("full", "directional"):
        report = dfdx.check_jacobian(q.f, wrong, q.x, mode=mode, seed=0)
        assert report.mismatches == ((2, 1),), str(report)
        assert str(report).startswith("Jacobian check FAILED")


# -- kinks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "grad", "x", "coords"),
    [
        (lambda x: np.sum(np.maximum(x, 0)), lambda x: (x > 0) * 1.0, [0.0, 1.0, -2.0], (0,)),
        (lambda x: np.sum(np.abs(x)), np.sign, [0.5, 0.0, 0.0], (1, 2)),
        (lambda x: np.max(x), lambda x: np.array([1.0, 0.0, 0.0]), [2.0, 2.0, 1.0], (0, 1)),
    ],
    ids=["relu", "abs", "max_ties"],
)
def test_kinks_are_reported_not_called_wrong(f, grad, x, coords):
    report = dfdx.check_gradient(f, grad, x)
    assert report.verdict == "not differentiable" and not report.passed
    assert report.mismatches == () and report.nondifferentiable == coords
    assert "not differentiable at x along coordinate(s)" in str(report)
    assert "INCONCLUSIVE" in str(report) and "kinks='accept'" in str(report)
    accepted = dfdx.check_gradient(f, grad, x, kinks="accept")
    assert accepted.passed, str(accepted)
    assert {e.index[0] for e in accepted.entries if e.status == "kink accepted"} == set(coords)
    slopes = [e.slopes for e in accepted.entries if e.status == "kink accepted"]
    assert all(s is not None and s[0] != s[1] for s in slopes)


def test_kink_accept_rejects_values_outside_the_slopes_and_other_bugs_still_fail():
    relu = lambda x: np.sum(np.maximum(x, 0)) + x[1] ** 2  # noqa: E731
    outside = dfdx.check_gradient(relu, lambda x: np.array([3.0, 2 * x[1] + 1]), [0.0, 1.0], kinks="accept")
    assert outside.verdict == "fail" and outside.mismatches == ((0,),)
    both = dfdx.check_gradient(relu, lambda x: np.array([0.0, 3 * x[1] + 1]), [0.0, 1.0])
    assert both.verdict == "fail" and both.mismatches == ((1,),) and both.nondifferentiable == (0,)


def test_kink_found_in_directional_mode():
    f = lambda x: np.sum(np.abs(x - 0.5))  # noqa: E731
    x = np.linspace(0, 1, 33)  # x[16] == 0.5
    report = dfdx.check_gradient(f, lambda x: np.sign(x - 0.5), x, mode="directional", seed=4)
    assert report.verdict == "not differentiable" and report.nondifferentiable == (16,), str(report)
    assert report.nfev < report.nfev_full


# -- the directional mode ----------------------------------------------------------------


def _big_problem(n=1000):
    rng = np.random.default_rng(1)
    c = rng.standard_normal(n)
    x = rng.uniform(-1, 1, n)
    f = lambda x: np.log(np.sum(np.exp(x))) + 0.5 * np.sum(c * x**2) + np.sum(np.sin(x))  # noqa: E731

    def grad(x):
        e = np.exp(x)
        return e / e.sum() + c * x + np.cos(x)

    return f, grad, x


@pytest.mark.parametrize("seed", range(5))
def test_directional_finds_one_wrong_component_among_1000(seed):
    f, grad, x = _big_problem()

    def wrong(x):
        g = grad(x)
        g[417] *= 1 + 1e-4
        return g

    report = dfdx.check_gradient(f, wrong, x, mode="directional", directions=3, seed=seed)
    assert report.verdict == "fail" and report.mismatches == ((417,),), str(report)
    assert report.seed == seed and len(report.directions) == 3
    assert report.nfev < report.nfev_full / 40, (report.nfev, report.nfev_full)
    assert f"a full check takes {report.nfev_full}" in str(report) and "seed" in str(report)
    one = dfdx.check_gradient(f, wrong, x, mode="directional", directions=1, seed=seed)
    assert one.mismatches == ((417,),)


def test_directional_correct_costs_two_evaluations_per_direction_and_reports_seed():
    f, grad, x = _big_problem()
    report = dfdx.check_gradient(f, grad, x, mode="directional", directions=3)
    assert report.passed and isinstance(report.seed, int) and "seed" in str(report)
    # With a drawn seed a direction's check may need a shorter step (4 more evaluations);
    # with this one none does.
    fixed = dfdx.check_gradient(f, grad, x, mode="directional", directions=3, seed=1)
    assert fixed.passed and fixed.nfev == 1 + 3 * 4  # two, and the check's two
    again = dfdx.check_gradient(f, grad, x, mode="directional", seed=report.seed)
    assert [d.numerical for d in again.directions] == [d.numerical for d in report.directions]


def test_directional_gradient_wrong_everywhere_falls_back_to_checking_coordinates():
    n = 64
    f = lambda x: np.sum(np.sin(x))  # noqa: E731
    report = dfdx.check_gradient(
        f, lambda x: np.cos(x + 1e-3), np.linspace(0, 1, n), mode="directional", seed=0
    )
    assert report.verdict == "fail" and len(report.mismatches) == n
    full = dfdx.check_gradient(f, lambda x: np.cos(x + 1e-3), np.linspace(0, 1, n))
    assert full.mismatches == report.mismatches
    assert report.nfev <= full.nfev + 200  # the directions (with their checks), then the coordinates


# -- assert_gradient --------------------------------------------------------------------


def test_assert_gradient():
    assert dfdx.assert_gradient(loss, loss_grad, [1.0, 1.0]).passed
    with pytest.raises(AssertionError, match=r"(?s)Gradient check FAILED: 2 of 2 .*MISMATCH"):
        dfdx.assert_gradient(loss, lambda w: -loss_grad(w), [1.0, 1.0])
    with pytest.raises(AssertionError, match="INCONCLUSIVE"):
        dfdx.assert_gradient(lambda x: abs(x), np.sign, 0.0)


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"mode": "fast"}, ValueError, "`mode` must be 'full' or 'directional', got 'fast'"),
        ({"directions": 0}, ValueError, "`directions` must be an integer >= 1, got 0"),
        ({"directions": 2.5}, ValueError, "`directions` must be an integer >= 1"),
        ({"seed": -1}, ValueError, "`seed` must be an integer >= 0"),
        ({"show": -1}, ValueError, "`show` must be an integer >= 0"),
        ({"tolerance_factor": -1.0}, ValueError, "`tolerance_factor` must be a finite number >= 0"),
        ({"tolerance_factor": np.inf}, ValueError, "`tolerance_factor` must be a finite number >= 0"),
        ({"rtol": -1e-3}, ValueError, "`rtol` must be a finite number >= 0"),
        ({"atol": "1e-3"}, ValueError, "`atol` must be a finite number >= 0"),
        ({"tolerance_factor": 0}, ValueError, "leaves a zero tolerance"),
        ({"kinks": "ignore"}, ValueError, "`kinks` must be 'report' or 'accept'"),
        ({"dtype": np.int32}, ValueError, "`dtype` must be a floating dtype"),
        ({"dtype": "nonsense"}, TypeError, "`dtype` must be None or a floating dtype"),
        ({"method": "sideways"}, ValueError, "`method` must be one of"),
        ({"accuracy": 3}, ValueError, "`accuracy` must be an even integer"),
        ({"step": -1.0}, ValueError, "`step` must be positive"),
    ],
)
def test_bad_options(options, error, match):
    with pytest.raises(error, match=match):
        dfdx.check_gradient(loss, loss_grad, [1.0, 1.0], **options)


def test_bad_functions_and_points():
    with pytest.raises(TypeError, match="`f` must be a callable"):
        dfdx.check_gradient(None, loss_grad, [1.0, 1.0])
    with pytest.raises(TypeError, match="`grad` must be a callable"):
        dfdx.check_gradient(loss, [1.0, 2.0], [1.0, 1.0])
    with pytest.raises(TypeError, match="`jac` must be a callable"):
        dfdx.check_jacobian(loss, None, [1.0, 1.0])
    with pytest.raises(ValueError, match=r"`grad` returned shape \(3,\), expected x's shape \(2,\)"):
        dfdx.check_gradient(loss, lambda w: np.zeros(3), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"`grad` returned NaN or inf at x, at entries \[\(1,\)\]"):
        dfdx.check_gradient(loss, lambda w: np.array([1.0, np.nan]), [1.0, 1.0])
    with pytest.raises(TypeError, match="`grad` must return real numbers"):
        dfdx.check_gradient(loss, lambda w: np.array(["a", "b"]), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"`f` is not finite at x \(f\(x\) = nan\)"):
        dfdx.check_gradient(lambda x: np.log(x) if x > 0 else np.nan, lambda x: 1 / x, -1.0)
    with pytest.raises(ValueError, match="`f` must return a scalar for check_gradient"):
        dfdx.check_gradient(lambda x: x, lambda x: np.eye(2), [1.0, 2.0])
    with pytest.raises(ValueError, match="`x` must be finite"):
        dfdx.check_gradient(loss, loss_grad, [1.0, np.nan])
    point = lambda x: 0.0 if x == 0 else np.nan  # noqa: E731
    with pytest.raises(ValueError, match="`f` is not finite at the points around x along coordinate"):
        dfdx.check_gradient(point, lambda x: 0.0, 0.0)
    with pytest.raises(ValueError, match="`f` is not finite at the points around x along a random"):
        dfdx.check_gradient(point, lambda x: 0.0, 0.0, mode="directional")


def test_bad_outputs_of_f_and_grad():
    with pytest.raises(ValueError, match=r"vectorized `f` returned shape \(\) for a batch of one point"):
        dfdx.check_gradient(lambda x: 1.0, lambda x: np.zeros(2), [1.0, 2.0], vectorized=True)
    with pytest.raises(TypeError, match="`f` must return real numbers, but f\\(x\\) has dtype complex128"):
        dfdx.check_gradient(lambda x: 1j * x[0], lambda x: np.zeros(2), [1.0, 2.0])

    class Unconvertible:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("cannot leave the graph")

    with pytest.raises(
        TypeError,
        match="`grad` must return an array of numbers; converting its result "
        r"\(Unconvertible\) failed: cannot leave the graph",
    ):
        dfdx.check_gradient(loss, lambda w: Unconvertible(), [1.0, 1.0])


def test_complex_step_and_precision_cast_together():
    """f computing in float32 behind float64 output, checked with dtype=float32 and the complex step."""
    f = lambda x: np.sum(np.sin(x) * x)  # noqa: E731
    g = lambda x: np.cos(x) * x + np.sin(x)  # noqa: E731
    report = dfdx.check_gradient(f, g, [0.3, 1.2], method="complex", dtype=np.float32)
    assert report.passed and report.dtype == "float32", str(report)
    assert not dfdx.check_gradient(f, lambda x: g(x) * [1, 1.01], [0.3, 1.2], method="complex").passed


def test_transposed_jacobian_of_non_square_f_is_named():
    q = JACOBIAN_PROBLEMS[0]
    f3 = lambda x: np.array([x[0], x[1], x[0] * x[1]])  # noqa: E731
    j3 = lambda x: np.array([[1.0, 0.0], [0.0, 1.0], [x[1], x[0]]])  # noqa: E731
    assert dfdx.check_jacobian(f3, j3, q.x).passed
    with pytest.raises(
        ValueError,
        match=r"`jac` returned shape \(2, 3\), expected .* \(3, 2\)\. It looks "
        "transposed",
    ):
        dfdx.check_jacobian(f3, lambda x: j3(x).T, q.x)


# -- noise of f beyond dfdx's error model ------------------------------------------------


@pytest.mark.parametrize("vectorized", [False, True])
def test_cancellation_noise_in_f_is_measured_not_called_a_bug(vectorized):
    """Saturated tanh terms that cancel: f is ~1e-8, its rounding ~1e-16 absolute, far above
    eps |f|. The error model alone would flag the correct gradient; the measured noise does not."""
    f = lambda x: np.sum(np.tanh(x[:-1] - 2 * x[1:]), axis=0)  # noqa: E731

    def grad(x):
        s = 1 - np.tanh(x[:-1] - 2 * x[1:]) ** 2
        g = np.zeros_like(x)
        g[:-1] += s
        g[1:] -= 2 * s
        return g

    x = np.array([3.71250001, -3.72153027, 2.7414186])
    report = dfdx.check_gradient(f, grad, x, vectorized=vectorized)
    assert report.passed, str(report)
    assert any("noisier than that model" in note for note in report.notes)
    wrong = dfdx.check_gradient(f, lambda x: grad(x) * [1, 1, 1.5], x, vectorized=vectorized)
    assert wrong.mismatches == ((2,),), str(wrong)


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_matrix_shaped_x_and_jacobian_indices(mode):
    weights = np.arange(6.0).reshape(2, 3)
    f = lambda X: np.sum(np.sin(X) * weights)  # noqa: E731
    g = lambda X: np.cos(X) * weights  # noqa: E731
    X = np.linspace(0.1, 1.2, 6).reshape(2, 3)

    def bad(X):
        G = g(X)
        G[1, 2] *= 1.001
        return G

    assert dfdx.check_gradient(f, g, X, mode=mode, seed=0).passed
    assert dfdx.check_gradient(f, bad, X, mode=mode, seed=0).mismatches == ((1, 2),)
    F = lambda X: np.array([np.sum(X**2), X[0, 1] * X[1, 0]])  # noqa: E731
    J = lambda X: np.stack([2 * X, np.array([[0, X[1, 0], 0], [X[0, 1], 0, 0]])])  # noqa: E731
    assert dfdx.check_jacobian(F, J, X, mode=mode, seed=2).passed
    wrong = lambda X: J(X) * np.where(np.arange(12).reshape(2, 2, 3) == 7, 2, 1)  # noqa: E731
    assert dfdx.check_jacobian(F, wrong, X, mode=mode, seed=2).mismatches == ((1, 0, 1),)


# --- the numerical side's options: adaptive, max_steps, noise, progress ---------------------


def _sin_sum(x):
    return np.sum(np.sin(x))


@pytest.mark.parametrize("mode", ["full", "directional"])
@pytest.mark.parametrize(
    "options", [dict(adaptive=True), dict(adaptive=True, max_steps=4), dict(noise=1e-9), dict(noise="auto")]
)
def test_numerical_options_reach_the_front_ends(mode, options):
    x = np.array([0.3, 1.0, 2.0])
    report = dfdx.check_gradient(_sin_sum, np.cos, x, mode=mode, seed=1, **options)
    assert report.passed
    if mode == "full":
        # A full check costs at least f(x) and one jacobian call with the same options.
        assert report.nfev >= dfdx.jacobian(_sin_sum, x, f0=_sin_sum(x), **options).nfev + 1
    plain = dfdx.check_gradient(_sin_sum, np.cos, x, mode=mode, seed=1)
    assert report.nfev != plain.nfev
    wrong = dfdx.check_gradient(_sin_sum, lambda z: np.cos(z) * 1.001, x, mode=mode, seed=1, **options)
    assert not wrong.passed


def test_a_declared_noise_level_widens_the_tolerance():
    # The error estimates of the numerical side include the declared noise, and the
    # tolerances are built from them.
    x = np.array([0.5, 1.5])
    quiet = dfdx.check_gradient(_sin_sum, np.cos, x)
    noisy = dfdx.check_gradient(_sin_sum, np.cos, x, noise=1e-7)
    assert quiet.passed and noisy.passed
    by_index = lambda r: sorted(r.entries, key=lambda e: e.index)  # noqa: E731
    for a, b in zip(by_index(quiet), by_index(noisy), strict=True):
        assert b.tolerance > 10 * a.tolerance and b.numerical_error > 10 * a.numerical_error


def test_progress_shows_a_bar(capsys):
    dfdx.check_gradient(_sin_sum, np.cos, np.array([0.3, 1.0]), progress=True)
    assert "f evaluations" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        (dict(max_steps=5), ValueError, r"`max_steps` only applies to the adaptive mode"),
        (dict(adaptive=True, max_steps=2), ValueError, r"`max_steps` must be an integer >= 3, got 2"),
        (dict(adaptive="yes"), TypeError, r"`adaptive` must be True or False, got 'yes'"),
        (dict(progress=1), TypeError, r"`progress` must be True or False, got 1"),
        (dict(noise=-1.0), ValueError, r"`noise` must be a finite absolute noise level >= 0"),
    ],
)
def test_numerical_options_are_validated(options, error, match):
    with pytest.raises(error, match=match):
        dfdx.check_gradient(_sin_sum, np.cos, [0.3, 1.0], **options)


def test_the_report_says_which_entries_it_prints():
    """10 entries, one wrong: .entries holds it and 8 good ones, and the text says it prints 8 of 9."""
    a = np.arange(1.0, 11.0)

    def f(x):
        return float(np.sum(a * x**2))

    def grad(x):
        g = 2 * a * x
        g[7] *= 1.001
        return g

    report = dfdx.check_gradient(f, grad, np.linspace(0.5, 1.5, 10))
    assert len(report.entries) == 9
    text = str(report)
    assert "  worst entries (the first 8 of the 9 in .entries; show= prints more):" in text
    table = [line for line in text.split("show= prints more):\n")[1].splitlines() if line.startswith("    ")]
    assert len(table) == 1 + 8  # the header, 8 rows
    assert "worst entries:" in str(dfdx.check_gradient(f, grad, np.ones(10), show=20))


def test_a_failed_check_says_what_its_extra_evaluations_were_for():
    def loss(w):
        return (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2

    def bad_grad(w):
        return np.array([10 * w[0] + 10 * w[1] - 22, 5 * w[0] + 20 * w[1] - 28])

    report = dfdx.check_gradient(loss, bad_grad, [1.0, 1.0])
    extra = report.nfev - report.nfev_full
    assert extra > 0
    assert report.notes[0] == (
        "1 coordinate(s) that disagreed were differenced again before the verdict "
        f"(one-sided slopes, a finer step, f's noise): {extra} evaluations."
    )
    assert not dfdx.check_gradient(loss, lambda w: bad_grad(w) * 0 + [-2, 2], [1.0, 1.0]).notes


@pytest.mark.parametrize("x", [{"w": np.ones(2), "b": 1.0}, [np.ones(2), 1.0]])
def test_a_structure_of_parameters_gets_the_recipe(x):
    with pytest.raises(TypeError, match=r"check_gradient takes x as one array, .* dfdx\.trees\.ravel\(x\)"):
        dfdx.check_gradient(lambda p: 0.0, lambda p: p, x)
    with pytest.raises(TypeError, match=r"check_jacobian takes x as one array, .*its jacobian on the flat"):
        dfdx.check_jacobian(lambda p: 0.0, lambda p: p, x)
    with pytest.raises(TypeError, match=r"`x` must be numeric"):  # not a structure: no recipe
        dfdx.check_gradient(lambda p: 0.0, lambda p: p, "1, 2")
