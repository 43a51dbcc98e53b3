"""Command line: ``dfdx derivative|gradient|jacobian|hessian|check|plot|demo``.

``main(argv=None) -> int`` is the entry point of both ``dfdx`` and ``python -m dfdx``.
Exit codes: 0 success; 1 a failed check or a failed differentiation (the report says
why); 2 a mistake in the input, shown as one line on stderr (``--debug`` shows the
traceback). Expressions are compiled by :mod:`dfdx.cli.expressions`, never ``eval``-ed.
``--workers N`` evaluates f in a pool of N processes, so that pure-Python functions run
in parallel despite the GIL (the function and its module must be importable).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

from .commands import seed_loss, seed_loss_gradient
from .io import UsageError
from .output import Outcome, document, error_info
from .parser import CommandLineError, build, prepare

__all__ = ["main", "seed_loss", "seed_loss_gradient"]


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
        one-line message on stderr; ``--debug`` adds the traceback). With ``--json``,
        every outcome, errors included, is one JSON document on stdout.

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
    argv = list(sys.argv[1:] if argv is None else argv)
    json_wanted = "--json" in argv
    parser = build()
    try:
        args = parser.parse_args(prepare(argv, parser))
    except CommandLineError as exc:
        return _fail(json_wanted, exc.command, 2, "usage", str(exc), where=exc.prog)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    try:
        outcome: Outcome = args.run(args)
        print(document(args.command, outcome.code, outcome.data) if args.json else outcome.text)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return _fail(args.json, args.command, 130, "interrupted", "interrupted")
    except BrokenPipeError:  # the reader stopped early (``dfdx ... | head``): not an error to report
        # Point stdout at /dev/null so that flushing it at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # as if killed by SIGPIPE, like other command-line tools
    except Exception as exc:  # a user mistake or an error raised by the user's f
        if args.debug:
            traceback.print_exc()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        usage = isinstance(exc, UsageError)
        hint = "" if args.debug or usage else " (--debug shows the traceback)"
        kind = "usage" if usage else type(exc).__name__
        return _fail(args.json, args.command, 2, kind, message, hint)
    return outcome.code


def _fail(
    json_wanted: bool,
    command: str | None,
    code: int,
    kind: str,
    message: str,
    hint: str = "",
    where: str | None = None,
) -> int:
    """Report an error: one line on stderr, and with ``--json`` its JSON document on stdout."""
    prefix = "" if kind in ("usage", "interrupted") else f"{kind}: "
    where = where or ("dfdx " + command if command else "dfdx")
    print(f"{where}: error: {prefix}{message}{hint}", file=sys.stderr)
    if json_wanted:
        print(document(command, code, error=error_info(kind, message)))
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
