"""A second hard-case suite, drawn at random: the same kinds of trouble as ``tests/hard_cases.py``
with parameters from seeded generators, so that the numerics can be measured on cases they were
not tuned to.

Every case is a formula in a small language shared by NumPy and mpmath (see :data:`NP_NAMES`),
its parameters and its point, so that a case prints as something a reader can run
(:func:`describe`). The reference is the mpmath twin's derivative at the exact float64 point
(``tests/hard_case_kit.py``); for the noisy cases, the twin is the smooth formula the noise hides.
A case whose f has no derivative at x (a kink or a jump exactly at x, a derivative order beyond a
kink) has ``truth = None``.

The families live in ``tests/hard_case_random_families.py`` and
``tests/hard_case_random_families2.py``; :data:`RANDOM_CASES` holds them all, built at import
from :data:`SEED`. The verdicts (:func:`tests.hard_cases.classify`) are the main suite's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np

from .hard_case_kit import Case

__all__ = [
    "FORMULAS",
    "RANDOM_CASES",
    "RANDOM_FAMILIES",
    "SEED",
    "describe",
    "expr_case",
    "family_rng",
    "logu",
    "salted_unit",
]

#: The seed of every family's generator (each family draws from ``default_rng([SEED, k])``).
SEED = 1414

RANDOM_FAMILIES = (
    "oscillation",
    "exp_range",
    "poles",
    "mixed_sums",
    "coord_scales",
    "kinks",
    "noise",
    "cancellation",
    "edges",
    "user_steps",
    "higher",
)


def _heaviside_np(u: Any) -> Any:
    return np.where(np.asarray(u) > 0, 1.0, 0.0)


#: The formula language as NumPy ...
NP_NAMES: dict[str, Any] = {
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "exp": np.exp,
    "log": np.log,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "tanh": np.tanh,
    "arctan": np.arctan,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "abs": np.abs,
    "relu": lambda u: np.maximum(u, 0.0),
    "heaviside": _heaviside_np,
    "floor": np.floor,
    "pi": np.pi,
}

#: ... and as mpmath (the references).
MP_NAMES: dict[str, Any] = {
    "sin": mpmath.sin,
    "cos": mpmath.cos,
    "tan": mpmath.tan,
    "exp": mpmath.exp,
    "log": mpmath.log,
    "log1p": mpmath.log1p,
    "sqrt": mpmath.sqrt,
    "tanh": mpmath.tanh,
    "arctan": mpmath.atan,
    "arcsin": mpmath.asin,
    "arccos": mpmath.acos,
    "abs": mpmath.fabs,
    "relu": lambda u: max(u, 0),
    "heaviside": lambda u: mpmath.mpf(1 if u > 0 else 0),
    "floor": mpmath.floor,
    "pi": float(np.pi),  # the float64 pi that NumPy's f uses, exactly
}


#: Each random case's formula and parameters, by name (for checks against closed forms).
FORMULAS: dict[str, tuple[str, dict[str, Any]]] = {}


def family_rng(k: int) -> np.random.Generator:
    """The generator of family number `k` (independent of the other families' sizes)."""
    return np.random.default_rng([SEED, k])


def logu(rng: np.random.Generator, lo: float, hi: float, size: Any = None) -> Any:
    """Log-uniform on [lo, hi] (Python floats for a scalar draw)."""
    u = 10 ** rng.uniform(np.log10(lo), np.log10(hi), size)
    return float(u) if size is None else u


def salted_unit(x: Any, salt: int) -> Any:
    """A deterministic pseudo-random number in [-1, 1) from the bits of float64 x and `salt`."""
    a = np.array(x, dtype=np.float64, ndmin=1)
    b = a.view(np.uint64) ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
    for mult in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        b ^= b >> np.uint64(33)
        b *= np.uint64(mult)
    b ^= b >> np.uint64(33)
    u = (b >> np.uint64(11)).astype(np.float64) / 2.0**52 - 1.0
    return u.reshape(np.shape(x))


def _point_unit(x: Any, salt: int, front: str) -> Any:
    """Noise of one number per point: per coordinate for ``derivative``, else of the whole point."""
    if front == "derivative":
        return salted_unit(x, salt)
    h = salted_unit(np.asarray(x, dtype=np.float64), salt)
    w = 1.0 + np.arange(h.shape[0]) * np.pi
    return salted_unit(np.tensordot(w, h, axes=1), salt + 1)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    return np.array2string(np.asarray(v), precision=17, separator=", ", max_line_width=10**4)


def _evaluator(expr: str, params: dict[str, Any], names: dict[str, Any], var: str) -> Callable[[Any], Any]:
    code = compile(expr, f"<{expr}>", "eval")
    scope = {**names, **params}

    def f(x: Any) -> Any:
        return eval(code, {"__builtins__": {}}, {**scope, var: x})

    return f


def _noisy(f0: Callable[[Any], Any], noise: tuple[str, float, int], front: str, expr: str, p: Any) -> Any:
    kind, level, salt = noise
    if kind == "float32":
        g = _evaluator(expr, p, NP_NAMES, "x" if front != "derivative" else "t")
        return lambda x: np.asarray(g(np.asarray(x, dtype=np.float32)), dtype=np.float64)
    if kind == "quantised":
        return lambda x: np.round(np.asarray(f0(x)) / level) * level
    if kind == "relative":
        return lambda x: np.asarray(f0(x)) * (1 + level * _point_unit(x, salt, front))
    if kind == "absolute":
        return lambda x: np.asarray(f0(x)) + level * _point_unit(x, salt, front)
    raise ValueError(f"unknown noise {kind!r}")


def expr_case(
    name: str,
    family: str,
    front: str,
    expr: str,
    x: Any,
    params: dict[str, Any] | None = None,
    *,
    exists: bool = True,
    analytic: bool = True,
    noise: tuple[str, float, int] | None = None,
    v: Any = None,
    **options: Any,
) -> Case:
    """A case from a formula in `t` (``derivative``) or in ``x[i]`` (other front-ends).

    `params` are Python floats (or lists of them) the formula names; `noise` is
    ``(kind, level, salt)``, kind one of float32, quantised (level: the quantum), relative,
    absolute; `exists=False` marks an f with no derivative of the requested order at x.
    """
    p = {
        k: (float(val) if isinstance(val, float | np.floating) else val) for k, val in (params or {}).items()
    }
    var = "t" if front == "derivative" else "x"
    f = _evaluator(expr, p, NP_NAMES, var)
    ref = _evaluator(expr, p, MP_NAMES, var) if exists else None
    if noise is not None:
        f, analytic = _noisy(f, noise, front, expr, p), False
    x = float(x) if np.ndim(x) == 0 else np.asarray(x, dtype=np.float64)
    shown = ", ".join(f"{k}={_fmt(val)}" for k, val in p.items())
    note = f"f = {expr}" + (f" with {shown}" if shown else "")
    if noise is not None:
        note += f"; noise {noise[0]} {noise[1]:.3g} (salt {noise[2]})"
    v = None if v is None else np.asarray(v, dtype=np.float64)
    FORMULAS[name] = (expr, p)
    return Case(name, family, front, f, x, ref, options=options, analytic=analytic, v=v, note=note)


def describe(c: Case) -> str:
    """One line that reproduces a case: front-end, formula, point, options."""
    shown = {k: _fmt(v) if isinstance(v, float | np.ndarray) else repr(v) for k, v in c.options.items()}
    opts = ", ".join(f"{k}={v}" for k, v in shown.items())
    at = f"x={_fmt(c.x)}" + (f", v={_fmt(c.v)}" if c.v is not None else "")
    return f"{c.front}({c.note}; {at}" + (f", {opts}" if opts else "") + ")"


def _build() -> list[Case]:
    from .hard_case_random_families import random_cases

    cases = random_cases()
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise ValueError("duplicate random hard-case names")
    return cases


#: Every random hard case; each reference is computed here, once (``Case.truth`` is cached).
RANDOM_CASES: list[Case] = _build()
for _c in RANDOM_CASES:
    _ = _c.truth
