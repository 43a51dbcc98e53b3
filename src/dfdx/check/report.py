"""The report of a gradient or Jacobian check: what was compared, the verdict and why.

:class:`CheckReport` is what :func:`dfdx.check_gradient` and :func:`dfdx.check_jacobian`
return. Its ``str`` is the complete human report (the command line prints it, and
:func:`dfdx.assert_gradient` raises it); ``to_dict()`` gives the same facts as plain
Python values for machines (JSON-ready).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CheckReport", "EntryCheck", "DirectionCheck", "VERDICTS", "ENTRY_STATUSES"]

#: Overall verdicts. Only "pass" sets ``passed``.
VERDICTS = ("pass", "fail", "not differentiable", "inconclusive")
#: What was concluded about one entry of the gradient (Jacobian).
ENTRY_STATUSES = ("ok", "weak", "inconclusive", "mismatch", "not differentiable", "kink accepted")


@dataclass(frozen=True)
class EntryCheck:
    """One entry of the gradient (Jacobian): the analytic value against the numerical one.

    Attributes
    ----------
    index : tuple of int
        Index into the gradient (``x.shape``) or the Jacobian (``f(x).shape + x.shape``).
    analytic : float
        The value returned by the user's `grad` (`jac`).
    numerical : float
        dfdx's finite-difference value (the estimate the verdict rests on).
    numerical_error : float
        dfdx's estimate of ``|numerical - truth|``.
    tolerance : float
        The largest ``|analytic - numerical|`` accepted for this entry.
    abs_error, rel_error : float
        ``|analytic - numerical|`` and that divided by ``max(|analytic|, |numerical|)``.
    digits : float
        Significant digits on which analytic and numerical values agree (0 to the
        precision of the dtype).
    status : str
        One of ``"ok"``, ``"weak"`` (agrees, but the numerical value is too imprecise
        for a strict check), ``"inconclusive"`` (agrees, but within a tolerance as large
        as the entry itself, even at a step of the entry's own: not verified),
        ``"mismatch"``, ``"not differentiable"`` (the one-sided
        slopes differ: a kink), ``"kink accepted"`` (a kink, and the analytic value
        lies between the one-sided slopes, with ``kinks="accept"``).
    slopes : tuple of float or None
        ``(forward, backward)`` one-sided slopes, where they were measured.
    """

    index: tuple[int, ...]
    analytic: float
    numerical: float
    numerical_error: float
    tolerance: float
    abs_error: float
    rel_error: float
    digits: float
    status: str
    slopes: tuple[float, float] | None = None

    @property
    def ratio(self) -> float:
        """``abs_error / tolerance``: above 1 means outside the tolerance."""
        if self.tolerance > 0:
            return self.abs_error / self.tolerance
        return 0.0 if self.abs_error == 0 else math.inf


@dataclass(frozen=True)
class DirectionCheck:
    """One random direction ``v`` of a directional check: ``grad . v`` against ``d/dt f(x + t v)``.

    For a Jacobian the values are those of the output entry that disagrees most.
    """

    number: int
    analytic: float
    numerical: float
    numerical_error: float
    tolerance: float
    agrees: bool


@dataclass(frozen=True)
class CheckReport:
    """Verdict of :func:`dfdx.check_gradient` or :func:`dfdx.check_jacobian`.

    Attributes
    ----------
    passed : bool
        True when every checked entry agrees within its tolerance (``verdict == "pass"``).
    verdict : str
        ``"pass"``, ``"fail"`` (some entry disagrees: the gradient is wrong there), or
        ``"not differentiable"`` (f has a kink at x along some coordinates, where the
        gradient cannot be judged; no entry was found wrong), or ``"inconclusive"`` (some
        entries could not be verified, numerically, to a tenth of their size; no entry was
        found wrong). Only ``"pass"`` sets ``passed``.
    kind : str
        ``"gradient"`` or ``"jacobian"``.
    mode : str
        ``"full"`` or ``"directional"``.
    shape : tuple of int
        Shape of the gradient (Jacobian).
    dtype : str
        Working precision: the coarsest of x, f(x), grad(x) and the `dtype` option.
    entries : tuple of EntryCheck
        Every entry that did not simply agree, and the closest calls among the others,
        worst first.
    mismatches : tuple of tuple of int
        Indices of the entries found wrong.
    nondifferentiable : tuple of int
        Flat indices of the coordinates of x along which f is not differentiable at x.
    directions : tuple of DirectionCheck
        The random directions of a directional check.
    seed : int or None
        Seed of the random directions (pass it back as ``seed=`` to repeat the check).
    nfev : int
        Evaluations of f the check made, ``f(x)`` included.
    nfev_full : int
        Evaluations a full check of every entry takes (for comparison).
    ngrad : int
        Calls of the analytic gradient (Jacobian).
    tolerance : str
        How each entry's tolerance was formed.
    notes : tuple of str
        Further findings in words.
    missable, missable_relative, missable_index : float, float, tuple of int, or None
        Directional mode only: the largest error one entry alone could carry and still
        agree within the tolerance along every random direction (an error ``delta`` in
        entry ``j`` moves ``grad . v`` by ``delta v_j``, so it is missable up to
        ``min_k tol_k / |v_kj|``), the same relative to the largest entry of its row,
        and the entry where it is largest. Larger errors in one entry are caught; a
        full check bounds every entry by its own tolerance instead.

    Notes
    -----
    ``bool(report)`` is ``report.passed``. ``str(report)`` is the complete human report;
    ``to_dict()`` holds the same facts for machines.

    Examples
    --------
    >>> import json, numpy as np, dfdx
    >>> report = dfdx.check_gradient(lambda x: np.sum(x ** 2), lambda x: 2 * x, [1.0, -2.0])
    >>> print(str(report).splitlines()[0])
    Gradient check PASSED: all 2 entries agree with dfdx's numerical gradient.
    >>> data = report.to_dict()
    >>> data["verdict"], data["mismatches"], data["entries"][0]["status"]
    ('pass', [], 'ok')
    >>> json.loads(json.dumps(data)) == data
    True
    """

    passed: bool
    verdict: str
    kind: str
    mode: str
    shape: tuple[int, ...]
    dtype: str
    entries: tuple[EntryCheck, ...]
    mismatches: tuple[tuple[int, ...], ...]
    nondifferentiable: tuple[int, ...]
    directions: tuple[DirectionCheck, ...]
    seed: int | None
    nfev: int
    nfev_full: int
    ngrad: int
    tolerance: str
    notes: tuple[str, ...] = field(default=())
    show: int = 8
    missable: float | None = None
    missable_relative: float | None = None
    missable_index: tuple[int, ...] | None = None

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        """The report as plain Python values (JSON-serialisable; inf as the string ``"inf"``)."""
        out = asdict(self)
        out.pop("show")
        out["entries"] = [dict(asdict(e), ratio=e.ratio) for e in self.entries]
        out["shape"] = list(self.shape)
        out["mismatches"] = [list(i) for i in self.mismatches]
        out["nondifferentiable"] = list(self.nondifferentiable)
        out["directions"] = [asdict(d) for d in self.directions]
        out["notes"] = list(self.notes)
        return _jsonable(out)  # type: ignore[no-any-return]

    def __str__(self) -> str:
        return "\n".join(_lines(self))

    def __repr__(self) -> str:
        return (
            f"CheckReport(passed={self.passed}, verdict={self.verdict!r}, kind={self.kind!r}, "
            f"mode={self.mode!r}, mismatches={len(self.mismatches)}, nfev={self.nfev})"
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _headline(r: CheckReport) -> str:
    what = "Gradient" if r.kind == "gradient" else "Jacobian"
    size = math.prod(r.shape)
    if r.verdict == "pass":
        kinks = sum(e.status == "kink accepted" for e in r.entries)
        accepted = f" ({kinks} at kinks, between the one-sided slopes)" if kinks else ""
        return f"{what} check PASSED: all {size} entries agree with dfdx's numerical {r.kind}{accepted}."
    if r.verdict == "fail":
        return (
            f"{what} check FAILED: {len(r.mismatches)} of {size} entries disagree with "
            f"dfdx's numerical {r.kind}."
        )
    if r.verdict == "inconclusive":
        unverified = sum(e.status == "inconclusive" for e in r.entries)
        return (
            f"{what} check INCONCLUSIVE: {unverified} of {size} entries could not be verified "
            f"(dfdx's numerical error there is as large as the entry); no entry disagrees."
        )
    coords = ", ".join(str(i) for i in r.nondifferentiable[:10])
    return (
        f"{what} check INCONCLUSIVE: f is not differentiable at x along coordinate(s) {coords}; "
        "the gradient there was not called wrong, and no other entry disagrees."
    )


def _lines(r: CheckReport) -> list[str]:
    lines = [_headline(r)]
    how = f"mode {r.mode!r}, dtype {r.dtype}, shape {r.shape}"
    if r.seed is not None:
        how += f", seed {r.seed}"
    lines.append(f"  {how}")
    lines.append(
        f"  cost: {r.nfev} evaluations of f (a full check takes {r.nfev_full}), "
        f"{r.ngrad} call(s) of the analytic {r.kind}"
    )
    lines.append(f"  tolerance: {r.tolerance}")
    if r.directions:
        bad = sum(not d.agrees for d in r.directions)
        lines.append(f"  random directions: {len(r.directions)}, {bad} disagree")
        for d in r.directions:
            mark = "ok" if d.agrees else "DISAGREES"
            lines.append(
                f"    v{d.number}: analytic grad.v {d.analytic:.10g}, numerical "
                f"{d.numerical:.10g} ± {d.numerical_error:.1e}, tolerance {d.tolerance:.1e}  {mark}"
            )
    if r.missable is not None and r.missable_relative is not None:
        lines.append(
            f"  could miss: one entry off by up to {r.missable:.1e} ({r.missable_relative:.1e} of its "
            f"row's largest entry; the least covered is {_index(r.missable_index)}) agrees along all "
            f"{len(r.directions)} directions; mode='full' checks every entry to its own tolerance"
        )
    if r.nondifferentiable:
        coords = ", ".join(str(i) for i in r.nondifferentiable[:20])
        lines.append(
            f"  not differentiable at x along coordinate(s): {coords} "
            "(the forward and backward slopes differ beyond their error estimates)"
        )
    if r.entries:
        lines.append(
            f"  worst entries (the first {r.show} of the {len(r.entries)} in .entries; show= prints more):"
            if len(r.entries) > r.show
            else "  worst entries:"
        )
        lines.extend("    " + row for row in _table(r.entries[: r.show]))
    lines.extend(f"  note: {n}" for n in r.notes)
    return lines


def _index(index: tuple[int, ...] | None) -> str:
    return "?" if index is None else str(index[0] if len(index) == 1 else index)


def _table(entries: tuple[EntryCheck, ...]) -> list[str]:
    head = (
        "index",
        "analytic",
        "numerical",
        "± num. error",
        "abs error",
        "rel error",
        "tolerance",
        "digits",
        "status",
    )
    rows = [head]
    for e in entries:
        status = e.status.upper() if e.status == "mismatch" else e.status
        if e.slopes is not None and e.status in ("not differentiable", "kink accepted"):
            status += f" (slopes {e.slopes[0]:.6g} fwd, {e.slopes[1]:.6g} bwd)"
        rows.append(
            (
                str(e.index if len(e.index) != 1 else e.index[0]),
                f"{e.analytic:.12g}",
                f"{e.numerical:.12g}",
                f"{e.numerical_error:.1e}",
                f"{e.abs_error:.2e}",
                f"{e.rel_error:.2e}",
                f"{e.tolerance:.1e}",
                f"{e.digits:.1f}",
                status,
            )
        )
    widths = [max(len(row[k]) for row in rows) for k in range(len(head) - 1)]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1] for row in rows
    ]
