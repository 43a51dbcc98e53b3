"""Command line: ``dfdx derivative|gradient|jacobian|hessian|check|plot|demo``.

``main(argv=None) -> int`` is the entry point of both ``dfdx`` and ``python -m dfdx``.
Exit codes: 0 success; 1 a failed check or a failed differentiation (the report says
why); 2 a mistake in the input, shown as one line on stderr (``--debug`` shows the
traceback). Expressions are compiled by :mod:`dfdx._expr`, never ``eval``-ed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import sys
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, NoReturn

import numpy as np

from . import _api
from ._cli_io import UsageError, format_table, load_target, parse_numbers, parse_point, to_json
from ._validate import METHODS

__all__ = ["main"]

_EXPRESSION = "(2*w1 + 3*w2 - 5)**2 + (w1 - w2 - 1)**2"
_INSTALL_PLOT = "pip install 'dfdx[plot]'"


def seed_loss(w: np.ndarray) -> float:
    """The seed tutorial's loss ``L(w1, w2) = (2 w1 + 3 w2 - 5)^2 + (w1 - w2 - 1)^2``."""
    w1, w2 = w[0], w[1]
    return float((2 * w1 + 3 * w2 - 5) ** 2 + (w1 - w2 - 1) ** 2)


def seed_loss_gradient(w: np.ndarray) -> np.ndarray:
    """Its gradient by hand: ``(10 w1 + 10 w2 - 22, 10 w1 + 20 w2 - 28)``."""
    w1, w2 = w[0], w[1]
    return np.array([10 * w1 + 10 * w2 - 22, 10 * w1 + 20 * w2 - 28])


# -- options shared by the differentiating commands -------------------------------------


def _options(args: argparse.Namespace, size: int | None = None) -> dict[str, Any]:
    """The Python API's keyword arguments for the options the user gave (and only those)."""
    options: dict[str, Any] = {}
    for name in ("method", "accuracy", "rtol", "atol", "max_steps"):
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
    if getattr(args, "step", None) is not None:
        steps = parse_numbers(args.step, "--step")
        options["step"] = steps[0] if len(steps) == 1 else np.array(steps)
    if getattr(args, "adaptive", False):
        options["adaptive"] = True
    if getattr(args, "noise", None) is not None:
        options["noise"] = (
            "auto" if args.noise == "auto" else parse_numbers(args.noise, "--noise (a number or 'auto')")[0]
        )
    return options


@contextlib.contextmanager
def _workers(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """``--workers N``: a pool of N processes (f runs in parallel despite the GIL)."""
    count = getattr(args, "workers", None)
    if count is None:
        yield {}
        return
    with ProcessPoolExecutor(max_workers=count) as pool:
        yield {"workers": pool}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _emit(args: argparse.Namespace, text: str, data: Any = None) -> None:
    print(json.dumps(data, allow_nan=False) if args.json and data is not None else text)


# -- commands ----------------------------------------------------------------------------


def _differentiate(args: argparse.Namespace) -> int:
    kind = args.command
    point = parse_point(args.at)
    target = load_target(args.target, point, elementwise=kind == "derivative")
    options = _options(args)
    if kind == "derivative":
        options["n"] = args.n
    front_end = {
        "derivative": _api.derivative,
        "gradient": _api.gradient,
        "jacobian": _api.jacobian,
        "hessian": _api.hessian,
    }[kind]
    with _workers(args) as pool:
        if target.vectorizable and not pool and kind != "hessian":
            options["vectorized"] = True
        with np.errstate(all="ignore"):
            res = front_end(target.function, target.x, throw=False, **options, **pool)
    if args.json:
        print(to_json(kind, target, res))
    else:
        print(format_table(kind, target, point, res, n=args.n if kind == "derivative" else 1))
    return 1 if res.status.failed else 0


def _check(args: argparse.Namespace) -> int:
    import dfdx

    point = parse_point(args.at)
    f = load_target(args.function, point)
    grad = load_target(args.gradient, point, unused_ok=True)
    check_gradient = getattr(dfdx, "check_gradient", None)
    if check_gradient is None:
        raise UsageError("this version of dfdx has no gradient checker (dfdx.check_gradient)")
    options = _options(args)
    for name in ("mode", "directions", "seed"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    with _workers(args) as pool, np.errstate(all="ignore"):
        report = check_gradient(f.function, grad.function, f.x, **options, **pool)
    _emit(args, str(report), {"passed": bool(report.passed), "report": str(report)})
    return 0 if report.passed else 1


def _figure() -> Any:
    """A matplotlib Figure without pyplot: no display, no global state."""
    from matplotlib.figure import Figure

    return Figure(figsize=(6.4, 5.2), layout="constrained")


def _plot_module() -> Any:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(f"pictures need matplotlib: {_INSTALL_PLOT}") from None
    try:
        plot = importlib.import_module("dfdx.plot")
    except ModuleNotFoundError as exc:
        if exc.name != "dfdx.plot":
            raise
        raise UsageError("this version of dfdx has no pictures (dfdx.plot)") from None
    return plot


def _output_path(path: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".png", ".svg", ".pdf"):
        raise UsageError(f"`-o` must end in .png, .svg or .pdf (the format), got {path!r}")
    return path


def _plot(args: argparse.Namespace) -> int:
    output = _output_path(args.output)
    plot = _plot_module()
    point = parse_point(args.at)
    options = _options(args)
    fig = _figure()
    ax = fig.add_subplot()
    if args.picture == "contour":
        target = load_target(args.target, point)
        extent = parse_numbers(args.extent, "--extent") if args.extent else None
        if extent is not None and len(extent) != 4:
            raise UsageError("`--extent` takes four numbers: xmin,xmax,ymin,ymax")
        with np.errstate(all="ignore"):
            plot.contour(
                target.function,
                target.x,
                ax=ax,
                extent=extent,
                names=target.labels,
                field=args.field,
                descent=args.descent,
                levels=args.levels,
                **options,
            )
    else:
        target = load_target(args.target, point, elementwise=len(point.values) == 1)
        if args.exact is not None:
            exact = parse_numbers(args.exact, "--exact")
            options["exact"] = exact[0] if len(exact) == 1 else np.array(exact)
        if args.methods is not None:
            options["methods"] = tuple(m.strip() for m in args.methods.split(","))
        with np.errstate(all="ignore"):
            plot.step_error(target.function, target.x, ax=ax, **options)
    fig.savefig(output)
    _emit(
        args,
        f"{args.picture} of {target.text} at {point.describe()} written to {output}",
        {"picture": args.picture, "output": os.path.abspath(output)},
    )
    return 0


def _demo_picture(output: str) -> tuple[str, str | None]:
    """Draw the seed's contour with the gradient arrow: (sentence to print, path or None)."""
    try:
        plot = _plot_module()
    except UsageError as exc:
        return f"No picture: {exc}.", None
    fig = _figure()
    ax = fig.add_subplot()
    plot.contour(seed_loss, np.array([1.0, 1.0]), ax=ax, extent=(-1.0, 3.0, -1.0, 3.0), names=("w1", "w2"))
    fig.savefig(output)
    path = os.path.abspath(output)
    return f"The contour of L with the gradient arrow at (1, 1) is in {path}", path


def _demo(args: argparse.Namespace) -> int:
    output = _output_path(args.output)
    point = np.array([1.0, 1.0])
    res = _api.gradient(seed_loss, point)
    value, error = np.asarray(res.value), np.asarray(res.error)
    exact = seed_loss_gradient(point)
    difference = np.abs(value - exact)
    covered = bool(np.all(difference <= res.error))
    lines = [
        "The seed tutorial's loss L(w1, w2) = (2 w1 + 3 w2 - 5)^2 + (w1 - w2 - 1)^2 at (1, 1)",
        "",
        f"{'':12}{'dL/dw1':>24}{'dL/dw2':>24}",
        f"{'dfdx':12}{value[0]:>24.17g}{value[1]:>24.17g}",
        f"{'analytic':12}{exact[0]:>24.17g}{exact[1]:>24.17g}",
        f"{'difference':12}{difference[0]:>24.2e}{difference[1]:>24.2e}",
        f"{'error est.':12}{error[0]:>24.2e}{error[1]:>24.2e}",
        "",
        f"method {res.method}, accuracy {res.accuracy}, {res.nfev} evaluations of L, "
        f"status {res.status.name}; the error estimate {'covers' if covered else 'MISSES'} "
        "the true difference.",
        f"Euclidean norm of the difference: {np.linalg.norm(difference):.2e} "
        "(the tutorial's own central difference with h = 1e-5: 1.9e-11)",
    ]
    sentence, path = _demo_picture(output)
    _emit(
        args,
        "\n".join([*lines, "", sentence]),
        {
            "value": value.tolist(),
            "analytic": exact.tolist(),
            "difference": difference.tolist(),
            "error": error.tolist(),
            "covered": covered,
            "picture": path,
            "note": sentence,
        },
    )
    return 0 if covered else 1


# -- the parser ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


_TARGET_HELP = (
    'an expression in named variables, e.g. "(2*w1 + 3*w2 - 5)**2 + (w1 - w2 - 1)**2" '
    "(numbers, + - * / **, sin, cos, exp, log, sqrt, ..., pi, e), or module:function "
    "(importable from the current directory)"
)
_AT_HELP = "the point: w1=1,w2=1 for an expression, 1,2 for module:function (values may be pi/4, -1e-3, ...)"

_EXAMPLES = {
    "derivative": 'dfdx derivative "exp(x)/sqrt(sin(x)**3 + cos(x)**3)" --at x=1.5 --method complex',
    "gradient": f'dfdx gradient "{_EXPRESSION}" --at w1=1,w2=1',
    "jacobian": 'dfdx jacobian "x*y, sin(x) + y**2" --at x=1,y=2 --json',
    "hessian": f'dfdx hessian "{_EXPRESSION}" --at w1=1,w2=1',
}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")


def _numeric(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("options of the Python API (same names and meaning)")
    group.add_argument("--method", choices=METHODS, help="stencil, or the complex step (default central)")
    group.add_argument("--accuracy", type=_positive_int, help="order of accuracy of the stencil")
    group.add_argument("--step", help="absolute step: one number, or one per coordinate (default automatic)")
    group.add_argument(
        "--adaptive", action="store_true", help="shrinking steps with Richardson extrapolation"
    )
    group.add_argument("--rtol", type=float, help="relative tolerance of --adaptive")
    group.add_argument("--atol", type=float, help="absolute tolerance of --adaptive")
    group.add_argument("--max-steps", type=_positive_int, help="most steps of --adaptive per coordinate")
    group.add_argument("--noise", help="absolute noise level of f, or 'auto' to estimate it")
    group.add_argument(
        "--workers", type=_positive_int, metavar="N", help="evaluate f in a pool of N processes"
    )


def _add(sub: Any, name: str, help: str, description: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(parser)
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dfdx",
        description="Numerical derivatives with honest error estimates.",
        epilog=f"example:\n  dfdx demo\n  {_EXAMPLES['gradient']}\n\n"
        "exit codes: 0 success, 1 failed check or differentiation, 2 bad input",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dfdx {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for kind, text in (
        ("derivative", "n-th derivative of a function of one variable (elementwise)"),
        ("gradient", "gradient of a scalar function"),
        ("jacobian", "Jacobian of a vector function (comma-separated components)"),
        ("hessian", "Hessian of a scalar function"),
    ):
        p = _add(
            sub,
            kind,
            text,
            text[0].upper() + text[1:] + ", with an error estimate per entry.",
            _EXAMPLES[kind],
        )
        p.add_argument("target", metavar="TARGET", help=_TARGET_HELP)
        p.add_argument("--at", required=True, metavar="POINT", help=_AT_HELP)
        if kind == "derivative":
            p.add_argument("-n", type=_positive_int, default=1, help="derivative order (default 1)")
        _numeric(p)
        p.set_defaults(run=_differentiate)

    check = _add(
        sub,
        "check",
        "check a hand-written gradient against dfdx's",
        "Compare GRADIENT(x) with a numerical gradient of FUNCTION at x; exit 1 if they disagree.",
        "dfdx check model:loss model:loss_grad --at 1,1\n"
        f'  dfdx check "{_EXPRESSION}" "10*w1 + 10*w2 - 22, 10*w1 + 20*w2 - 28" --at w1=1,w2=1',
    )
    check.add_argument("function", metavar="FUNCTION", help=_TARGET_HELP)
    check.add_argument(
        "gradient", metavar="GRADIENT", help="its gradient: module:function or comma-separated expressions"
    )
    check.add_argument("--at", required=True, metavar="POINT", help=_AT_HELP)
    check.add_argument(
        "--mode", choices=("full", "directional"), help="all coordinates, or random directions"
    )
    check.add_argument(
        "--directions", type=_positive_int, help="number of random directions (directional mode)"
    )
    check.add_argument("--seed", type=int, help="seed of the random directions")
    _numeric(check)
    check.set_defaults(run=_check)

    plot = _add(
        sub,
        "plot",
        "draw a picture to a file (needs matplotlib)",
        "Draw a picture and save it; the format follows the file's extension (.png, .svg, .pdf).",
        f'dfdx plot contour "{_EXPRESSION}" --at w1=1,w2=1 -o contour.png',
    )
    pictures = plot.add_subparsers(dest="picture", required=True, metavar="PICTURE", parser_class=_Parser)
    contour = _add(
        pictures,
        "contour",
        "contour of a function of two variables with the gradient arrow",
        "Contour of a function of two variables with the gradient arrow at the point.",
        f'dfdx plot contour "{_EXPRESSION}" --at w1=1,w2=1 -o contour.png --field',
    )
    contour.add_argument("--extent", metavar="XMIN,XMAX,YMIN,YMAX", help="the region drawn")
    contour.add_argument("--field", action="store_true", help="also draw the gradient field")
    contour.add_argument("--descent", action="store_true", help="draw the descent direction (-gradient)")
    contour.add_argument("--levels", type=_positive_int, default=30, help="number of contour levels")
    step_error = _add(
        pictures,
        "step-error",
        "error of each method against the step",
        "Error of forward, central, 4th-order central and complex-step derivatives against "
        "the step, with the automatic step marked.",
        'dfdx plot step-error "exp(x)/sqrt(sin(x)**3 + cos(x)**3)" --at x=1.5 -o steps.svg',
    )
    step_error.add_argument("--exact", help="the exact derivative(s), if known (default: extrapolated)")
    step_error.add_argument("--methods", help="comma-separated, default forward,central,central4,complex")
    for p in (contour, step_error):
        p.add_argument("target", metavar="TARGET", help=_TARGET_HELP)
        p.add_argument("--at", required=True, metavar="POINT", help=_AT_HELP)
        p.add_argument(
            "-o", "--output", required=True, metavar="FILE", help="where to save (.png, .svg, .pdf)"
        )
        _numeric(p)
        p.set_defaults(run=_plot)

    demo = _add(
        sub,
        "demo",
        "the seed tutorial's example end to end",
        "Gradient of the seed tutorial's loss at (1, 1), next to the analytic one, "
        "and the contour picture with the gradient arrow.",
        "dfdx demo -o demo.svg",
    )
    demo.add_argument(
        "-o",
        "--output",
        default="dfdx-demo.png",
        metavar="FILE",
        help="where to save the picture (default dfdx-demo.png)",
    )
    demo.set_defaults(run=_demo)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


#: Options whose value may start with a minus sign (argparse would take it for an option).
_NUMERIC_OPTIONS = ("--at", "--step", "--extent", "--exact", "--noise")


def _glue_negative_values(argv: Sequence[str]) -> list[str]:
    """``--at -1,2`` -> ``--at=-1,2``."""
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        if items[i] in _NUMERIC_OPTIONS and i + 1 < len(items) and re.match(r"-[\d.]", items[i + 1]):
            out.append(f"{items[i]}={items[i + 1]}")
            i += 2
        else:
            out.append(items[i])
            i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default ``sys.argv[1:]``); returns the exit code."""
    argv = _glue_negative_values(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 0
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("dfdx: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a user mistake or an error raised by the user's f
        if args.debug:
            traceback.print_exc()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        kind = "" if isinstance(exc, UsageError) else f"{type(exc).__name__}: "
        hint = "" if args.debug or isinstance(exc, UsageError) else " (--debug shows the traceback)"
        print(f"dfdx {args.command}: error: {kind}{message}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
