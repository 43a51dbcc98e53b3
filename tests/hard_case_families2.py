"""More hard-case families: cancellation, unannounced noise, user steps, higher
derivatives and coordinates of different scale; and the helpers every family uses."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np

from .hard_case_kit import MP, Case, case, twin


def cancellation() -> list[Case]:
    fam, d = "cancellation", "derivative"
    poly7 = [1, -7, 21, -35, 35, -21, 7, -1]
    out = [
        case(f"offset_square_{t:g}", fam, d, lambda m, t: (t + 1e8) ** 2 - 1e16, t) for t in (1.0, 0.5, 3.0)
    ]
    out += [case(f"naive_expm1_{t:g}", fam, d, lambda m, t: m.exp(t) - 1, t) for t in (1e-5, 1e-8, 1e-12)]
    out += [
        case("one_minus_cos_1e-4", fam, d, lambda m, t: (1 - m.cos(t)) / t**2, 1e-4),
        case("one_minus_cos_1e-6", fam, d, lambda m, t: (1 - m.cos(t)) / t**2, 1e-6),
        case("sqrt_diff_1e4", fam, d, lambda m, t: m.sqrt(t**2 + 1) - t, 1e4),
        case("naive_log1p_1e-10", fam, d, lambda m, t: m.log(1 + t), 1e-10),
        case("x_minus_sin_1e-3", fam, d, lambda m, t: t - m.sin(t), 1e-3),
        case("expanded_poly7", fam, d, lambda m, t: sum(c * t ** (7 - k) for k, c in enumerate(poly7)), 1.01),
        case("offset_1e10_plus_sin", fam, d, lambda m, t: 1e10 + m.sin(t), 1.0),
        case(
            "naive_variance",
            fam,
            d,
            lambda m, t: (
                ((1e8 + t) ** 2 + (1e8 + 1) ** 2 + (1e8 + 2) ** 2) / 3
                - ((1e8 + t + 1e8 + 1 + 1e8 + 2) / 3) ** 2
            ),
            0.5,
        ),
        case(
            "grad_offset_squares",
            fam,
            "gradient",
            lambda m, x: (x[0] + 1e8) ** 2 - (x[1] + 1e8) ** 2,
            np.array([1.0, 2.0]),
        ),
        case(
            "hess_offset_square", fam, "hessian", lambda m, x: (x[0] + x[1] + 1e6) ** 2, np.array([1.0, 2.0])
        ),
        case(
            "dir_offset_square",
            fam,
            "directional",
            lambda m, x: (x[0] + 1e8) ** 2 - 1e16 + x[1],
            np.array([1.0, 1.0]),
            v=np.array([1.0, 1.0]),
        ),
        case(
            "jac_cancel",
            fam,
            "jacobian",
            lambda m, x: [m.exp(x[0]) - 1, (x[1] + 1e8) ** 2 - 1e16],
            np.array([1e-9, 2.0]),
        ),
    ]
    return out


def hash_unit(x: Any) -> Any:
    """A deterministic pseudo-random number in [-1, 1) from the bits of float64 x (elementwise)."""
    a = np.array(x, dtype=np.float64, ndmin=1)
    b = a.view(np.uint64).copy()
    for mult in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        b ^= b >> np.uint64(33)
        b *= np.uint64(mult)
    b ^= b >> np.uint64(33)
    u = (b >> np.uint64(11)).astype(np.float64) / 2.0**52 - 1.0
    return u.reshape(np.shape(x))


def _noisy_vec(x: Any) -> Any:
    """hash_unit of a point (first axis: coordinates) as one number per point."""
    x = np.asarray(x, dtype=np.float64)
    w = np.array([1.0, np.pi, np.e, np.sqrt(2.0)])[: x.shape[0]]
    return hash_unit(np.tensordot(w, hash_unit(x), axes=1))


def _noisy(name: str, F: Any, x: Any, amp: float, front: str = "derivative", **kw: Any) -> Case:
    f0, ref = twin(F)
    unit = hash_unit if front == "derivative" else _noisy_vec
    fields = {k: kw.pop(k) for k in ("v",) if k in kw}
    return Case(name, "noise", front, lambda x: f0(x) + amp * unit(x), x, ref, kw, analytic=False, **fields)


def _f32(name: str, F: Any, x: Any, front: str = "derivative") -> Case:
    """f computed in float32 inside (its argument and its arithmetic), returned as float64."""
    ref = twin(F)[1]
    f = lambda x: np.asarray(F(np, np.asarray(x, dtype=np.float32)), dtype=np.float64)  # noqa: E731
    return Case(name, "noise", front, f, x, ref, analytic=False)


def _quantised(name: str, F: Any, x: Any, q: float, front: str = "derivative", **kw: Any) -> Case:
    """f's outputs rounded to a multiple of q."""
    f0, ref = twin(F)
    return Case(name, "noise", front, lambda x: np.round(f0(x) / q) * q, x, ref, kw, analytic=False)


def _iterated_root(x: Any) -> Any:
    """y with y**3 + y = x by a damped fixed-point iteration stopped at |dy| < 1e-9."""
    y = np.full_like(np.asarray(x, dtype=np.float64), 0.5)
    for _ in range(500):
        dy = 0.2 * (x - y**3 - y)
        y = y + dy
        if np.all(np.abs(dy) < 1e-9):
            break
    return y


def noise() -> list[Case]:
    sq = lambda m, x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2  # noqa: E731
    out = [
        _f32("f32_sin_1", lambda m, t: m.sin(t), 1.0),
        _f32("f32_sin_0.3", lambda m, t: m.sin(t), 0.3),
        _f32("f32_exp_2", lambda m, t: m.exp(t), 2.0),
        _f32("f32_log_3", lambda m, t: m.log(t), 3.0),
        _f32("f32_cube_1.1", lambda m, t: t**3, 1.1),
        _f32("f32_rosenbrock_grad", sq, np.array([-1.2, 1.0]), "gradient"),
        _f32("f32_hess_exp_sin", lambda m, x: m.exp(x[0]) * m.sin(x[1]), np.array([0.5, 1.0]), "hessian"),
        _quantised("quant_sin_1", lambda m, t: m.sin(t), 1.0, 1e-10),
        _quantised("quant_exp_0.5", lambda m, t: m.exp(t), 0.5, 1e-10),
        _quantised("quant_log_3", lambda m, t: m.log(t), 3.0, 1e-10),
        _quantised("quant_1e3sin_0.7", lambda m, t: 1e3 * m.sin(t), 0.7, 1e-8),
        _quantised(
            "quant_grad", lambda m, x: m.sin(x[0]) * m.cos(x[1]), np.array([0.3, -1.2]), 1e-10, "gradient"
        ),
        _quantised("quant_sin_n2", lambda m, t: m.sin(t), 1.0, 1e-10, n=2),
    ]
    return out + noise_additive()


def noise_additive() -> list[Case]:
    """Deterministic pseudo-noise of 1e-12 ... 1e-8, relative noise, a solver's tolerance."""
    out = [_noisy(f"hash_sin_{amp:g}", lambda m, t: m.sin(t), 1.0, amp) for amp in (1e-12, 1e-10, 1e-8)]
    out += [
        _noisy("hash_exp_1e-10", lambda m, t: m.exp(t), 1.0, 1e-10),
        _noisy("hash_cube_1e-9", lambda m, t: t**3, 2.0, 1e-9),
        _noisy("hash_sin_array_1e-11", lambda m, t: m.sin(t), np.array([0.1, 1.0, 10.0]), 1e-11),
        _noisy(
            "hash_grad_quad_1e-9",
            lambda m, x: x[0] ** 2 + 3 * x[0] * x[1],
            np.array([0.7, -0.2]),
            1e-9,
            "gradient",
        ),
        _noisy(
            "hash_hess_1e-12", lambda m, x: m.exp(x[0]) * m.cos(x[1]), np.array([0.1, 0.2]), 1e-12, "hessian"
        ),
        _noisy(
            "hash_dir_1e-10",
            lambda m, x: m.sin(x[0]) + x[1] ** 2,
            np.array([0.4, 1.5]),
            1e-10,
            "directional",
            v=np.array([1.0, -1.0]),
        ),
        _noisy("hash_sin_n2_1e-12", lambda m, t: m.sin(t), 1.0, 1e-12, n=2),
        Case(
            "rel_noise_exp_5",
            "noise",
            "derivative",
            lambda t: np.exp(t) * (1 + 1e-10 * hash_unit(t)),
            5.0,
            MP.exp,
            analytic=False,
        ),
        Case(
            "solver_tolerance_root",
            "noise",
            "derivative",
            _iterated_root,
            2.0,
            lambda t: mpmath.findroot(lambda y: y**3 + y - t, mpmath.mpf(1)),
            analytic=False,
        ),
    ]
    return out


def user_steps() -> list[Case]:
    fam, d = "user_steps", "derivative"
    sinh, sin = (lambda m, t: m.sinh(t)), (lambda m, t: m.sin(t))
    out = [
        case(f"sinh_step_{h:g}", fam, d, sinh, 1.0, step=h)
        for h in (1e-300, 1e-100, 1e-20, 1e-12, 1.49e-8, 1e-4, 0.1, 1.0)
    ]
    out += [case(f"sin_step_{h:g}", fam, d, sin, 1.0, step=h) for h in (1e-200, 1e-9, 0.5, 3.0, 10.0, 100.0)]
    out += [
        case("exp_step_30", fam, d, lambda m, t: m.exp(t), 0.0, step=30.0),
        case("cube_step_100", fam, d, lambda m, t: t**3, 2.0, step=100.0),
        case("sin_1e6_step_1e-3", fam, d, sin, 1e6, step=1e-3),
        case(
            "log_step_over_bound", fam, d, lambda m, t: m.log(t), 1e-3, step=0.1, bounds=(0.0, float("inf"))
        ),
        case("sin_n2_step_1e-8", fam, d, sin, 1.0, step=1e-8, n=2),
        case(
            "grad_step_1e-300",
            fam,
            "gradient",
            lambda m, x: x[0] ** 2 + x[1] ** 2,
            np.array([1.0, 1.0]),
            step=1e-300,
        ),
        case(
            "grad_steps_per_coord",
            fam,
            "gradient",
            lambda m, x: m.sin(x[0]) + m.sin(x[1]),
            np.array([1.0, 1.0]),
            step=np.array([1e-6, 100.0]),
        ),
        case(
            "hess_step_1e-8",
            fam,
            "hessian",
            lambda m, x: m.sin(x[0]) * m.exp(x[1]),
            np.array([0.5, 0.5]),
            step=1e-8,
        ),
        case(
            "jac_step_1e-10",
            fam,
            "jacobian",
            lambda m, x: [m.sin(x[0] * x[1]), m.exp(x[1])],
            np.array([1.0, 2.0]),
            step=1e-10,
        ),
        case(
            "dir_step_50",
            fam,
            "directional",
            lambda m, x: m.sin(x[0]) * x[1],
            np.array([1.0, 2.0]),
            v=np.array([1.0, 1.0]),
            step=50.0,
        ),
    ]
    return out


def higher() -> list[Case]:
    fam, d = "higher", "derivative"
    out = [case(f"sin_1e4_n{n}", fam, d, lambda m, t: m.sin(t), 1e4, n=n) for n in (2, 3, 4, 5)]
    out += [case(f"cos_123.4_n{n}", fam, d, lambda m, t: m.cos(t), 123.4, n=n) for n in (2, 3, 5)]
    out += [
        case(f"exp_t_100_at_1e4_n{n}", fam, d, lambda m, t: m.exp(t / 100), 1e4, n=n) for n in (2, 3, 4, 5)
    ]
    out += [case(f"exp_neg_30_n{n}", fam, d, lambda m, t: m.exp(-t), 30.0, n=n) for n in (2, 4)]
    out += [case(f"log_0.5_n{n}", fam, d, lambda m, t: m.log(t), 0.5, n=n) for n in (2, 3, 4, 5)]
    out += [
        case("x6_at_1e3_n5", fam, d, lambda m, t: t**6, 1e3, n=5),
        case("runge_2_n3", fam, d, lambda m, t: 1 / (1 + t**2), 2.0, n=3),
        case("tanh_0.5_n4", fam, d, lambda m, t: m.tanh(t), 0.5, n=4),
        case("sin_1e6_n2", fam, d, lambda m, t: m.sin(t), 1e6, n=2),
        case("exp_at_1e-6_n3", fam, d, lambda m, t: m.exp(t / 1e-6), 2e-6, n=3),
    ]
    return out


_S = np.array([1e-5, 1e-2, 1.0, 1e3])
_D = [3.0, 0.5, 0.01]
_Y = [1.0, -1.0, 1.0]
_X = [[0.01, 1.2, 300.0], [0.02, -0.7, 150.0], [0.005, 0.3, -80.0]]


def _multiscale(m: Any, x: Any) -> Any:
    return sum(m.sin(x[i] / float(_S[i])) for i in range(4))


def _micro(d: float) -> Any:
    return lambda m, x: (x[0] ** 2 + x[1] ** 2) / 2 + d**3 / (2 * (x[1] - x[0]))


def _logit(m: Any, b: Any) -> Any:
    return sum(m.log(1 + m.exp(-y * (r[0] * b[0] + r[1] * b[1] + r[2] * b[2]))) for y, r in zip(_Y, _X))


def _logit_probs(m: Any, b: Any) -> Any:
    return [1 / (1 + m.exp(-(r[0] * b[0] + r[1] * b[1] + r[2] * b[2]))) for r in _X]


def _brown(m: Any, x: Any) -> Any:
    return (x[0] - 1e6) ** 2 + (x[1] - 2e-6) ** 2 + (x[0] * x[1] - 2) ** 2


def scales() -> list[Case]:
    fam = "scales"
    g, h, dr = "gradient", "hessian", "directional"
    sl = lambda m, x: m.sin(x[0] * x[1]) * m.log(x[0])  # noqa: E731
    p = np.array([100.0, -0.5])
    out = [
        case(f"dir_sinlog_{k}", fam, dr, sl, p, v=np.array(v))
        for k, v in {"x1": (0.0, 1.0), "x0": (1.0, 0.0), "diag": (0.6, 0.8), "skew": (1e-3, 1.0)}.items()
    ]
    xs = 0.7 * _S
    out += [
        case("grad_multiscale", fam, g, _multiscale, xs),
        case("hess_multiscale", fam, h, _multiscale, xs),
        case("dir_multiscale", fam, dr, _multiscale, xs, v=np.ones(4)),
        case("grad_exp_product", fam, g, lambda m, x: m.exp(x[0] * x[1]), np.array([1e-3, 1e3])),
        case("hess_exp_product", fam, h, lambda m, x: m.exp(x[0] * x[1]), np.array([1e-3, 1e3])),
        case("grad_brown_start", fam, g, _brown, np.array([1.0, 1.0])),
        case("grad_brown_solution", fam, g, _brown, np.array([1e6, 2e-6])),
        case("hess_brown_start", fam, h, _brown, np.array([1.0, 1.0])),
        case("hess_brown_solution", fam, h, _brown, np.array([1e6, 2e-6])),
        case("grad_logit_mixed", fam, g, _logit, np.array([91.0, -0.05, 0.002])),
        case("jac_logit_probs", fam, "jacobian", _logit_probs, np.array([91.0, -0.05, 0.002])),
        case("hess_logit_mixed", fam, h, _logit, np.array([91.0, -0.05, 0.002])),
        case(
            "jac_mixed_scales",
            fam,
            "jacobian",
            lambda m, x: [x[0] * 1e6 + m.sin(x[1]), m.exp(x[1] / 1e3)],
            np.array([1e-6, 5e2]),
        ),
        case(
            "grad_tiny_weight_large_x",
            fam,
            g,
            lambda m, x: 1e-10 * x[0] ** 2 + m.sin(x[1]),
            np.array([1e5, 1.0]),
        ),
        case(
            "dir_exp_large_coord",
            fam,
            dr,
            lambda m, x: m.exp(x[0]) + x[1] ** 2,
            np.array([0.5, 1e6]),
            v=np.array([1.0, 1.0]),
        ),
        case(
            "hess_rosenbrock_x100",
            fam,
            h,
            lambda m, x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2,
            np.array([-120.0, 100.0]),
        ),
        case("grad_log_times_large", fam, g, lambda m, x: m.log(x[0]) * x[1], np.array([1e-5, 1e3])),
        case("hess_x0sq_x1", fam, h, lambda m, x: x[0] ** 2 * x[1], np.array([1e-5, 1e3])),
    ]
    for dd in (1e-3, 1e-5, 1e-7):
        out.append(case(f"hess_micro_{dd:g}", fam, h, _micro(dd), np.array([-dd / 2, dd / 2])))
    out.append(case("grad_micro_1e-5", fam, g, _micro(1e-5), np.array([-0.5e-5, 0.5e-5])))
    return out
