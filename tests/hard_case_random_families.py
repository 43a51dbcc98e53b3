"""The random hard cases, part 1: oscillation, exp near overflow and underflow, nearby poles,
sums of terms of very different scales, coordinates of different scale and kinks.

Each family draws from its own generator (``family_rng(k)``), so that its cases do not change
when another family changes. See ``tests/hard_case_random.py`` for the formula language.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .hard_case_kit import Case
from .hard_case_random import expr_case, family_rng, logu

TAU = 2 * np.pi


def sign(rng: np.random.Generator, p_negative: float = 0.5) -> float:
    return -1.0 if rng.random() < p_negative else 1.0


def order(rng: np.random.Generator, weights: tuple[float, ...] = (0.75, 0.15, 0.1)) -> dict[str, int]:
    """``{"n": n}`` for a derivative order drawn with `weights` over 1, 2, 3 ... (empty for 1)."""
    n = 1 + int(rng.choice(len(weights), p=np.asarray(weights) / sum(weights)))
    return {"n": n} if n > 1 else {}


def oscillation(rng: np.random.Generator, count: int = 50) -> list[Case]:
    """sin/cos(a t + b): a in 1e-6 ... 1e6, |t| in 1e-8 ... 1e9, both log-uniform."""
    out = []
    for i in range(count):
        a, b = logu(rng, 1e-6, 1e6), float(rng.uniform(0, TAU))
        trig = str(rng.choice(["sin", "cos"]))
        kw: dict[str, Any] = order(rng, (0.8, 0.1, 0.05, 0.03, 0.02))
        if i % 10 == 9:
            x: Any = sign(rng, 0.2) * logu(rng, 1e-8, 1e9, 3)
            kw["vectorized"] = bool(rng.random() < 0.5)
        else:
            x = sign(rng, 0.2) * logu(rng, 1e-8, 1e9)
        tag = f"{trig}_a{a:.1e}_t{np.max(np.abs(x)):.1e}_n{kw.get('n', 1)}"
        out.append(
            expr_case(
                f"osc_{i:03d}_{tag}",
                "oscillation",
                "derivative",
                f"{trig}(a*t + b)",
                x,
                {"a": a, "b": b},
                **kw,
            )
        )
    return out


def exp_range(rng: np.random.Generator, count: int = 35) -> list[Case]:
    """exp(c t) with c t near the overflow (640 ... 709.6) or underflow (-744 ... -680) of float64."""
    out = []
    for i in range(count):
        u = float(rng.uniform(640, 709.6)) if rng.random() < 0.5 else float(rng.uniform(-744, -680))
        c = sign(rng) * logu(rng, 1e-3, 1e3)
        side = "over" if u > 0 else "under"
        if i % 7 == 6:
            c1 = sign(rng) * logu(rng, 1e-2, 1e2)
            x0 = float(rng.normal())
            x = np.array([x0, (u - c * x0) / c1])
            front = str(rng.choice(["gradient", "hessian"]))
            out.append(
                expr_case(
                    f"exp_{i:03d}_{front}_{side}_u{u:.1f}",
                    "exp_range",
                    front,
                    "exp(c*x[0] + c1*x[1])",
                    x,
                    {"c": c, "c1": c1},
                )
            )
            continue
        kw = order(rng, (0.85, 0.15))
        out.append(
            expr_case(
                f"exp_{i:03d}_{side}_c{c:.1e}_u{u:.1f}_n{kw.get('n', 1)}",
                "exp_range",
                "derivative",
                "exp(c*t)",
                u / c,
                {"c": c},
                **kw,
            )
        )
    return out


def _ulp(x: float) -> float:
    return float(np.spacing(abs(x)))


POLE_FORMS = (
    "1/(t - p)",
    "(t*t + 1)/((t - p)*(t + 3.0))",
    "1/((t - p)**2 + e*e)",
    "c/(t - p) + sin(t)",
    "1/(t - p)**2",
    "log(abs(t - p))",
)


def poles(rng: np.random.Generator, count: int = 40) -> list[Case]:
    """Rational functions (and a log) with a real or complex pole at a distance 1e-12 ... 1e-1."""
    out = []
    for i in range(count):
        x = sign(rng) * logu(rng, 1e-3, 1e4)
        d = max(logu(rng, 1e-12, 1e-1), 16 * _ulp(x))
        p = float(x - sign(rng) * d)
        if i % 8 == 7:
            front = str(rng.choice(["gradient", "hessian", "directional"]))
            x0 = float(rng.normal())
            pt = np.array([x0, x - x0])
            d = max(d, 1e3 * _ulp(abs(pt[0]) + abs(pt[1])))  # x[0] + x[1] rounds by an ulp
            p = float(pt[0] + pt[1] - sign(rng) * d)
            v = rng.normal(size=2) if front == "directional" else None
            out.append(
                expr_case(
                    f"pole_{i:03d}_{front}_d{d:.0e}", "poles", front, "1/(x[0] + x[1] - p)", pt, {"p": p}, v=v
                )
            )
            continue
        form = POLE_FORMS[int(rng.integers(len(POLE_FORMS)))]
        params: dict[str, Any] = {"p": p}
        if "e*e" in form:
            params = {"p": float(x + rng.uniform(-1, 1) * d), "e": d}
        if "c/" in form:
            params["c"] = sign(rng) * logu(rng, 1e-6, 1e2)
        kw = order(rng, (0.7, 0.2, 0.1))
        analytic = "abs" not in form
        out.append(
            expr_case(
                f"pole_{i:03d}_d{d:.0e}_x{x:.1e}_n{kw.get('n', 1)}",
                "poles",
                "derivative",
                form,
                x,
                params,
                analytic=analytic,
                **kw,
            )
        )
    return out


TERMS = {
    "sin": "A{j}*sin(w{j}*t + p{j})",
    "cos": "A{j}*cos(w{j}*t + p{j})",
    "tanh": "A{j}*tanh(w{j}*t + p{j})",
    "square": "A{j}*(w{j}*t + p{j})**2",
    "gauss": "A{j}*exp(-(w{j}*t + p{j})**2)",
    "atan": "A{j}*arctan(w{j}*t + p{j})",
}


def mixed_sums(rng: np.random.Generator, count: int = 35) -> list[Case]:
    """Sums of 2 ... 4 terms with amplitudes 1e-8 ... 1e8 and rates 1e-3 ... 1e3."""
    out = []
    kinds = list(TERMS)
    for i in range(count):
        parts, params = [], {}
        for j in range(int(rng.integers(2, 5))):
            parts.append(TERMS[kinds[int(rng.integers(len(kinds)))]].format(j=j))
            params |= {f"A{j}": sign(rng) * logu(rng, 1e-8, 1e8), f"w{j}": logu(rng, 1e-3, 1e3)}
            params[f"p{j}"] = float(rng.uniform(-1, 1))
        x = sign(rng) * logu(rng, 1e-2, 1e3)
        kw = order(rng, (0.8, 0.2))
        out.append(
            expr_case(
                f"sum_{i:03d}_{len(parts)}terms_x{x:.1e}_n{kw.get('n', 1)}",
                "mixed_sums",
                "derivative",
                " + ".join(parts),
                x,
                params,
                **kw,
            )
        )
    return out


def _scaled_form(rng: np.random.Generator, d: int) -> tuple[list[str], dict[str, Any]]:
    """K (quadratic + trigonometric + product) in y_i = x_i / s_i, as three parts."""
    A = rng.normal(size=(d, d))
    y = [f"(x[{i}]/s{i})" for i in range(d)]
    params: dict[str, Any] = {f"s{i}": logu(rng, 1e-6, 1e4) for i in range(d)}
    quad = []
    for i in range(d):
        for j in range(i, d):
            params[f"A{i}{j}"] = float(A[i, j] if i != j else A[i, i] / 2)
            quad.append(f"A{i}{j}*{y[i]}*{y[j]}")
    trig = [f"w{i}*sin({y[i]} + f{i})" for i in range(d)]
    for i in range(d):
        params |= {f"w{i}": float(rng.normal()), f"f{i}": float(rng.uniform(0, TAU))}
    params |= {"B": float(rng.normal()) / 10 ** (d - 1), "K": logu(rng, 1e-3, 1e3)}
    return [f"K*({' + '.join(quad)})", f"K*({' + '.join(trig)})", f"K*B*{'*'.join(y)}"], params


def coord_scales(rng: np.random.Generator, count: int = 55) -> list[Case]:
    """Gradients, Hessians, directional derivatives and Jacobians of quadratic + trigonometric +
    product forms in x_i / s_i, with coordinate scales s_i from 1e-6 to 1e4."""
    out = []
    fronts = ["gradient", "hessian", "directional", "jacobian"]
    for i in range(count):
        d = int(rng.integers(2, 5))
        parts, params = _scaled_form(rng, d)
        s = np.array([params[f"s{k}"] for k in range(d)])
        x = s * rng.normal(size=d) * float(rng.choice([1.0, 1.0, 10.0, 100.0]))
        front = fronts[int(rng.choice(4, p=[0.35, 0.3, 0.2, 0.15]))]
        expr = f"[{', '.join(parts)}]" if front == "jacobian" else " + ".join(parts)
        v = None
        if front == "directional":
            v = rng.normal(size=d) * (s if rng.random() < 0.5 else 1.0)
        spread = np.log10(s.max() / s.min())
        out.append(
            expr_case(
                f"scales_{i:03d}_{front}_d{d}_spread{spread:.0f}", "coord_scales", front, expr, x, params, v=v
            )
        )
    return out


KINK_FORMS = {
    "abs": ("s*abs(t - k) + {g}", False, 1),
    "relu": ("s*relu(t - k) + {g}", False, 1),
    "hinge": ("s*relu(k - t) + {g}", False, 1),
    "jump": ("{g} + s*heaviside(t - k)", False, 1),
    "floor": ("s*floor(t - k) + {g}", False, 1),
    "xabsx_n1": ("s*(t - k)*abs(t - k) + {g}", True, 1),
    "xabsx_n2": ("s*(t - k)*abs(t - k) + {g}", False, 2),
}
SMOOTH = ("sin(t)", "0.5*t*t", "exp(t/4)", "0.0")


def kinks(rng: np.random.Generator, count: int = 45) -> list[Case]:
    """Kinks and jumps at k, with x exactly at k (no derivative) or at |x - k| in 1e-15 ... 1e-2."""
    out = []
    names = list(KINK_FORMS)
    for i in range(count):
        k = float(rng.uniform(-10, 10))
        x = k if rng.random() < 0.4 else float(k + sign(rng) * logu(rng, 1e-15, 1e-2))
        params = {"k": k, "s": sign(rng) * logu(rng, 1e-3, 1e3)}
        if i % 6 == 5:
            front = str(rng.choice(["gradient", "hessian", "directional"]))
            pt, v = np.array([x, float(rng.normal())]), rng.normal(size=2) if front == "directional" else None
            out.append(
                expr_case(
                    f"kink_{i:03d}_{front}_dist{abs(x - k):.0e}",
                    "kinks",
                    front,
                    "s*abs(x[0] - k) + x[1]**2 + x[0]*x[1]",
                    pt,
                    params,
                    exists=x != k,
                    analytic=False,
                    v=v,
                )
            )
            continue
        kind = names[int(rng.integers(len(names)))]
        form, smooth_at_k, n = KINK_FORMS[kind]
        g = SMOOTH[int(rng.integers(len(SMOOTH)))]
        if kind.startswith("xabsx") and g == "0.0":
            g = "sin(t)"  # a derivative of exactly 0 at k: the reference would be 1e-65, not 0
        expr = form.format(g=g)
        exists = x != k or smooth_at_k
        kw = {"n": n} if n > 1 else {}
        out.append(
            expr_case(
                f"kink_{i:03d}_{kind}_dist{abs(x - k):.0e}",
                "kinks",
                "derivative",
                expr,
                x,
                params,
                exists=exists,
                analytic=False,
                **kw,
            )
        )
    return out


def random_cases() -> list[Case]:
    from .hard_case_random_families2 import cancellation, edges, higher, noise, user_steps

    families = (oscillation, exp_range, poles, mixed_sums, coord_scales, kinks)
    families += (noise, cancellation, edges, user_steps, higher)
    out: list[Case] = []
    for k, family in enumerate(families):
        out += family(family_rng(k))
    return out
