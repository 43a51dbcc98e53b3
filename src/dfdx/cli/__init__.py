"""Command line: ``dfdx derivative|gradient|jacobian|hessian|check|plot|demo``.

``main(argv=None) -> int`` is the entry point of both ``dfdx`` and ``python -m dfdx``.
Exit codes: 0 success; 1 a failed check or a failed differentiation (the report says
why); 2 a mistake in the input, shown as one line on stderr (``--debug`` shows the
traceback). Expressions are compiled by :mod:`dfdx.cli.expressions`, never ``eval``-ed.
``--workers N`` evaluates f in a pool of N processes, so that pure-Python functions run
in parallel despite the GIL (the function and its module must be importable).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from .._validate import METHODS
from . import commands
from .commands import seed_loss, seed_loss_gradient
from .io import UsageError

__all__ = ["main", "seed_loss", "seed_loss_gradient"]

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
    "gradient": f'dfdx gradient "{commands.EXPRESSION}" --at w1=1,w2=1',
    "jacobian": 'dfdx jacobian "x*y, sin(x) + y**2" --at x=1,y=2 --json',
    "hessian": f'dfdx hessian "{commands.EXPRESSION}" --at w1=1,w2=1',
}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")


def _numeric(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("options of the Python API (same names and meaning)")
    group.add_argument("--method", choices=METHODS, help="stencil, or the complex step (default central)")
    group.add_argument("--accuracy", type=commands.positive_int, help="order of accuracy of the stencil")
    group.add_argument("--step", help="absolute step: one number, or one per coordinate (default automatic)")
    group.add_argument(
        "--adaptive", action="store_true", help="shrinking steps with Richardson extrapolation"
    )
    group.add_argument("--rtol", type=float, help="relative tolerance of --adaptive")
    group.add_argument("--atol", type=float, help="absolute tolerance of --adaptive")
    group.add_argument(
        "--max-steps", type=commands.positive_int, help="most steps of --adaptive per coordinate"
    )
    group.add_argument("--noise", help="absolute noise level of f, or 'auto' to estimate it")
    group.add_argument("--progress", action="store_true", help="show a progress bar (long runs)")
    group.add_argument(
        "--workers", type=commands.positive_int, metavar="N", help="evaluate f in a pool of N processes"
    )


def _keywords(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kwargs",
        metavar="JSON",
        help="keyword arguments of a module:function target, a JSON object (e.g. '{\"a\": 2}')",
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
            p.add_argument("-n", type=commands.positive_int, default=1, help="derivative order (default 1)")
        _numeric(p)
        _keywords(p)
        p.set_defaults(run=commands.differentiate)

    check = _add(
        sub,
        "check",
        "check a hand-written gradient against dfdx's",
        "Compare GRADIENT(x) with a numerical gradient of FUNCTION at x; exit 1 if they disagree.",
        "dfdx check model:loss model:loss_grad --at 1,1\n"
        f'  dfdx check "{commands.EXPRESSION}" "10*w1 + 10*w2 - 22, 10*w1 + 20*w2 - 28" --at w1=1,w2=1',
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
        "--directions", type=commands.positive_int, help="number of random directions (directional mode)"
    )
    check.add_argument("--seed", type=int, help="seed of the random directions")
    _numeric(check)
    _keywords(check)
    check.set_defaults(run=commands.check)

    plot = _add(
        sub,
        "plot",
        "draw a picture to a file (needs matplotlib)",
        "Draw a picture and save it; the format follows the file's extension (.png, .svg, .pdf).",
        f'dfdx plot contour "{commands.EXPRESSION}" --at w1=1,w2=1 -o contour.png',
    )
    pictures = plot.add_subparsers(dest="picture", required=True, metavar="PICTURE", parser_class=_Parser)
    contour = _add(
        pictures,
        "contour",
        "contour of a function of two variables with the gradient arrow",
        "Contour of a function of two variables with the gradient arrow at the point.",
        f'dfdx plot contour "{commands.EXPRESSION}" --at w1=1,w2=1 -o contour.png --field',
    )
    contour.add_argument("--extent", metavar="XMIN,XMAX,YMIN,YMAX", help="the region drawn")
    contour.add_argument("--field", action="store_true", help="also draw the gradient field")
    contour.add_argument("--descent", action="store_true", help="draw the descent direction (-gradient)")
    contour.add_argument("--levels", type=commands.positive_int, default=30, help="number of contour levels")
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
        p.set_defaults(run=commands.plot)

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
    demo.set_defaults(run=commands.demo)
    return parser


def _version() -> str:
    from .. import __version__

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
    """Run the command line; the entry point of ``dfdx`` and ``python -m dfdx``.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name. Default: ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code: 0 success, 1 a failed check or differentiation, 2 bad input (a
        one-line message on stderr; ``--debug`` adds the traceback).

    Examples
    --------
    >>> from dfdx.cli import main
    >>> main(["gradient", "x**2 + 3*y", "--at", "x=2,y=5"])  # doctest: +ELLIPSIS
    gradient of x**2 + 3*y at x = 2, y = 5
    <BLANKLINE>
      df/dx   4.000000000... ± ...e-1...
      df/dy   3.000000000... ± ...e-1...
    <BLANKLINE>
    method central, accuracy 4, ... evaluations of f; status SUCCESS: ...
    0
    >>> main(["gradient", "x.__class__", "--at", "x=1"])
    2
    """
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
    except BrokenPipeError:  # the reader stopped early (``dfdx ... | head``): not an error to report
        # Point stdout at /dev/null so that flushing it at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # as if killed by SIGPIPE, like other command-line tools
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
