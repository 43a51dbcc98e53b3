"""Trust on hard cases: silent wrong answers per mode, dfdx against scipy.differentiate and numdifftools.

Run as ``python benchmarks/bench_hard.py [--suite hard|random|all] [--mode M[,M...]] [--verbose]
[--only TEXT] [--no-peers] [--no-mgh]``. The cases and their mpmath references are in ``tests/hard_cases.py``
(the designed suite, ``--suite hard``, the default) and ``tests/hard_case_random.py`` (cases of
the same kinds drawn with seeded generators, ``--suite random``). Each result is:

- covered: ``|value - truth| <= error`` in every entry, with a finite error;
- silent wrong: a trusted status (SUCCESS, ONE_SIDED) and not covered, or any trusted status
  where f has no derivative at x;
- weak >10x: a weaker status (ESTIMATED_ERROR, NOT_CONVERGED, ROUNDOFF) that misses some entry
  by more than 10 times its error (or any weaker status where f has no derivative);
- refused: a status that raises by default (NOT_DIFFERENTIABLE, NONFINITE) or an exception.

The answer rate is covered results among the cases that have a derivative. The peers: for
scipy.differentiate, an entry with ``success`` and an error that does not cover is a silent
wrong and an entry without ``success`` a refusal; numdifftools has no status, so every finite
answer it gives is trusted (a non-finite value counts as a refusal). Peers run on the cases
without ``bounds=`` or ``step=`` (they have neither option); scipy only on first derivatives.

The last table is the Moré-Garbow-Hillstrom bank of ``tests/bank.py`` at its starts x0, 10 x0
and 100 x0: gradient coverage and the median over-estimate (error / true error, over the
components whose true error is not zero).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not any((Path(p) / "dfdx").is_dir() for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p):
    sys.path.insert(0, str(ROOT / "src"))  # this tree's dfdx, unless PYTHONPATH names another

from tests.bank import EXTENDED  # noqa: E402
from tests.hard_cases import CASES, FAMILIES, MODES, Case, Outcome, applies, classify, outcome  # noqa: E402

import dfdx  # noqa: E402

COLUMNS = ("covered", "silent", "weak_miss", "weak", "refused")


@dataclass(frozen=True)
class Suite:
    """The cases a run classifies, their families in order, and each case's family label."""

    cases: list[Case]
    families: tuple[str, ...]
    label: dict[str, str]


def load_suite(which: str) -> Suite:
    """``hard`` (the designed suite), ``random`` (drawn at random) or ``all`` (both; the random
    suite's families are then labelled ``random/<family>``)."""
    parts: list[tuple[list[Case], tuple[str, ...], str]] = []
    if which in ("hard", "all"):
        parts.append((CASES, FAMILIES, ""))
    if which in ("random", "all"):
        from tests.hard_case_random import RANDOM_CASES, RANDOM_FAMILIES

        parts.append((RANDOM_CASES, RANDOM_FAMILIES, "random/" if which == "all" else ""))
    cases = [c for part in parts for c in part[0]]
    if len({c.name for c in cases}) != len(cases):
        raise ValueError("case names repeat across the suites")
    families = tuple(prefix + f for _, fams, prefix in parts for f in fams)
    label = {c.name: prefix + c.family for part, _, prefix in parts for c in part}
    return Suite(cases, families, label)


def peer_applies(case: Case, peer: str) -> bool:
    if "bounds" in case.options or "step" in case.options:
        return False
    return peer != "scipy" or case.n == 1


def _scipy_call(case: Case) -> Any:
    import scipy.differentiate as sd

    f, x = case.f, np.asarray(case.x, dtype=float)
    if case.front == "derivative":
        return sd.derivative(f, x)
    if case.front == "directional":
        v = np.asarray(case.v, dtype=float)

        def g(t: Any) -> Any:
            shape = (-1,) + (1,) * np.ndim(t)
            return f(x.reshape(shape) + t * v.reshape(shape))

        return sd.derivative(g, 0.0)
    if case.front == "hessian":
        return sd.hessian(lambda z: np.asarray(f(z)) + 0 * z[0], x)
    return sd.jacobian(lambda z: np.asarray(f(z)) + 0 * z[0], x)


def scipy_outcome(case: Case) -> Outcome:
    try:
        r = _scipy_call(case)
    except Exception as exc:
        return Outcome("refused", message=f"{type(exc).__name__}: {exc}")
    ok = np.asarray(r.success, dtype=bool)
    status = "SUCCESS" if ok.all() else "NONFINITE"
    df = r.ddf if case.front == "hessian" else r.df
    if not case.exists:
        return Outcome("silent" if ok.any() else "refused", df, r.error, status)
    with np.errstate(all="ignore"):
        covered = np.abs(df - case.truth) <= r.error
    if np.any(ok & ~covered):
        verdict = "silent"
    else:
        verdict = "covered" if ok.all() else "refused"
    return Outcome(verdict, df, r.error, status)


def _nd_call(case: Case) -> tuple[Any, Any]:
    import numdifftools as nd

    f, x = case.f, np.asarray(case.x, dtype=float)
    if case.front == "derivative":
        parts = [nd.Derivative(f, n=case.n, full_output=True)(xi) for xi in x.ravel()]
        val = np.reshape([p.estimate for p in parts], x.shape)
        return val, np.reshape([p.error_estimate for p in parts], x.shape)
    if case.front == "directional":
        v = np.asarray(case.v, dtype=float)
        out = nd.Derivative(lambda t: f(x + t * v), full_output=True)(0.0)
        return out.estimate, out.error_estimate
    cls = {"gradient": nd.Gradient, "jacobian": nd.Jacobian, "hessian": nd.Hessian}[case.front]
    func = (lambda z: np.asarray(f(z), dtype=float)) if case.front == "jacobian" else f
    out = cls(func, full_output=True)(x)
    shape = np.shape(case.truth) if case.exists else np.shape(out.estimate)
    return np.reshape(out.estimate, shape), np.reshape(out.error_estimate, shape)


def nd_outcome(case: Case) -> Outcome:
    try:
        val, err = _nd_call(case)
    except Exception as exc:
        return Outcome("refused", message=f"{type(exc).__name__}: {exc}")
    status = "SUCCESS" if np.all(np.isfinite(val)) else "NONFINITE"
    return Outcome(classify(val, err, status, case.truth, case.exists), val, err, status)


PEERS = {"scipy": scipy_outcome, "numdifftools": nd_outcome}


def run_all(suite: Suite, modes: list[str], peers: bool) -> dict[str, dict[str, Outcome]]:
    results: dict[str, dict[str, Outcome]] = {}
    for mode in modes:
        results[mode] = {c.name: outcome(c, mode) for c in suite.cases if applies(c, mode)}
    if peers:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for peer, run in PEERS.items():
                results[peer] = {c.name: run(c) for c in suite.cases if peer_applies(c, peer)}
    return results


def print_summary(suite: Suite, results: dict[str, dict[str, Outcome]]) -> None:
    exists = {c.name: c.exists for c in suite.cases}
    head = f"{'mode':<14}{'cases':>6}{'covered':>9}{'silent':>8}{'weak>10x':>10}{'weak':>6}{'refused':>9}"
    print(head + f"{'answer rate':>13}")
    for mode, res in results.items():
        n = Counter(o.verdict for o in res.values())
        with_d = [name for name in res if exists[name]]
        rate = sum(res[name].verdict == "covered" for name in with_d) / max(len(with_d), 1)
        cells = "".join(f"{n[k]:>{w}}" for k, w in zip(COLUMNS, (9, 8, 10, 6, 9), strict=True))
        print(f"{mode:<14}{len(res):>6}{cells}{rate:>12.0%}")
    for mode, res in results.items():
        crashed = sorted(k for k, o in res.items() if o.verdict == "refused" and o.status is None)
        if crashed and mode in MODES:
            print(f"  {mode}: {len(crashed)} refusals are exceptions inside dfdx: {', '.join(crashed)}")


def print_families(suite: Suite, results: dict[str, dict[str, Outcome]]) -> None:
    family, width = suite.label, max(14, *(len(f) + 1 for f in suite.families))
    print("\nsilent wrong answers per family (cases in the family in brackets)")
    print(f"{'family':<{width}}" + "".join(f"{m:>13}" for m in results))
    for fam in suite.families:
        row = ""
        for res in results.values():
            names = [k for k in res if family[k] == fam]
            row += f"{sum(res[k].verdict == 'silent' for k in names):>7} ({len(names):>3})"
        print(f"{fam:<{width}}{row}")


def _short(a: Any) -> str:
    return np.array2string(np.asarray(a), precision=4, max_line_width=200, threshold=6).replace("\n", "")


def print_silent(suite: Suite, results: dict[str, dict[str, Outcome]]) -> None:
    from tests.hard_case_random import describe

    family, by_name = suite.label, {c.name: c for c in suite.cases}
    truth = {c.name: c.truth for c in suite.cases}
    for mode, res in results.items():
        bad = sorted((family[k], k) for k, o in res.items() if o.verdict == "silent")
        print(f"\n--- {mode}: {len(bad)} silent wrong ---")
        for fam, name in bad:
            o = res[name]
            if truth[name] is None:
                t, miss = "no derivative", ""
            else:
                with np.errstate(all="ignore"):
                    d = np.abs(np.asarray(o.value, dtype=complex) - truth[name])
                t, miss = _short(truth[name]), f" |miss| {_short(d)}"
            print(
                f"[{fam}] {name}: value {_short(o.value)} truth {t} error {_short(o.error)}{miss} "
                f"status {o.status} step {_short(o.step)}"
            )
            if by_name[name].note.startswith("f = "):
                print(f"    {describe(by_name[name])}")


def _mgh_gradient(p: Any, mode: str) -> tuple[Any, Any]:
    if mode == "scipy":
        from scipy.differentiate import jacobian

        r = jacobian(lambda z: np.asarray(p.f(z)) + 0 * z[0], p.x)
        return r.df, np.where(r.success, r.error, np.inf)
    if mode == "numdifftools":
        import numdifftools as nd

        out = nd.Gradient(p.f, full_output=True)(p.x)
        return np.ravel(out.estimate), np.ravel(out.error_estimate)
    r = dfdx.gradient(p.f, p.x, throw=False, **MODES[mode])
    return r.value, r.error


def print_mgh(modes: list[str]) -> None:
    bank = [p for p in EXTENDED if {"mgh", "mgh_scaled"} & set(p.tags)]
    print(f"\nMoré-Garbow-Hillstrom bank at x0, 10 x0, 100 x0: {len(bank)} problems")
    print(f"{'mode':<14}{'components':>11}{'coverage':>10}{'median over-estimate':>22}")
    for mode in modes:
        covered, over = [], []
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for p in bank:
                val, err = _mgh_gradient(p, mode)
                miss = np.abs(np.asarray(val, dtype=float) - p.exact_gradient)
                err = np.asarray(err, dtype=float)
                covered.append(np.isfinite(err) & (miss <= err))
                over.append((err / miss)[(miss > 0) & np.isfinite(err)])
        cov, ov = np.concatenate(covered), np.concatenate(over)
        print(f"{mode:<14}{cov.size:>11}{cov.mean():>10.1%}{np.median(ov):>21.3g}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=("hard", "random", "all"), default="hard", help="which cases")
    ap.add_argument(
        "--only", help="run only the cases whose name contains this text (with --verbose: reproduce one)"
    )
    ap.add_argument("--mode", help="comma-separated modes: " + ", ".join([*MODES, *PEERS]))
    ap.add_argument("--verbose", action="store_true", help="list every silent wrong answer")
    ap.add_argument("--no-peers", action="store_true", help="skip scipy.differentiate and numdifftools")
    ap.add_argument("--no-mgh", action="store_true", help="skip the Moré-Garbow-Hillstrom bank")
    args = ap.parse_args()
    chosen = args.mode.split(",") if args.mode else [*MODES, *PEERS]
    unknown = set(chosen) - set(MODES) - set(PEERS)
    if unknown:
        ap.error(f"unknown mode(s) {sorted(unknown)}")
    modes = [m for m in chosen if m in MODES]
    peers = not args.no_peers and any(m in PEERS for m in chosen)
    suite = load_suite(args.suite)
    if args.only:
        picked = [c for c in suite.cases if args.only in c.name]
        suite = Suite(picked, suite.families, {c.name: suite.label[c.name] for c in picked})
    results = run_all(suite, modes, peers)
    results = {k: v for k, v in results.items() if k in chosen}
    exists = sum(c.exists for c in suite.cases)
    print(f"dfdx from {Path(dfdx.__file__).parent.parent}")
    print(f"{len(suite.cases)} hard cases ({exists} with a derivative), {len(suite.families)} families")
    print_summary(suite, results)
    print_families(suite, results)
    if args.verbose:
        print_silent(suite, results)
    if not args.no_mgh:
        print_mgh([m for m in chosen if m in MODES or not args.no_peers])


if __name__ == "__main__":
    main()
