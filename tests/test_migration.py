"""docs/migration.md tells the truth: each row's dfdx call does what the peer's call does.

Every row of the translation tables is read from the page. Where both cells are calls,
both are run on the same functions, with known exact derivatives, and dfdx's number must
be at least as accurate as the peer's within a factor of ten (plus a floor at the level
of rounding); for a gradient check, both must reach the same verdict. Rows that only
translate an option's name are listed in FRAGMENTS, so that a new row cannot slip by
untested.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import dfdx

PAGE = Path(__file__).resolve().parents[1] / "docs" / "migration.md"

# Left cells that name options or fields, not calls; each is translated in words.
FRAGMENTS = {
    "res.df",
    "res.status",
    "tolerances=dict(atol=a, rtol=r)",
    "maxiter=10",
    "order=8",
    "initial_step=0.5",
    "step_direction=1",
}


def rows() -> list[tuple[str, str, str, str]]:
    """(section, left code, right code or '', the whole row) for every table row."""
    found, section = [], ""
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        left, right = (re.findall(r"`([^`]+)`", cell) for cell in cells[:2])
        found.append((section, left[0], right[0] if right else "", line))
    return found


def _scalar(f_scale: float = 1.0) -> dict:
    def f(x, a=1.0):
        return a * np.exp(x) * np.sin(x)

    x = 0.7
    d1 = np.exp(x) * (np.sin(x) + np.cos(x))
    return {"f": f, "x": x, "exact": {"d1": d1, "d2": 2 * np.exp(x) * np.cos(x)}}


def _vector() -> dict:
    def f(v, a=1.0):  # the variables on the leading axis, as scipy.differentiate wants
        return a * (np.sin(v[0]) * np.exp(v[1]) + v[0] ** 2 * v[1])

    def grad(v, a=1.0):
        return a * np.array(
            [np.cos(v[0]) * np.exp(v[1]) + 2 * v[0] * v[1], np.sin(v[0]) * np.exp(v[1]) + v[0] ** 2]
        )

    x = np.array([0.3, 0.8])
    cross = np.cos(x[0]) * np.exp(x[1]) + 2 * x[0]
    hess = np.array([[-np.sin(x[0]) * np.exp(x[1]) + 2 * x[1], cross], [cross, np.sin(x[0]) * np.exp(x[1])]])
    vec = np.array([3.0, 4.0])
    exact = {"gradient": grad(x), "hessian": hess, "directional": grad(x) @ vec / 5.0}
    return {"f": f, "func": f, "grad": grad, "x": x, "xk": x, "x0": x, "vec": vec, "exact": exact}


def _vector_valued() -> dict:
    def f(v):
        return np.stack([v[0] * v[1], np.sin(v[0]) + v[1] ** 2, np.exp(v[0] - v[1])])

    x = np.array([0.3, 0.8])
    jac = np.array([[x[1], x[0]], [np.cos(x[0]), 2 * x[1]], [np.exp(x[0] - x[1]), -np.exp(x[0] - x[1])]])
    return {"f": f, "x": x, "xk": x, "exact": {"jacobian": jac}}


def _minimize() -> dict:
    def f(v):
        return (v[0] - 1) ** 2 + 10 * (v[1] - v[0] ** 2) ** 2

    return {"f": f, "x0": np.array([-0.5, 0.5]), "exact": {"minimum": np.array([1.0, 1.0])}}


def context(section: str, row: str) -> tuple[dict, str]:
    """The names a row's code uses, and which exact value its result is compared with."""
    if "minimize" in row:
        ctx, kind = _minimize(), "minimum"
    elif "acobian" in row or "vector-valued" in row:
        ctx, kind = _vector_valued(), "jacobian"
    elif "erivative(" in row:
        ctx, kind = _scalar(), "d2" if "n=2" in row else "d1"
    else:
        ctx = _vector()
        kind = "hessian" if "essian(" in row else "directional" if "directional" in row else "gradient"
    ctx.update(np=np, dfdx=dfdx, epsilon=1e-6, h=1e-3, seed=1, a=2.0, args=(2.0,))
    if "args" in row:
        ctx["exact"] = {k: 2.0 * v for k, v in ctx["exact"].items()}
    if "numdifftools" in section:
        ctx["nd"] = pytest.importorskip("numdifftools")
    elif "differentiate" in section:
        import scipy.differentiate as sd

        ctx.update(derivative=sd.derivative, jacobian=sd.jacobian, hessian=sd.hessian)
    else:
        from scipy.optimize import approx_fprime, check_grad, minimize

        ctx.update(approx_fprime=approx_fprime, check_grad=check_grad, minimize=minimize)
    return ctx, kind


def run(code: str, ctx: dict) -> object:
    """Evaluate a cell (``...`` stands for the first arguments); a statement gives True."""
    code = code.replace("...", "func, grad, x0")
    try:
        return eval(code, ctx)  # the page's own code
    except SyntaxError:
        exec(code, ctx)
        return True


def number(result: object) -> object:
    """What to compare: the derivative, a verdict, or the minimiser."""
    if isinstance(result, dfdx.CheckReport):
        return result.passed
    if isinstance(result, dfdx.Result):
        return result.value
    if isinstance(result, tuple):  # numdifftools' full_output
        return result[0]
    for name in ("ddf", "df", "x"):  # scipy.differentiate's results; OptimizeResult
        if hasattr(result, name) and not isinstance(result, np.ndarray):
            return getattr(result, name)
    return result


def verdict(result: object) -> bool:
    return bool(result) if isinstance(result, (bool, np.bool_)) else float(result) < 1e-5


ROWS = rows()


def test_the_tables_were_read():
    sections = {section for section, *_ in ROWS}
    assert len(sections) == 3 and len(ROWS) >= 30


@pytest.mark.parametrize(("section", "left", "right", "row"), ROWS, ids=[r[1] for r in ROWS])
def test_row_matches_the_peer(section, left, right, row):
    if left in FRAGMENTS:
        assert right, f"the row of {left!r} names no dfdx equivalent"
        return
    if not right:
        assert "not supported" in row
        return
    ctx, kind = context(section, row)
    peer, ours = number(run(left, ctx)), number(run(right, ctx))
    if isinstance(ours, (bool, np.bool_)):
        assert verdict(ours) == verdict(peer), (left, peer, right, ours)
        return
    exact = ctx["exact"][kind]
    peer_error = np.max(np.abs(np.asarray(peer) - exact))
    our_error = np.max(np.abs(np.asarray(ours) - exact))
    floor = 1e-4 if kind == "minimum" else 1e-12 * max(1.0, np.max(np.abs(exact)))
    assert our_error <= 10 * peer_error + floor, f"{right}: error {our_error:.1e}; {left}: {peer_error:.1e}"


def test_directionaldiff_normalises_vec_and_dfdx_does_not():
    nd = pytest.importorskip("numdifftools")
    ctx = _vector()
    f, x, vec = ctx["f"], ctx["x"], ctx["vec"]
    along_unit = nd.directionaldiff(f, x, vec)
    np.testing.assert_allclose(along_unit, ctx["exact"]["directional"], rtol=1e-10)
    np.testing.assert_allclose(dfdx.directional(f, x, vec).value, 5.0 * along_unit, rtol=1e-10)


def test_plain_forward_is_far_from_numdifftools_forward():
    """Why the page maps method='forward' to adaptive=True: the plain one loses digits."""
    nd = pytest.importorskip("numdifftools")
    ctx = _vector()
    f, x, hess = ctx["f"], ctx["x"], ctx["exact"]["hessian"]
    peer = np.max(np.abs(nd.Hessian(f, method="forward")(x) - hess))
    plain = np.max(np.abs(dfdx.hessian(f, x, method="forward").value - hess))
    assert plain > 100 * peer
