"""The directional mode of the checker: random directions, bisection, and what it can miss.

``grad(x) . v`` is compared with dfdx's derivative of f along each random direction
``v``; a direction that disagrees is bisected over blocks of coordinates down to the
suspicious ones, which are then checked in full. Since an error ``delta`` in one entry
``j`` moves ``grad . v`` by ``delta v_j``, the report also states the largest error one
entry could carry and still agree along every direction.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._api import directional
from .options import Options
from .problem import Problem
from .report import CheckReport, DirectionCheck
from .verdicts import judge_columns

__all__ = ["directional_check", "MAX_BLOCKS"]

Array = NDArray[Any]

#: Most blocks followed at once while narrowing a disagreement down; past that the
#: remaining coordinates are checked one by one (bounded by the cost of a full check).
MAX_BLOCKS = 8


def _along(p: Problem, v: Array) -> tuple[Array, Array, int]:
    """Numerical derivative along `v` (flat), its error estimate and the evaluations it took."""
    method = "complex" if p.method == "complex" else "central"
    func, given = p.calling()
    res = directional(
        func,
        p.x,
        v.reshape(p.x.shape),
        method=method,
        accuracy=2,
        **given,
        throw=False,
        vectorized=p.vectorized,
        workers=p.workers,
        **p.numerical,
    )
    value = np.asarray(res.value, dtype=np.float64).reshape(p.m)
    error = np.asarray(res.error, dtype=np.float64).reshape(p.m)
    if not np.all(np.isfinite(value)):
        raise ValueError(p.undefined_message("along a random direction"))
    return value, error, res.nfev


def _test_direction(p: Problem, v: Array, opts: Options) -> tuple[bool, Array, Array, Array, Array, int]:
    """``(suspicious, analytic, numerical, error, tolerance, nfev)`` along `v`."""
    numerical, error, nfev = _along(p, v)
    analytic = p.A @ v
    tol = p.direction_tolerance(v, error, opts)
    loose = error > p.loose_scale_along(v)
    suspicious = bool(np.any(np.abs(analytic - numerical) > tol) or np.any(loose))
    return suspicious, analytic, numerical, error, tol, nfev


def directional_check(p: Problem, opts: Options) -> CheckReport:
    report, missable = _directions(p, opts)
    flat = int(np.argmax(missable))
    bound, row = float(missable.flat[flat]), flat // p.n
    index = tuple(int(k) for k in np.unravel_index(flat, report.shape))
    return dataclasses.replace(
        report, missable=bound, missable_relative=bound / float(p.rowmax[row]), missable_index=index
    )


def _directions(p: Problem, opts: Options) -> tuple[CheckReport, Array]:
    """The random directions and, on a disagreement, the narrowing down; the missable errors."""
    seed = opts.seed if opts.seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
    rng = np.random.default_rng(seed)
    nfev, checks, worst, worst_ratio = 0, [], None, -1.0
    missable = np.full((p.m, p.n), np.inf)
    for k in range(opts.directions):
        v = rng.standard_normal(p.n)
        suspicious, a, d, e, t, used = _test_direction(p, v, opts)
        nfev += used
        # An error delta in entry (i, j) alone moves row i along v by delta v_j.
        with np.errstate(divide="ignore"):
            missable = np.minimum(missable, t[:, None] / np.abs(v)[None, :])
        ratio = np.abs(a - d) / np.where(t > 0, t, np.inf)
        i = int(np.argmax(ratio))
        checks.append(
            DirectionCheck(
                k, float(a[i]), float(d[i]), float(e[i]), float(t[i]), bool(np.all(np.abs(a - d) <= t))
            )
        )
        if suspicious and float(ratio[i]) > worst_ratio:
            worst, worst_ratio = v, float(ratio[i])
    notes: list[str] = []
    if worst is None:
        return p.report(opts, [], (), nfev, tuple(checks), seed, notes), missable
    leaves, used, lost = _narrow(p, worst, opts)
    nfev += used
    if lost:
        notes.append(
            f"{lost} block(s) disagreed along the direction but not along either half: a numerical "
            "artefact of the coarse direction, not confirmed entry by entry."
        )
    if not leaves:
        return p.report(opts, [], (), nfev, tuple(checks), seed, notes), missable
    entries, nondiff, used, more = judge_columns(p, np.array(sorted(leaves), dtype=np.intp), opts)
    notes.extend(more)
    notes.append(f"narrowed down to {len(leaves)} coordinate(s) by bisection, each then checked in full.")
    return p.report(opts, entries, nondiff, nfev + used, tuple(checks), seed, notes), missable


def _narrow(p: Problem, v: Array, opts: Options) -> tuple[list[int], int, int]:
    """Bisect the coordinates along `v` (known to disagree) down to the suspicious ones."""
    level, leaves, nfev, lost = [np.arange(p.n)], [], 0, 0
    while level:
        following = []
        for block in level:
            if len(block) == 1:
                leaves.append(int(block[0]))
                continue
            found = False
            for half in np.array_split(block, 2):
                restricted = np.zeros(p.n)
                restricted[half] = v[half]
                if not np.any(restricted):
                    continue
                suspicious, *_, used = _test_direction(p, restricted, opts)
                nfev += used
                if suspicious:
                    following.append(half)
                    found = True
            lost += not found
        if len(following) > MAX_BLOCKS:
            # Many blocks at once: the gradient is off nearly everywhere; checking the
            # coordinates themselves is then cheaper than following every block down.
            leaves.extend(int(j) for b in following for j in b)
            break
        level = following
    return leaves, nfev, lost
