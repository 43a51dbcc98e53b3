"""The random hard cases, part 2: unannounced noise, cancellation, domain edges, user steps and
higher derivatives (see ``tests/hard_case_random.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .hard_case_kit import Case
from .hard_case_random import expr_case, logu
from .hard_case_random_families import TAU, order, sign

INF = float("inf")


def _smooth(rng: np.random.Generator) -> tuple[str, str, dict[str, Any], float]:
    """A smooth formula in t, a short tag, its parameters and a point where it is well-behaved."""
    k = int(rng.integers(6))
    if k == 0:
        return (
            "sin(a*t + b)",
            "sin",
            {"a": logu(rng, 0.1, 10), "b": float(rng.uniform(0, TAU))},
            float(sign(rng) * logu(rng, 1e-2, 1e2)),
        )
    if k == 1:
        return "exp(c*t)", "exp", {"c": sign(rng) * logu(rng, 0.1, 3)}, float(rng.uniform(-5, 5))
    if k == 2:
        return "log(t)", "log", {}, logu(rng, 1e-2, 1e3)
    if k == 3:
        return "t*t*t - c*t", "cubic", {"c": logu(rng, 0.1, 10)}, sign(rng) * logu(rng, 0.1, 10)
    if k == 4:
        return "arctan(c*t)", "atan", {"c": logu(rng, 0.1, 10)}, sign(rng) * logu(rng, 1e-2, 10)
    return "tanh(a*t)*sqrt(1 + t*t)", "tanhsqrt", {"a": logu(rng, 0.1, 3)}, sign(rng) * logu(rng, 1e-2, 10)


NOISE_KINDS = ("float32", "quantised", "relative", "absolute")


def _noise_spec(rng: np.random.Generator, salt: int) -> tuple[str, float, int]:
    kind = NOISE_KINDS[int(rng.integers(4))]
    if kind == "float32":
        return kind, 6e-8, salt
    if kind == "quantised":
        return kind, logu(rng, 1e-12, 1e-4), salt
    return kind, logu(rng, 1e-14, 1e-6), salt


def noise(rng: np.random.Generator, count: int = 55) -> list[Case]:
    """Noise f does not announce: float32 inside, outputs rounded to a quantum in 1e-12 ... 1e-4,
    hashed relative or absolute noise of 1e-14 ... 1e-6."""
    out = []
    for i in range(count):
        spec = _noise_spec(rng, 1000 + i)
        tag = f"{spec[0]}_{spec[1]:.0e}"
        if i % 5 == 4:
            front = str(rng.choice(["gradient", "hessian", "directional", "jacobian"]))
            params = {"c": sign(rng) * logu(rng, 0.1, 2)}
            expr = "sin(x[0])*exp(c*x[1]) + x[0]*x[1]"
            expr = f"[{expr}, cos(x[0] - x[1])]" if front == "jacobian" else expr
            v = rng.normal(size=2) if front == "directional" else None
            out.append(
                expr_case(
                    f"noise_{i:03d}_{front}_{tag}",
                    "noise",
                    front,
                    expr,
                    rng.uniform(-2, 2, size=2),
                    params,
                    noise=spec,
                    v=v,
                )
            )
            continue
        expr, name, params, x = _smooth(rng)
        kw = order(rng, (0.8, 0.2))
        out.append(
            expr_case(
                f"noise_{i:03d}_{name}_{tag}_n{kw.get('n', 1)}",
                "noise",
                "derivative",
                expr,
                x,
                params,
                noise=spec,
                **kw,
            )
        )
    return out


def _cancel_form(rng: np.random.Generator) -> tuple[str, str, dict[str, Any], float]:
    k = int(rng.integers(7))
    t = sign(rng) * logu(rng, 1e-3, 1e3)
    if k == 0:
        return "(t + C)**2 - C**2", "offset_square", {"C": sign(rng) * logu(rng, 1e2, 1e12)}, t
    if k == 1:
        p = {"C": sign(rng) * logu(rng, 1e3, 1e15), "A": logu(rng, 1e-3, 1e3), "w": logu(rng, 0.1, 10)}
        return "C + A*sin(w*t)", "offset_sin", p, t
    if k == 2:
        return "exp(t) - 1", "expm1", {}, sign(rng) * logu(rng, 1e-14, 1e-3)
    if k == 3:
        C = logu(rng, 1.0, 1e12)
        return "log(C + t) - log(C)", "log_ratio", {"C": C}, float(np.clip(t, -C / 2, None))
    if k == 4:
        return "sqrt(t*t + C*C) - C", "sqrt_diff", {"C": logu(rng, 1e-2, 1e8)}, t
    if k == 5:
        return "(1 - cos(t))/(t*t)", "one_minus_cos", {}, sign(rng) * logu(rng, 1e-7, 1e-1)
    return "(t + C)*(t - C) + C*C", "diff_squares", {"C": logu(rng, 1e2, 1e10)}, t


def cancellation(rng: np.random.Generator, count: int = 40) -> list[Case]:
    """Large offsets that cancel: (t + C)^2 - C^2 for |C| up to 1e12, C + small terms, naive
    expm1, log1p and 1 - cos."""
    out = []
    for i in range(count):
        if i % 8 == 7:
            front = str(rng.choice(["gradient", "hessian", "directional"]))
            C = sign(rng) * logu(rng, 1e2, 1e10)
            expr = "(x[0] + C)**2 - (x[1] + C)**2" if front != "hessian" else "(x[0] + x[1] + C)**2"
            v = rng.normal(size=2) if front == "directional" else None
            x = sign(rng) * logu(rng, 1e-3, 1e3, 2)
            out.append(
                expr_case(f"cancel_{i:03d}_{front}_C{C:.0e}", "cancellation", front, expr, x, {"C": C}, v=v)
            )
            continue
        expr, name, params, t = _cancel_form(rng)
        kw = order(rng, (0.85, 0.15))
        out.append(
            expr_case(
                f"cancel_{i:03d}_{name}_t{t:.1e}_n{kw.get('n', 1)}",
                "cancellation",
                "derivative",
                expr,
                t,
                params,
                **kw,
            )
        )
    return out


EDGE_FORMS = {
    "log": "log(t - e)",
    "sqrt": "sqrt(t - e)",
    "pow": "(t - e)**q",
    "xlogx": "(t - e)*log(t - e)",
    "invsqrt": "1/sqrt(t - e)",
}
UNIT_EDGES = {"asin": ("arcsin(t)", 1.0), "acos": ("arccos(t)", -1.0), "log1p": ("log1p(t)", -1.0)}


def _edge_form(rng: np.random.Generator, d: float) -> tuple[str, str, dict[str, Any], float, Any]:
    """Formula, tag, parameters, point and bounds of one edge case at distance about `d`."""
    if rng.random() < 0.25:
        name = list(UNIT_EDGES)[int(rng.integers(3))]
        expr, edge = UNIT_EDGES[name]
        x = float(edge - np.sign(edge) * d)
        bounds = (-1.0, 1.0) if name != "log1p" else (-1.0, INF)
        return expr, name, {}, x, bounds
    name = list(EDGE_FORMS)[int(rng.integers(len(EDGE_FORMS)))]
    e = 0.0 if rng.random() < 0.4 else float(rng.uniform(-5, 5))
    x = float(e + max(d, 4 * float(np.spacing(abs(e)))))
    params: dict[str, Any] = {"e": e}
    if name == "pow":
        params["q"] = float(
            rng.choice([rng.uniform(0.15, 0.95), rng.uniform(1.05, 1.95), rng.uniform(2.05, 2.95)])
        )
    return EDGE_FORMS[name], name, params, x, (e, INF)


def edges(rng: np.random.Generator, count: int = 45) -> list[Case]:
    """log, sqrt, powers, x log x, asin, acos, log1p at 1e-12 ... 1e-1 from the edge of their
    domain, half with ``bounds=`` (as the docs advise), half without."""
    out = []
    for i in range(count):
        d = logu(rng, 1e-12, 1e-1)
        with_bounds = bool(rng.random() < 0.5)
        if i % 8 == 7:
            e = rng.uniform(-2, 2, size=2)
            x = e + logu(rng, 1e-10, 1e-1, 2)
            kw: dict[str, Any] = {"bounds": (e, np.full(2, INF))} if with_bounds else {}
            front = str(rng.choice(["gradient", "hessian"]))
            out.append(
                expr_case(
                    f"edge_{i:03d}_{front}_bounds{int(with_bounds)}",
                    "edges",
                    front,
                    "log(x[0] - e0) + sqrt(x[1] - e1)",
                    x,
                    {"e0": float(e[0]), "e1": float(e[1])},
                    **kw,
                )
            )
            continue
        expr, name, params, x, bounds = _edge_form(rng, d)
        kw = order(rng, (0.8, 0.2))
        if with_bounds:
            kw["bounds"] = bounds
        out.append(
            expr_case(
                f"edge_{i:03d}_{name}_d{d:.0e}_bounds{int(with_bounds)}_n{kw.get('n', 1)}",
                "edges",
                "derivative",
                expr,
                x,
                params,
                **kw,
            )
        )
    return out


def user_steps(rng: np.random.Generator, count: int = 40) -> list[Case]:
    """Steps the user gives, log-uniform from 1e-300 to 1e3 (per coordinate for some gradients)."""
    out = []
    for i in range(count):
        if i % 6 == 5:
            front = str(rng.choice(["gradient", "hessian", "jacobian"]))
            step: Any = logu(rng, 1e-300, 1e3, 2) if front != "hessian" else logu(rng, 1e-300, 1e3)
            expr = "sin(a*x[0])*exp(x[1]/3) + x[0]*x[1]"
            expr = f"[{expr}, x[0]**2 - x[1]]" if front == "jacobian" else expr
            out.append(
                expr_case(
                    f"step_{i:03d}_{front}_h{np.min(step):.0e}",
                    "user_steps",
                    front,
                    expr,
                    rng.uniform(-2, 2, size=2),
                    {"a": logu(rng, 0.1, 10)},
                    step=step,
                )
            )
            continue
        expr, name, params, x = _smooth(rng)
        h = logu(rng, 1e-300, 1e3) if rng.random() < 0.4 else logu(rng, 1e-10, 1e3)
        kw = order(rng, (0.8, 0.2))
        if name == "log" and rng.random() < 0.5:
            kw["bounds"] = (0.0, INF)
        out.append(
            expr_case(
                f"step_{i:03d}_{name}_h{h:.0e}_n{kw.get('n', 1)}",
                "user_steps",
                "derivative",
                expr,
                x,
                params,
                step=h,
                **kw,
            )
        )
    return out


def _higher_form(rng: np.random.Generator) -> tuple[str, str, dict[str, Any], float]:
    k = int(rng.integers(7))
    if k == 0:
        p = {"a": logu(rng, 1e-2, 1e2), "b": float(rng.uniform(0, TAU))}
        return "sin(a*t + b)", "sin", p, sign(rng) * logu(rng, 1e-3, 1e5)
    if k == 1:
        c = sign(rng) * logu(rng, 1e-2, 10)
        return "exp(c*t)", "exp", {"c": c}, float(rng.uniform(-50, 50)) / abs(c)
    if k == 2:
        return "log(t)", "log", {}, logu(rng, 1e-3, 1e5)
    if k == 3:
        x = sign(rng) * logu(rng, 1e-2, 1e3)
        return "1/(t - p)", "pole", {"p": float(x - sign(rng) * logu(rng, 1e-3, 10))}, x
    if k == 4:
        return "t**j", "power", {"j": int(rng.integers(2, 9))}, sign(rng) * logu(rng, 1e-3, 1e3)
    if k == 5:
        return "tanh(a*t)", "tanh", {"a": logu(rng, 0.1, 10)}, sign(rng) * logu(rng, 1e-3, 3)
    s = logu(rng, 1e-3, 1e3)
    return "exp(-(t*t)/(2*s*s))", "gauss", {"s": s}, float(s * rng.normal() * 2)


def higher(rng: np.random.Generator, count: int = 40) -> list[Case]:
    """Derivatives of order 2 ... 5 of smooth functions at |x| from 1e-3 to 1e5."""
    out = []
    for i in range(count):
        expr, name, params, x = _higher_form(rng)
        n = int(rng.integers(2, 6))
        out.append(
            expr_case(f"higher_{i:03d}_{name}_x{x:.1e}_n{n}", "higher", "derivative", expr, x, params, n=n)
        )
    return out
