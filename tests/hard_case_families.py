"""The hard cases, family by family (see ``tests/hard_cases.py`` for what a case is).

Most formulas are written once as ``F(m, x)`` and run both as NumPy (``m = np``) and as
mpmath (``m = MP``) for the reference. The noisy, quantised and float32 cases pair a NumPy f
with the smooth function it approximates. Points are float64 literals, so the reference is
at the exact point dfdx sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np

from .hard_case_families2 import cancellation, higher, noise, scales, user_steps
from .hard_case_kit import MP, Case, case

INF = float("inf")


def kink(name: str, front: str, f: Callable[[Any], Any], x: Any, **kw: Any) -> Case:
    """A case where f has no derivative at x."""
    fields = {k: kw.pop(k) for k in ("v", "note") if k in kw}
    return Case(name, "kinks", front, f, x, None, options=kw, analytic=False, **fields)


def large_tiny() -> list[Case]:
    fam, d = "large_tiny", "derivative"
    out = [case(f"sin_at_{x:g}", fam, d, lambda m, t: m.sin(t), x) for x in (3e4, 1e5, 1e6, 1e7, 1e8)]
    out += [
        case("cos_at_1e6+0.3", fam, d, lambda m, t: m.cos(t), 1e6 + 0.3),
        case("sinc_at_1e6", fam, d, lambda m, t: m.sin(t) / t, 1e6),
        case("daily_cycle_unix", fam, d, lambda m, t: m.sin(2 * m.pi * t / 86400), 1.7e9),
        case("daily_cycle_unix_b", fam, d, lambda m, t: m.cos(2 * m.pi * t / 86400), 1733450000.0),
        case("weekly_cycle_unix", fam, d, lambda m, t: m.sin(2 * m.pi * t / 604800) ** 2, 1.72e9),
        case("hourly_decay_unix", fam, d, lambda m, t: m.exp(-(((t - 1.7e9) / 3600) ** 2)), 1.7e9 + 2000),
        case("exp_at_700", fam, d, lambda m, t: m.exp(t), 700.0),
        case("exp_neg_at_700", fam, d, lambda m, t: m.exp(-t), 700.0),
        case("exp_scaled_at_1e4", fam, d, lambda m, t: m.exp(t / 200), 1e4),
        case("log_at_1e9", fam, d, lambda m, t: m.log(t), 1e9),
        case("log_at_1e300", fam, d, lambda m, t: m.log(t), 1e300),
        case("sqrt_at_1e18", fam, d, lambda m, t: m.sqrt(t), 1e18),
        case("cube_at_1e9", fam, d, lambda m, t: t**3, 1e9),
        case("sin_tiny_scale", fam, d, lambda m, t: m.sin(t / 1e-7), 2e-7),
        case("gauss_tiny_width", fam, d, lambda m, t: m.exp(-((t / 1e-4) ** 2)), 5e-5),
        case("atan_steep_tiny", fam, d, lambda m, t: m.arctan(t * 1e8), 1e-9),
        case("square_at_1e-8", fam, d, lambda m, t: t**2, 1e-8),
        case("exp_decay_1e-8", fam, d, lambda m, t: m.exp(-t / 1e-8), 2e-8),
        case("sin_tiny_arg_array", fam, d, lambda m, t: m.sin(t / 1e-6), np.array([1e-7, 5e-7, 2e-6])),
        case("large_x_array", fam, d, lambda m, t: m.sin(t), np.array([1e3, 1e5, 1e7])),
        case(
            "grad_vectorized_large",
            fam,
            "gradient",
            lambda m, x: m.sin(x[0]) * m.cos(x[1]),
            np.array([1e5, 2e5]),
            vectorized=True,
        ),
        case("grad_sin_large", fam, "gradient", lambda m, x: m.sin(x[0]) * m.cos(x[1]), np.array([1e6, 3e5])),
        case(
            "grad_tiny_coords",
            fam,
            "gradient",
            lambda m, x: m.cos(x[0] / 1e-6) + x[1] ** 2 / 1e-12,
            np.array([3e-7, 2e-6]),
        ),
    ]
    return out


def oscillation() -> list[Case]:
    fam, d = "oscillation", "derivative"
    return [
        case("sin_t2_at_300.25", fam, d, lambda m, t: m.sin(t**2), 300.25),
        case("sin_t2_at_30.5", fam, d, lambda m, t: m.sin(t**2), 30.5),
        case("sin_t2_at_1000.1", fam, d, lambda m, t: m.sin(t**2), 1000.1),
        case("sin_t3_at_20", fam, d, lambda m, t: m.sin(t**3), 20.0),
        case("sin_inv_at_0.01", fam, d, lambda m, t: m.sin(1 / t), 0.01),
        case("sin_inv_at_0.003", fam, d, lambda m, t: m.sin(1 / t), 0.003),
        case("tanh_100x_at_0", fam, d, lambda m, t: m.tanh(100 * t), 0.0),
        case("tanh_100x_at_0.01", fam, d, lambda m, t: m.tanh(100 * t), 0.01),
        case("tanh_100x_at_0.03", fam, d, lambda m, t: m.tanh(100 * t), 0.03),
        case("tanh_1e4x_at_1e-4", fam, d, lambda m, t: m.tanh(1e4 * t), 1e-4),
        case("pole_1.001", fam, d, lambda m, t: 1 / (t - 1), 1.001),
        case("pole_1.00001", fam, d, lambda m, t: 1 / (t - 1), 1.00001),
        case("pole_below_0.9999", fam, d, lambda m, t: 1 / (t - 1), 0.9999),
        case("complex_poles_near", fam, d, lambda m, t: 1 / (t**2 + 1e-8), 1e-4),
        case("runge_narrow", fam, d, lambda m, t: 1 / (1 + (t / 1e-3) ** 2), 2e-3),
        case("tan_near_pi_2", fam, d, lambda m, t: m.tan(t), 1.5707),
        case("damped_cos_50", fam, d, lambda m, t: m.cos(50 * t) * m.exp(-t), 1.0),
        case("exp_sin_100", fam, d, lambda m, t: m.exp(m.sin(100 * t)), 0.3),
        case("inv_sqrt_near_root", fam, d, lambda m, t: 1 / m.sqrt(t - 0.99), 1.0),
        case("log_near_root", fam, d, lambda m, t: m.log(t - 0.999), 1.0),
        case("chirp_array", fam, d, lambda m, t: m.sin(t**2), np.array([10.0, 100.5, 300.25])),
        case("sin_t2_n2", fam, d, lambda m, t: m.sin(t**2), 10.0, n=2),
        case(
            "dir_oscillating",
            fam,
            "directional",
            lambda m, x: m.sin(x[0] * x[1]),
            np.array([300.0, 20.0]),
            v=np.array([1.0, 1.0]),
        ),
        case(
            "jac_oscillating",
            fam,
            "jacobian",
            lambda m, x: [m.sin(x[0] * x[1]), m.cos(x[0] + x[1])],
            np.array([30.0, 40.0]),
        ),
        case(
            "grad_steep_tanh",
            fam,
            "gradient",
            lambda m, x: m.tanh(200 * (x[0] - x[1])),
            np.array([0.5, 0.499]),
        ),
        case("hess_pole_near", fam, "hessian", lambda m, x: 1 / (x[0] + x[1] - 1), np.array([0.5, 0.5001])),
    ]


def _boxed_exp(x: Any) -> Any:
    """exp on [0, 2], NaN outside: an f that knows its own domain."""
    x = np.asarray(x)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where((x >= 0) & (x <= 2), np.exp(x), np.nan)


def _boxed(name: str, x: Any, **kw: Any) -> Case:
    return Case(name, "edges", "derivative", _boxed_exp, x, MP.exp, options=kw, analytic=False)


def edges() -> list[Case]:
    fam, d = "edges", "derivative"
    pos, unit = (0.0, INF), (-1.0, 1.0)
    out = []
    for x in (1e-3, 1e-5, 1e-8):
        out += [
            case(f"log_at_{x:g}_bounds", fam, d, lambda m, t: m.log(t), x, bounds=pos),
            case(f"log_at_{x:g}", fam, d, lambda m, t: m.log(t), x),
        ]
    for x in (1e-6, 1e-10):
        out += [
            case(f"sqrt_at_{x:g}_bounds", fam, d, lambda m, t: m.sqrt(t), x, bounds=pos),
            case(f"sqrt_at_{x:g}", fam, d, lambda m, t: m.sqrt(t), x),
        ]
    out += [
        case("xlogx_at_1e-6_bounds", fam, d, lambda m, t: t * m.log(t), 1e-6, bounds=pos),
        case("xlogx_at_1e-6", fam, d, lambda m, t: t * m.log(t), 1e-6),
        case("x_pow_1.5_at_1e-6_bounds", fam, d, lambda m, t: t**1.5, 1e-6, bounds=pos),
        case("x_pow_0.3_at_1e-4_bounds", fam, d, lambda m, t: t**0.3, 1e-4, bounds=pos),
        case("x_pow_2.5_at_1e-5", fam, d, lambda m, t: t**2.5, 1e-5, bounds=pos),
        case("x_pow_-0.5_at_1e-6", fam, d, lambda m, t: t**-0.5, 1e-6, bounds=pos),
        case("asin_near_1_bounds", fam, d, lambda m, t: m.arcsin(t), 1 - 1e-6, bounds=unit),
        case("asin_near_1", fam, d, lambda m, t: m.arcsin(t), 1 - 1e-6),
        case("asin_nearer_1_bounds", fam, d, lambda m, t: m.arcsin(t), 1 - 1e-9, bounds=unit),
        case("acos_near_-1_bounds", fam, d, lambda m, t: m.arccos(t), -1 + 1e-7, bounds=unit),
        case("acosh_near_1", fam, d, lambda m, t: m.arccosh(t), 1 + 1e-7, bounds=(1.0, INF)),
        case("log1p_near_-1", fam, d, lambda m, t: m.log1p(t), -1 + 1e-6, bounds=(-1.0, INF)),
        case("circle_near_1", fam, d, lambda m, t: m.sqrt(1 - t**2), 0.999999, bounds=unit),
    ]
    return out + edges_at_bounds() + edges_multivariate()


def edges_at_bounds() -> list[Case]:
    """At a bound, arrays across a domain, f NaN outside a box; gradients, Jacobians, Hessians."""
    fam, d = "edges", "derivative"
    pos = (0.0, INF)
    return [
        case("square_at_bound_0", fam, d, lambda m, t: t**2, 0.0, bounds=(0.0, 1.0)),
        case("exp_at_bound_0", fam, d, lambda m, t: m.exp(t), 0.0, bounds=(0.0, 1.0)),
        case("log_at_bound_1", fam, d, lambda m, t: m.log(t), 1.0, bounds=(1.0, 2.0)),
        case("sin_upper_bound", fam, d, lambda m, t: m.sin(t), 2.0, bounds=(-INF, 2.0)),
        case(
            "exp_array_bounds",
            fam,
            d,
            lambda m, t: m.exp(t),
            np.array([0.1, 1.0]),
            bounds=(np.zeros(2), np.full(2, 2.0)),
        ),
        case(
            "log_logspace_bounds_vec",
            fam,
            d,
            lambda m, t: m.log(t),
            np.logspace(-8, 2, 11),
            bounds=pos,
            vectorized=True,
        ),
        case("sqrt_logspace_vec", fam, d, lambda m, t: m.sqrt(t), np.logspace(-10, 0, 6), vectorized=True),
        _boxed("boxed_exp_linspace", np.linspace(0, 2, 10)),
        _boxed("boxed_exp_linspace_bounds", np.linspace(0, 2, 10), bounds=(0.0, 2.0)),
        _boxed("boxed_exp_linspace_vec", np.linspace(0, 2, 10), vectorized=True),
        _boxed("boxed_exp_near_edges", np.array([1e-9, 1.0, 2 - 1e-9])),
    ]


def edges_multivariate() -> list[Case]:
    """Gradients, Jacobians (dense and sparse) and Hessians next to a bound."""
    fam = "edges"
    return [
        case(
            "grad_log_sqrt_bounds",
            fam,
            "gradient",
            lambda m, x: m.log(x[0]) + m.sqrt(x[1]),
            np.array([1e-6, 1e-4]),
            bounds=(np.zeros(2), np.full(2, INF)),
        ),
        case(
            "grad_log_sqrt", fam, "gradient", lambda m, x: m.log(x[0]) + m.sqrt(x[1]), np.array([1e-6, 1e-4])
        ),
        case(
            "jac_edges_bounds",
            fam,
            "jacobian",
            lambda m, x: [m.log(x[0]), m.sqrt(x[1]), x[0] * x[1]],
            np.array([1e-4, 1e-6]),
            bounds=(np.zeros(2), np.full(2, INF)),
        ),
        case(
            "jac_sparse_opposite_bounds",
            fam,
            "jacobian",
            lambda m, x: [m.log(x[0]), m.log(1 - x[1])],
            np.array([1e-3, 1 - 1e-3]),
            bounds=(np.zeros(2), np.ones(2)),
            sparsity=np.eye(2, dtype=bool),
        ),
        case(
            "jac_dense_opposite_bounds",
            fam,
            "jacobian",
            lambda m, x: [m.log(x[0]), m.log(1 - x[1])],
            np.array([1e-3, 1 - 1e-3]),
            bounds=(np.zeros(2), np.ones(2)),
        ),
        case(
            "hess_xlogx_bounds",
            fam,
            "hessian",
            lambda m, x: x[0] * m.log(x[0]) + x[0] * x[1] ** 1.5,
            np.array([1e-5, 1e-4]),
            bounds=(np.zeros(2), np.full(2, INF)),
        ),
    ]


def kinks() -> list[Case]:
    d = "derivative"
    no = [
        kink("abs_at_0", d, np.abs, 0.0),
        kink("abs_shift_at_1", d, lambda t: np.abs(t - 1), 1.0),
        kink("relu_at_0", d, lambda t: np.maximum(t, 0.0), 0.0),
        kink("max_lines_at_0", d, lambda t: np.maximum(t, 3 * t), 0.0),
        kink("hinge_at_1", d, lambda t: np.maximum(0.0, 1 - t), 1.0),
        kink("floor_at_2", d, np.floor, 2.0),
        kink("sign_at_0", d, np.sign, 0.0),
        kink("step_jump_at_0", d, lambda t: t + (np.asarray(t) > 0), 0.0),
        kink("sqrt_abs_at_0", d, lambda t: np.sqrt(np.abs(t)), 0.0),
        kink("x_abs_x_n2_at_0", d, lambda t: t * np.abs(t), 0.0, n=2),
        kink("abs_sin_large_at_0", d, lambda t: np.abs(np.sin(t)) * 1e3, 0.0),
        kink("abs_at_0_user_step", d, np.abs, 0.0, step=1e-3),
        kink("grad_max_at_tie", "gradient", lambda x: np.maximum(x[0], x[1]), np.array([1.0, 1.0])),
        kink("grad_abs_plus_sq", "gradient", lambda x: np.abs(x[0]) + x[1] ** 2, np.array([0.0, 1.0])),
        kink(
            "grad_relu_sum",
            "gradient",
            lambda x: np.sum(np.maximum(x, 0.0), axis=0),
            np.array([0.0, 1.0, -1.0]),
        ),
        kink(
            "dir_abs_diff",
            "directional",
            lambda x: np.abs(x[0] - x[1]),
            np.array([1.0, 1.0]),
            v=np.array([1.0, 0.0]),
        ),
        kink("hess_abs", "hessian", lambda x: np.abs(x[0]) * x[1] + x[1] ** 2, np.array([0.0, 2.0])),
    ]
    fam = "kinks"
    near = [  # a derivative exists, but a kink or a jump is within reach of the step
        Case("abs_at_1e-10", fam, d, np.abs, 1e-10, mpmath.fabs, analytic=False),
        Case("floor_at_2.9999", fam, d, np.floor, 2.9999, mpmath.floor, analytic=False),
        Case("floor_at_1e6+0.5", fam, d, np.floor, 1e6 + 0.5, mpmath.floor, analytic=False),
        Case("round_near_half", fam, d, np.round, 0.5 + 1e-9, mpmath.nint, analytic=False),
        Case("relu_at_1e-7", fam, d, lambda t: np.maximum(t, 0.0), 1e-7, lambda t: max(t, 0), analytic=False),
        Case(
            "abs_cos_near_zero",
            fam,
            d,
            lambda t: np.abs(np.cos(t)),
            1.5707963,
            lambda t: MP.cos(t),
            analytic=False,
        ),
    ]
    return no + near


def all_cases() -> list[Case]:
    return (
        large_tiny()
        + oscillation()
        + edges()
        + kinks()
        + cancellation()
        + noise()
        + user_steps()
        + higher()
        + scales()
    )
