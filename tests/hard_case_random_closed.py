"""Closed forms of the random hard cases' derivatives, written out by hand per formula, to check
the mpmath references (``tests/test_hard_case_random.py``); and how far each float64 formula
may stray from its exact twin through the rounding of its own arithmetic."""

from __future__ import annotations

import re
from collections.abc import Callable
from math import factorial
from typing import Any

import mpmath
import numpy as np

from .hard_case_kit import Case
from .hard_case_random import FORMULAS
from .hard_case_random_families import KINK_FORMS, SMOOTH, TERMS

mpf = mpmath.mpf
EPS = 2.0**-52


def _falling(q: Any, n: int) -> Any:
    out = mpf(1)
    for i in range(n):
        out *= q - i
    return out


def _log_n(u: Any, n: int) -> Any:
    return (-1) ** (n - 1) * factorial(n - 1) / u**n


SCALAR: dict[str, Callable[[dict[str, Any], Any, int], Any]] = {
    "sin(a*t + b)": lambda p, x, n: p["a"] ** n * mpmath.sin(p["a"] * x + p["b"] + n * mpmath.pi / 2),
    "cos(a*t + b)": lambda p, x, n: p["a"] ** n * mpmath.cos(p["a"] * x + p["b"] + n * mpmath.pi / 2),
    "exp(c*t)": lambda p, x, n: p["c"] ** n * mpmath.exp(p["c"] * x),
    "1/(t - p)": lambda p, x, n: (-1) ** n * factorial(n) / (x - p["p"]) ** (n + 1),
    "1/(t - p)**2": lambda p, x, n: (-1) ** n * factorial(n + 1) / (x - p["p"]) ** (n + 2),
    "log(abs(t - p))": lambda p, x, n: _log_n(x - p["p"], n),
    "log(t)": lambda p, x, n: _log_n(x, n),
    "log(t - e)": lambda p, x, n: _log_n(x - p["e"], n),
    "log1p(t)": lambda p, x, n: _log_n(1 + x, n),
    "sqrt(t - e)": lambda p, x, n: _falling(mpf(0.5), n) * (x - p["e"]) ** (mpf(0.5) - n),
    "1/sqrt(t - e)": lambda p, x, n: _falling(mpf(-0.5), n) * (x - p["e"]) ** (mpf(-0.5) - n),
    "(t - e)**q": lambda p, x, n: _falling(p["q"], n) * (x - p["e"]) ** (p["q"] - n),
    "t**j": lambda p, x, n: _falling(p["j"], n) * x ** (p["j"] - n),
    "(t + C)**2 - C**2": lambda p, x, n: 2 * (x + p["C"]) if n == 1 else 2,
    "(t + C)*(t - C) + C*C": lambda p, x, n: 2 * x if n == 1 else 2,
    "exp(t) - 1": lambda p, x, n: mpmath.exp(x),
    "log(C + t) - log(C)": lambda p, x, n: _log_n(p["C"] + x, n),
    "arcsin(t)": lambda p, x, n: 1 / mpmath.sqrt(1 - x * x) if n == 1 else x / (1 - x * x) ** 1.5,
    "arccos(t)": lambda p, x, n: -1 / mpmath.sqrt(1 - x * x) if n == 1 else -x / (1 - x * x) ** 1.5,
    "tanh(a*t)": lambda p, x, n: p["a"] / mpmath.cosh(p["a"] * x) ** 2 if n == 1 else None,
}

_SMOOTH_DERIVATIVES = {
    "sin(t)": lambda x: (mpmath.cos(x), -mpmath.sin(x)),
    "0.5*t*t": lambda x: (x, mpf(1)),
    "exp(t/4)": lambda x: (mpmath.exp(x / 4) / 4, mpmath.exp(x / 4) / 16),
    "0.0": lambda x: (mpf(0), mpf(0)),
}

_KINK_PARTS = {
    "abs": lambda s, u, n: s * mpmath.sign(u),
    "relu": lambda s, u, n: s * (u > 0),
    "hinge": lambda s, u, n: -s * (u < 0),
    "jump": lambda s, u, n: 0,
    "floor": lambda s, u, n: 0,
    "xabsx_n1": lambda s, u, n: 2 * s * abs(u),
    "xabsx_n2": lambda s, u, n: 2 * s * mpmath.sign(u),
}

for _kind, (_form, _, _) in KINK_FORMS.items():
    for _g in SMOOTH:

        def _kink(p: dict[str, Any], x: Any, n: int, kind: str = _kind, g: str = _g) -> Any:
            kind = f"xabsx_n{n}" if kind.startswith("xabsx") else kind  # one formula, two orders
            return _KINK_PARTS[kind](p["s"], x - p["k"], n) + _SMOOTH_DERIVATIVES[g](x)[n - 1]

        SCALAR[_form.format(g=_g)] = _kink


#: First and second derivatives of each mixed_sums term's function g(u).
_TERM_DERIVATIVES = {
    "sin": lambda u: (mpmath.cos(u), -mpmath.sin(u)),
    "cos": lambda u: (-mpmath.sin(u), -mpmath.cos(u)),
    "tanh": lambda u: (mpmath.sech(u) ** 2, -2 * mpmath.tanh(u) * mpmath.sech(u) ** 2),
    "square": lambda u: (2 * u, mpf(2)),
    "gauss": lambda u: (-2 * u * mpmath.exp(-u * u), (4 * u * u - 2) * mpmath.exp(-u * u)),
    "atan": lambda u: (1 / (1 + u * u), -2 * u / (1 + u * u) ** 2),
}


def _mixed_sum(expr: str, p: dict[str, Any], x: Any, n: int) -> Any:
    """A sum of TERMS, term by term (None if `expr` is not one)."""
    total = mpf(0)
    for j, term in enumerate(re.split(r" \+ (?=A\d\*)", expr)):
        kind = next((k for k, t in TERMS.items() if t.format(j=j) == term), None)
        if kind is None or n > 2:
            return None
        A, w = p[f"A{j}"], p[f"w{j}"]
        total += A * w**n * _TERM_DERIVATIVES[kind](w * x + p[f"p{j}"])[n - 1]
    return total


def _quad_form(a: Any, b: Any, c: Any, d: Any, e: Any) -> tuple[list[Any], list[list[Any]]]:
    """Gradient [a, b] and Hessian [[c, d], [d, e]]."""
    return [a, b], [[c, d], [d, e]]


def _exp_linear(p: dict[str, Any], x: list[Any]) -> Any:
    E, c, c1 = mpmath.exp(p["c"] * x[0] + p["c1"] * x[1]), p["c"], p["c1"]
    return _quad_form(c * E, c1 * E, c * c * E, c * c1 * E, c1 * c1 * E)


def _pole_sum(p: dict[str, Any], x: list[Any]) -> Any:
    u = x[0] + x[1] - p["p"]
    return _quad_form(-1 / u**2, -1 / u**2, 2 / u**3, 2 / u**3, 2 / u**3)


def _sin_exp(p: dict[str, Any], x: list[Any]) -> Any:
    """sin(x0) exp(c x1) + x0 x1."""
    S, C, E, c = mpmath.sin(x[0]), mpmath.cos(x[0]), mpmath.exp(p["c"] * x[1]), p["c"]
    return _quad_form(C * E + x[1], c * S * E + x[0], -S * E, c * C * E + 1, c * c * S * E)


def _sin_a_exp3(p: dict[str, Any], x: list[Any]) -> Any:
    """sin(a x0) exp(x1 / 3) + x0 x1."""
    a = p["a"]
    S, C, E = mpmath.sin(a * x[0]), mpmath.cos(a * x[0]), mpmath.exp(x[1] / 3)
    return _quad_form(a * C * E + x[1], S * E / 3 + x[0], -a * a * S * E, a * C * E / 3 + 1, S * E / 9)


MULTI: dict[str, Callable[[dict[str, Any], list[Any]], Any]] = {
    "exp(c*x[0] + c1*x[1])": _exp_linear,
    "1/(x[0] + x[1] - p)": _pole_sum,
    "(x[0] + C)**2 - (x[1] + C)**2": lambda p, x: _quad_form(
        2 * (x[0] + p["C"]), -2 * (x[1] + p["C"]), 2, 0, -2
    ),
    "(x[0] + x[1] + C)**2": lambda p, x: _quad_form(*[2 * (x[0] + x[1] + p["C"])] * 2, 2, 2, 2),
    "log(x[0] - e0) + sqrt(x[1] - e1)": lambda p, x: _quad_form(
        1 / (x[0] - p["e0"]),
        0.5 / mpmath.sqrt(x[1] - p["e1"]),
        -1 / (x[0] - p["e0"]) ** 2,
        0,
        -0.25 * (x[1] - p["e1"]) ** -1.5,
    ),  # fmt: skip
    "s*abs(x[0] - k) + x[1]**2 + x[0]*x[1]": lambda p, x: _quad_form(
        p["s"] * mpmath.sign(x[0] - p["k"]) + x[1], 2 * x[1] + x[0], 0, 1, 2
    ),
    "sin(x[0])*exp(c*x[1]) + x[0]*x[1]": _sin_exp,
    "sin(a*x[0])*exp(x[1]/3) + x[0]*x[1]": _sin_a_exp3,
}

#: Jacobians: the second output's gradient, by formula.
SECOND_OUTPUT = {
    "[sin(x[0])*exp(c*x[1]) + x[0]*x[1], cos(x[0] - x[1])]": (
        "sin(x[0])*exp(c*x[1]) + x[0]*x[1]",
        lambda x: [-mpmath.sin(x[0] - x[1]), mpmath.sin(x[0] - x[1])],
    ),
    "[sin(a*x[0])*exp(x[1]/3) + x[0]*x[1], x[0]**2 - x[1]]": (
        "sin(a*x[0])*exp(x[1]/3) + x[0]*x[1]",
        lambda x: [2 * x[0], mpf(-1)],
    ),
}


def _scaled_parts(p: dict[str, Any], x: list[Any]) -> list[tuple[list[Any], list[list[Any]]]]:
    """Gradient and Hessian in x of the three parts of a coord_scales form (see ``_scaled_form``)."""
    d = sum(1 for k in p if k.startswith("s"))
    s = [p[f"s{i}"] for i in range(d)]
    y = [x[i] / s[i] for i in range(d)]
    K = p["K"]
    A = [[p[f"A{min(i, j)}{max(i, j)}"] * (2 if i == j else 1) for j in range(d)] for i in range(d)]
    quad_g = [K * mpmath.fsum(A[k][j] * y[j] for j in range(d)) for k in range(d)]
    quad = (quad_g, [[K * A[k][m] for m in range(d)] for k in range(d)])
    trig_g = [K * p[f"w{k}"] * mpmath.cos(y[k] + p[f"f{k}"]) for k in range(d)]
    trig_h = [
        [-K * p[f"w{k}"] * mpmath.sin(y[k] + p[f"f{k}"]) if k == m else 0 for m in range(d)] for k in range(d)
    ]
    prod = lambda skip: mpmath.fprod(y[i] for i in range(d) if i not in skip)  # noqa: E731
    prod_g = [K * p["B"] * prod({k}) for k in range(d)]
    prod_h = [[K * p["B"] * prod({k, m}) if k != m else 0 for m in range(d)] for k in range(d)]
    out = []
    for g, h in (quad, (trig_g, trig_h), (prod_g, prod_h)):
        out.append(
            ([g[k] / s[k] for k in range(d)], [[h[k][m] / (s[k] * s[m]) for m in range(d)] for k in range(d)])
        )
    return out


def _multi(c: Case, expr: str, p: dict[str, Any]) -> Any:
    x = [mpf(float(t)) for t in np.ravel(c.x)]
    if expr.startswith(("K*(", "[K*(")):
        parts = _scaled_parts(p, x)
        if c.front == "jacobian":
            return [g for g, _ in parts]
        g = [mpmath.fsum(part[0][k] for part in parts) for k in range(len(x))]
        h = [[mpmath.fsum(part[1][k][m] for part in parts) for m in range(len(x))] for k in range(len(x))]
    elif c.front == "jacobian" and expr in SECOND_OUTPUT:
        first, second = SECOND_OUTPUT[expr]
        return [MULTI[first](p, x)[0], second(x)]
    elif expr in MULTI:
        g, h = MULTI[expr](p, x)
    else:
        return None
    if c.front == "directional":
        return mpmath.fsum(gk * float(vk) for gk, vk in zip(g, c.v, strict=True))
    return h if c.front == "hessian" else g


def closed_form(c: Case) -> Any:
    """The derivative of case `c` in closed form (mpmath numbers), or None if not written out."""
    expr, p = FORMULAS[c.name]
    if c.front != "derivative":
        out = _multi(c, expr, p)
        return None if out is None else np.array(out, dtype=object).astype(float)
    if expr in SCALAR:
        vals = [SCALAR[expr](p, mpf(float(t)), c.n) for t in np.ravel(c.x)]
    elif expr.startswith("A0*"):
        vals = [_mixed_sum(expr, p, mpf(float(t)), c.n) for t in np.ravel(c.x)]
    else:
        return None
    if any(v is None for v in vals):
        return None
    return np.reshape(np.array([float(v) for v in vals]), np.shape(c.x))


def _cancellation_size(expr: str, p: dict[str, Any], x: Any) -> Any:
    C = abs(p.get("C", 0.0))
    big = np.max(np.abs(x)) + C
    return {
        "(t + C)**2 - C**2": big**2,
        "(t + C)*(t - C) + C*C": big**2,
        "(x[0] + C)**2 - (x[1] + C)**2": big**2,
        "(x[0] + x[1] + C)**2": big**2,
        "C + A*sin(w*t)": C + abs(p.get("A", 0.0)) * (1 + abs(p.get("w", 0.0)) * np.abs(x)),
        "log(C + t) - log(C)": abs(np.log(C or 1.0)) + 1,
        "sqrt(t*t + C*C) - C": big,
        "(1 - cos(t))/(t*t)": 1 / np.square(x),
        "exp(t) - 1": 1.0,
    }.get(expr, 0.0)


def twin_allowance(expr: str, p: dict[str, Any], x: Any, ref: Any) -> Any:
    """How far a float64 formula may be from its exact twin: 64 ulps of the size of its terms,
    where the terms are larger than the result (cancellation) or rounded arguments are amplified."""
    size: Any = _cancellation_size(expr, p, x)
    if expr in ("exp(c*t)", "exp(c*x[0] + c1*x[1])"):  # the rounding of c t, amplified by exp
        cond = (abs(p["c"]) + abs(p.get("c1", 0))) * np.max(np.abs(x))
        return 64 * EPS * cond * np.abs(ref) + 1e-320
    if "a*t + b" in expr:
        size = np.abs(p["a"] * x) + abs(p["b"])
    elif expr == "1/(x[0] + x[1] - p)":
        size = (np.sum(np.abs(x)) + abs(p["p"])) * np.square(ref)
    elif expr.startswith(("K*(", "[K*(")):
        y = [x[i] / p[f"s{i}"] for i in range(len(x))]
        terms = sum(abs(v * y[int(k[1])] * y[int(k[2])]) for k, v in p.items() if k[0] == "A")
        terms += sum(abs(p[f"w{i}"]) * (1 + abs(y[i])) for i in range(len(x))) + abs(p["B"] * np.prod(y))
        size = abs(p["K"]) * terms
    elif expr.startswith("A0*"):
        size = sum(
            abs(p[f"A{j}"]) * (1 + abs(p[f"w{j}"] * x) + abs(p[f"p{j}"])) ** 2
            for j in range(4)
            if f"A{j}" in p
        )
    return 64 * EPS * size
