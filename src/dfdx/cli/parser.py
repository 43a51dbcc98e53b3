"""The parser of the command line, and the reading of argv before it.

Each subcommand's options are added by one small function; :func:`build` assembles them.
:func:`prepare` rewrites argv so that values and expressions that start with a minus sign
are not taken for options: ``--at -1,2`` becomes ``--at=-1,2``, and a word such as
``-sin(x)`` that is no option of dfdx is passed on as a positional argument.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any, NoReturn

from .. import __version__
from .._validate import METHODS
from . import commands
from .commands import positive_int

__all__ = ["CommandLineError", "build", "prepare"]


class CommandLineError(Exception):
    """A command line that argparse cannot read; `command` is the subcommand, if known."""

    def __init__(self, message: str, command: str | None, prog: str) -> None:
        super().__init__(message)
        self.command, self.prog = command, prog


class _Parser(argparse.ArgumentParser):
    """argparse that raises :class:`CommandLineError` instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        words = self.prog.split()
        command = words[1] if len(words) > 1 else None
        raise CommandLineError(f"{message} (see {self.prog} --help)", command, self.prog)


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
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document (errors included) instead of text"
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")


def _numeric(parser: argparse.ArgumentParser, *, tolerances: bool = True) -> None:
    """The options of the Python API; `tolerances`: with the adaptive mode's --rtol and --atol."""
    group = parser.add_argument_group("options of the Python API (same names and meaning)")
    group.add_argument("--method", choices=METHODS, help="stencil, or the complex step (default central)")
    group.add_argument("--accuracy", type=positive_int, help="order of accuracy of the stencil")
    group.add_argument("--step", help="absolute step: one number, or one per coordinate (default automatic)")
    adaptive = "shrinking steps with Richardson extrapolation"
    if not tolerances:
        adaptive += " (at its default tolerances: --rtol and --atol loosen the check)"
    group.add_argument("--adaptive", action="store_true", help=adaptive)
    if tolerances:
        group.add_argument("--rtol", type=float, help="relative tolerance of --adaptive")
        group.add_argument("--atol", type=float, help="absolute tolerance of --adaptive")
    group.add_argument("--max-steps", type=positive_int, help="most steps of --adaptive per coordinate")
    group.add_argument("--noise", help="absolute noise level of f, or 'auto' to estimate it")
    group.add_argument("--progress", action="store_true", help="show a progress bar (long runs)")
    group.add_argument(
        "--workers", type=positive_int, metavar="N", help="evaluate f in a pool of N processes"
    )


def _keywords(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="FILE",
        help="record every evaluation of f in FILE (SQLite), and read the points recorded there "
        "(a rerun, or a check after a gradient, evaluates none twice)",
    )
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


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET", help=_TARGET_HELP)
    parser.add_argument("--at", required=True, metavar="POINT", help=_AT_HELP)


def _differentiating(sub: Any) -> None:
    for kind, text in (
        ("derivative", "n-th derivative of a function of one variable (elementwise)"),
        ("gradient", "gradient of a scalar function"),
        ("jacobian", "Jacobian of a vector function (comma-separated components)"),
        ("hessian", "Hessian of a scalar function"),
    ):
        description = text[0].upper() + text[1:] + ", with an error estimate per entry."
        p = _add(sub, kind, text, description, _EXAMPLES[kind])
        _target(p)
        if kind == "derivative":
            p.add_argument("-n", type=positive_int, default=1, help="derivative order (default 1)")
        _numeric(p)
        _keywords(p)
        p.set_defaults(run=commands.differentiate)


def _check(sub: Any) -> None:
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
        "--directions", type=positive_int, help="number of random directions (directional mode)"
    )
    check.add_argument("--seed", type=int, help="seed of the random directions")
    loosen = check.add_argument_group("loosening the check (check_gradient's rtol=, atol=)")
    loosen.add_argument(
        "--rtol", type=float, help="add RTOL x |analytic entry| to every entry's tolerance (default 0)"
    )
    loosen.add_argument("--atol", type=float, help="add ATOL to every entry's tolerance (default 0)")
    _numeric(check, tolerances=False)
    _keywords(check)
    check.set_defaults(run=commands.check)


def _plot(sub: Any) -> None:
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
    contour.add_argument("--levels", type=positive_int, default=30, help="number of contour levels")
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
        _target(p)
        p.add_argument(
            "-o", "--output", required=True, metavar="FILE", help="where to save (.png, .svg, .pdf)"
        )
        _numeric(p)
        p.set_defaults(run=commands.plot)


def _demo(sub: Any) -> None:
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


def build() -> argparse.ArgumentParser:
    """The parser of ``dfdx``, with one subparser per command."""
    parser = _Parser(
        prog="dfdx",
        description="Numerical derivatives with honest error estimates.",
        epilog=f"example:\n  dfdx demo\n  {_EXAMPLES['gradient']}\n\n"
        "exit codes: 0 success, 1 failed check or differentiation, 2 bad input",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dfdx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _differentiating(sub)
    _check(sub)
    _plot(sub)
    _demo(sub)
    return parser


#: Options whose value may start with a minus sign (argparse would take it for an option).
_NUMERIC_OPTIONS = ("--at", "--step", "--extent", "--exact", "--noise", "--rtol", "--atol", "--seed")


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of `parser` and its subparsers (``-n``, ``--json``, ...)."""
    found: set[str] = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= _option_strings(child)
    return found


def prepare(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """argv with minus signs made safe for argparse.

    ``--at -1,2`` -> ``--at=-1,2``; a word that starts with one minus sign and is no
    option of dfdx (``-sin(x)``, ``-x**2``) gets a leading blank, which argparse reads as
    a positional argument and the expression compiler ignores.
    """
    options = _option_strings(parser)
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item in _NUMERIC_OPTIONS and i + 1 < len(items) and re.match(r"-[\d.]", items[i + 1]):
            out.append(f"{item}={items[i + 1]}")
            i += 2
            continue
        number = re.fullmatch(r"-\d+|-\d*\.\d+", item)  # argparse reads these as values itself
        if re.match(r"-[^-]", item) and item not in options and item[:2] not in options and not number:
            item = " " + item
        out.append(item)
        i += 1
    return out
