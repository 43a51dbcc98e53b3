"""The fixed-step error model of :mod:`dfdx.numerics.error_model` on Python floats, for tiny gradients.

A gradient in a few variables costs NumPy a microsecond per array operation whatever
the size, and the model takes about ninety of them. This module computes, entry by
entry, exactly what :func:`dfdx.numerics.error_model.combine` computes for a real
first-derivative stencil along the coordinate axes of a scalar f: the same operations
in the same order, so the same bits (the tests compare the two on random problems).

For speed the arithmetic of one column is generated once per stencil as straight-line
Python (:func:`_compile`): no loops, no lists, every weight a literal. Powers are the
one thing not done in Python: NumPy's ``pow`` on arrays may differ from the C
library's in the last bit, so fractional powers go through one NumPy call for all
columns, and integer powers of the (power-of-two) steps are exact shifts. Where NumPy
would produce inf or NaN along the way, :class:`Unsupported` is raised and the caller
falls back to the vector model.

Pure numerics: it sees the values of f at the stencil points, never f.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .error_model import (
    EXACT_BITS,
    NOISE_FACTOR,
    SAFETY_MEASURED,
    SAFETY_MODELLED,
    SCRAMBLED,
    SIGNIFICANCE,
    TINY,
    tables,
)
from .stencils import Stencil

__all__ = ["Unsupported", "supports", "combine_axes", "combine_complex_axes"]

_INF = math.inf


class Unsupported(ArithmeticError):
    """A value the vector model would turn into inf or NaN: use it instead."""


@dataclass(frozen=True, eq=False)
class _Code:
    """One stencil's model: generated functions and the constants they do not inline."""

    head: Callable[..., Any]  # (vals, f0, absf0, h, eps) -> (value, D, noise, spread)
    middle: Callable[..., Any]  # (vals, *head, floor, ...) -> (rounding, mags, noises, sig, ratios)
    finish: Callable[..., Any]  # (grown, mags, noises, sig, reach, h, hp) -> (truncation, modelled)
    shrink: Callable[..., Any]  # (vals, D, noise, absf0, eps, scale) -> factor of the rounding bound
    powers: Callable[..., Any]  # (h,) -> (h ** orders..., h ** accuracy) for a power of two h, or None
    unit_pairs: tuple[bool, ...]  # pairs whose rate is their ratio itself (power 1)
    orders: tuple[int, ...]
    pair_powers: Any  # (1, P) array
    pairs: tuple[tuple[int, int], ...]
    top_rows: tuple[int, ...]
    scramble_row: int
    floor_factor: float
    accuracy: int


def supports(stencil: Stencil) -> bool:
    """Whether :func:`combine_axes` applies: first-derivative stencils, real or complex."""
    return stencil.n == 1


def _sum(weights: Any, names: list[str]) -> str:
    """``w_0 * a + w_1 * b + ...``: Python adds left to right, as ``_node_sum``."""
    return " + ".join(f"{float(w)!r} * {v}" for w, v in zip(weights, names, strict=True))


def _maximum(a: str, b: str) -> str:
    """Source of ``np.maximum(a, b)`` on floats: NaN if either is."""
    return f"({a} if ({a} != {a} or ({b} == {b} and {a} >= {b})) else {b})"


@lru_cache(maxsize=64)
def _compile(stencil: Stencil) -> _Code:
    """Generate the straight-line arithmetic of one column for `stencil`."""
    t = tables(stencil)
    K, L = len(t.offsets), len(t.orders)
    v = [f"v{k}" for k in range(K)]
    d = [f"d{k}" for k in range(K)]
    a = [f"a{k}" for k in range(K)]
    rows = range(L)
    head = [
        "def head(vals, f0, absf0, h, eps):",
        f"    {', '.join(v)}, = vals",
        *(f"    {d[k]} = {v[k]} - f0" for k in range(K)),
        *(f"    {a[k]} = abs({v[k]})" for k in range(K)),
        f"    value = ({_sum(t.weights, d)}) / h",
        f"    D = ({', '.join(_sum(t.coef[r], d) for r in rows)},)",
        "    N = ("
        + ", ".join(f"eps * ({_sum(t.coef_abs[r], a)} + {float(t.centre_abs[r])!r} * absf0)" for r in rows)
        + ",)",
        f"    spread = {_sum(t.weights_abs, [f'abs({x})' for x in d])}",
        "    return value, D, N, spread",
    ]
    m = [f"m{r}" for r in rows]
    q = [f"q{r}" for r in rows]
    s = [f"s{r}" for r in rows]
    pairs = [(i, j) for i, j, _ in t.pairs]
    tail = [
        "def middle(vals, value, D, N, spread, floor, absf0, eps, scale, short, h, hp):",
        "    bound = N[0] + floor",
        "    if short:",
        "        factor = shrink(vals, D, N, absf0, eps, scale)",
        "        if factor != 1.0:",
        f"            N = ({''.join(f'factor * N[{r}], ' for r in rows)})",
        "            bound = factor * bound",
        "    size = abs(value)",
        "    rounding = bound / h + eps * (spread / h + size)",
        f"    {m[0]} = size",
        f"    {q[0]} = rounding",
        *(f"    {m[r]} = abs(D[{r}]) / hp[{r}]" for r in rows if r),
        *(f"    {q[r]} = N[{r}] / hp[{r}]" for r in rows if r),
        # Only an overflow makes a magnitude infinite (and a ratio of two NaN).
        *([f"    if {' + '.join(m[1:])} == INF: raise Unsupported"] if L > 1 else []),
        *(f"    {s[r]} = {m[r]} > {SIGNIFICANCE!r} * {q[r]}" for r in rows),
        "    ratios = ("
        + "".join(f"{m[j]} / {m[i]} if {s[i]} and {s[j]} else 1.0, " for i, j in pairs)
        + ")",
        f"    return rounding, ({', '.join(m)},), ({', '.join(q)},), ({', '.join(s)},), ratios",
    ]
    finish = [
        "def finish(g, M, Q, S, reach, h, hp):",
        f"    {', '.join(m)}, = M",
        f"    {', '.join(q)}, = Q",
        f"    {', '.join(s)}, = S",
        *_median_source(pairs),
        *_parity_source(list(zip(*t.parity_ends.tolist(), strict=True)) if t.parity_ends.size else []),
        "    measured = rate == rate and rate < INF and rate > 0",
        "    if not measured:",
        "        rate = 1.0 / reach",
    ]
    for n, (row, factor, steps) in enumerate(t.extrapolate_steps):
        grown = _maximum(m[row], q[row]) if row > 0 else m[row]
        power = {1: "rate", 2: "(rate * rate)"}[steps]  # NumPy squares by multiplying too
        finish.append(f"    term = {grown} * {factor!r} * {power}")
        finish.append("    drive = term" if n == 0 else f"    drive = {_maximum('drive', 'term')}")
    front = (SAFETY_MODELLED if L == 1 else SAFETY_MEASURED) * abs(stencil.error_coefficient)
    finish += [
        f"    hpa = {'hp[-1]' if stencil.accuracy >= 3 else 'h' if stencil.accuracy == 1 else '(h * h)'}",
        f"    truncation = {front!r} * hpa * drive",
        "    if truncation != truncation or truncation == INF:",
        "        truncation = INF",
        f"    return truncation, {'not measured' if L == 1 else 'False'}",
    ]
    namespace: dict[str, Any] = {
        "INF": _INF,
        "nan": math.nan,
        "sqrt": math.sqrt,
        "frexp": math.frexp,
        "Unsupported": Unsupported,
    }
    source = head + tail + finish + _shrink_source(t, v) + _powers_source(t, stencil.accuracy)
    exec("\n".join(source), namespace)  # noqa: S102  (source built above from our own floats)
    return _Code(
        head=namespace["head"],
        middle=namespace["middle"],
        finish=namespace["finish"],
        shrink=namespace["shrink"],
        powers=namespace["powers"],
        unit_pairs=tuple(p == 1.0 for _, _, p in t.pairs),
        orders=tuple(int(o) for o in t.orders),
        pair_powers=np.array([[p for _, _, p in t.pairs]]),
        pairs=tuple((i, j) for i, j, _ in t.pairs),
        top_rows=tuple(t.top_rows.tolist()),
        scramble_row=t.scramble_row,
        floor_factor=t.floor_factor,
        accuracy=stencil.accuracy,
    )


def _shrink_source(t: Any, v: list[str]) -> list[str]:
    """``_shrink`` for one column whose f(x) has a short mantissa: the factor, 1 if unproven."""
    if not t.scramble_row:
        return ["def shrink(vals, D, N, absf0, eps, scale):", "    return 1.0"]
    short = " and ".join(f"(frexp({x})[0] * scale).is_integer()" for x in v)
    seen = ", ".join(f"abs(D[{r}]) / (N[{r}] + {TINY!r})" for r in t.top_rows.tolist())
    return [
        "def shrink(vals, D, N, absf0, eps, scale):",
        f"    {', '.join(v)}, = vals",
        f"    if not ({short}):",
        "        return 1.0",
        f"    level = max(absf0, {', '.join(f'abs({x})' for x in v)})",
        f"    if not abs(D[{t.scramble_row}]) > {SCRAMBLED!r} * (eps * level):",
        "        return 1.0",
        f"    return min({NOISE_FACTOR!r} * max({seen}{',' if len(t.top_rows) == 1 else ''}), 1.0)"
        if len(t.top_rows) > 1
        else f"    return min({NOISE_FACTOR!r} * {seen}, 1.0)",
    ]


def _powers_source(t: Any, accuracy: int) -> list[str]:
    """``h ** o`` for the orders (and the accuracy, if 3 or more) by products: exact for
    a power of two h without underflow or overflow, where NumPy's ``pow`` is exact too."""
    exponents = [int(o) for o in t.orders] + ([accuracy] if accuracy >= 3 else [])
    top = max(exponents)
    lines = [
        "def powers(h):",
        "    mantissa, e = frexp(h)",
        f"    if mantissa != 0.5 or not -1022 <= (e - 1) * {top} <= 1023:",
        "        return None",
        "    p1 = h",
    ]
    lines += [f"    p{k} = p{k - 1} * h" for k in range(2, top + 1)]
    lines.append(f"    return ({', '.join(f'p{k}' for k in exponents)},)")
    return lines


def _median_source(pairs: list[tuple[int, int]]) -> list[str]:
    """``_median_rate``: the mean of the two middle significant rates (NaN if none)."""
    if not pairs:
        return ["    rate = nan"]
    if len(pairs) == 1:
        i, j = pairs[0]
        return [f"    rate = g[0] if s{i} and s{j} else nan"]
    lines = ["    rates = []"]
    lines += [f"    if s{i} and s{j}: rates.append(g[{p}])" for p, (i, j) in enumerate(pairs)]
    lines += [
        "    c = len(rates)",
        "    if c:",
        "        rates.sort()",
        "        rate = 0.5 * (rates[(c - 1) // 2] + rates[c // 2])",
        "    else:",
        "        rate = nan",
    ]
    return lines


def _parity_source(ends: list[tuple[int, ...]]) -> list[str]:
    """The growth over two orders of each parity bounds the rate (``np.fmax``: numbers win)."""
    lines = []
    for lo, hi in ends:
        lines += [
            f"    if s{lo} and s{hi}:",
            f"        r = sqrt(m{hi} / m{lo})",
            "        if rate != rate or r > rate:",
            "            rate = r",
        ]
    return lines


def _powers(code: _Code, h: list[float]) -> list[Any]:
    """``h_j ** e`` for the orders (and accuracy) as NumPy's array ``pow`` gives them."""
    out = [code.powers(hj) for hj in h]
    if None in out:
        exponents = code.orders + ((code.accuracy,) if code.accuracy >= 3 else ())
        return (np.array(h)[:, None] ** np.array([exponents], dtype=float)).tolist()  # type: ignore[no-any-return]
    return out


def combine_axes(
    stencil: Stencil, values: list[list[float]], f0: float, h: list[float], reach: list[float], eps: float
) -> tuple[list[float], list[float], list[bool]]:
    """Derivative, error estimate and `modelled` flag of each column (finite inputs).

    The arguments are those of :func:`dfdx.numerics.error_model.combine` for a scalar f with
    ``sum_columns=True``, as lists: ``values[j][k]`` is f at node ``k`` of column ``j``.

    Raises
    ------
    Unsupported, ZeroDivisionError
        Where NumPy would make inf or NaN: use the vector model.
    """
    code = _compile(stencil)
    ncols = len(values)
    absf0 = abs(f0)
    heads = [code.head(values[j], f0, absf0, h[j], eps) for j in range(ncols)]
    total = 0.0
    for j in range(ncols):
        sens = reach[j] * abs(heads[j][0])
        sens = sens if sens < _INF else 0.0  # NaN and inf: no floor
        total = sens if j == 0 else total + sens
    floor = eps * code.floor_factor * total
    scale = 2.0**-EXACT_BITS / eps
    mantissa = math.frexp(f0)[0] * scale
    # f(x) short: f may be computed exactly (module notes of _error_model).
    short = bool(code.scramble_row) and (math.isinf(mantissa) or mantissa.is_integer())
    hp = _powers(code, h)
    mids = [
        code.middle(values[j], *heads[j], floor, absf0, eps, scale, short, h[j], hp[j]) for j in range(ncols)
    ]
    grown = _rates(code, [m[4] for m in mids], [m[3] for m in mids])
    error, modelled = [], []
    for j in range(ncols):
        rounding, mags, noises, sig, _ = mids[j]
        truncation, flag = code.finish(grown[j], mags, noises, sig, reach[j], h[j], hp[j])
        error.append(rounding + truncation)
        modelled.append(flag)
    return [head[0] for head in heads], error, modelled


def _rates(code: _Code, ratios: list[tuple[float, ...]], sig: list[tuple[bool, ...]]) -> list[Any]:
    """``ratio ** (1 / order gap)`` of every pair, by NumPy where the power is not 1.

    Pairs that do not count keep their placeholder; if every pair that counts has
    power 1, NumPy is not needed at all.
    """
    for ss in sig:
        for (i, j), unit in zip(code.pairs, code.unit_pairs, strict=True):
            if not unit and ss[i] and ss[j]:
                return (np.array(ratios) ** code.pair_powers).tolist()  # type: ignore[no-any-return]
    return ratios


def combine_complex_axes(
    stencil: Stencil, values: list[list[float]], h: list[float], reach: list[float], eps: float
) -> tuple[list[float], list[float], list[bool]]:
    """:func:`combine_axes` for the complex step: `values` are the imaginary parts.

    ``_complex`` of :mod:`dfdx.numerics.error_model` for a scalar f: no subtraction, the
    rounding of the terms of f as a floor, the truncation modelled.
    """
    t = tables(stencil)
    weights, weights_abs = t.weights.tolist(), t.weights_abs.tolist()
    p = stencil.accuracy
    value, rounding = [], []
    total = 0.0
    for j, vals in enumerate(values):
        val = weights[0] * vals[0]
        spread = weights_abs[0] * abs(vals[0])
        for k in range(1, len(weights)):
            val = val + weights[k] * vals[k]
            spread = spread + weights_abs[k] * abs(vals[k])
        val = val / h[j]
        value.append(val)
        rounding.append(eps * (spread / h[j] + abs(val)))
        sens = reach[j] * abs(val)
        sens = sens if sens < _INF else 0.0  # np.nan_to_num(posinf=0): NaN and inf count 0
        total = sens if j == 0 else total + sens
    powers = _powers_of(h, p)
    scales = _powers_of(reach, p)
    front = SAFETY_MODELLED * abs(stencil.error_coefficient)
    factor = t.extrapolate[0][1]
    error = []
    for j in range(len(values)):
        q = front * powers[j] * (abs(value[j]) * factor / scales[j])
        q = q if q == q and q < _INF else _INF
        error.append(rounding[j] + eps * total / reach[j] + q)
    return value, error, [False] * len(values)


def _powers_of(a: list[float], p: int) -> list[float]:
    """``np.asarray(a) ** p`` for an integer p: squares by multiplying, else NumPy's ``pow``."""
    if p == 1:
        return a
    if p == 2:
        return [v * v for v in a]
    return (np.array(a) ** p).tolist()  # type: ignore[no-any-return]
