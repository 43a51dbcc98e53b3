"""Run the examples of the Markdown pages and compare the output they show with the real one.

    python docs/doc_examples.py                 # check README.md and docs/*.md
    python docs/doc_examples.py --update PAGE   # rewrite PAGE's shown outputs from the code

The test suite runs every page through :func:`run_page` (``tests/test_doc_examples.py``).
What runs, and what is compared:

- a ```` ```python ```` block is executed; the blocks of a page share one namespace, in
  order, as a reader would run them. A ```` ```text ```` block right after it (nothing but
  blank lines between) is the output it prints;
- a ```` ```sh ```` block is a list of commands, run one after the other: ``dfdx ...`` (the
  command line, in-process) and ``make``/``pip`` (setting up an environment: not run here).
  A ``# ... exit code N`` comment gives the exit code the command must return (0
  otherwise). A ```` ```text ```` or ```` ```json ```` block right after it is what the
  commands print;
- a ```` ```text ```` block whose first line starts with ``$ `` is a terminal session: each
  ``$ dfdx ...`` line is run and the lines under it are its output (stdout and stderr);
- ``<!-- doctest: skip REASON -->`` on the line before a block leaves it out (for code
  that needs a cluster, say); the reason is required.

Everything runs in a fresh directory holding a copy of ``examples/model.py``, as if from
the ``examples/`` folder. Outputs are compared as doctest would with ``ELLIPSIS`` and
``NORMALIZE_WHITESPACE`` (a ``...`` matches anything, a line of its own ``...`` any
lines), except numbers: two numbers agree when they differ by at most one unit in the last
digit shown by the more precise of the two (``1.2e-15`` against ``1.18e-15`` agrees;
``3.1e-12`` against ``1.2e-15``, or ``-4e-14`` against ``0``, does not); integers, and
floats printed without digits after the point (NumPy's ``2.``), must be equal.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import shlex
import shutil
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OPTIONAL = {"torch", "jax", "dask", "distributed", "matplotlib", "tqdm", "numdifftools"}
SETUP_COMMANDS = {"make", "pip"}  # environments: `make test` is CI itself
_FENCE = re.compile(r"^```\s*(\S*).*$")
_SKIP = re.compile(r"^<!--\s*doctest:\s*skip\s+(\S.*?)\s*-->\s*$")
NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf)"
_TOKEN = re.compile(rf"(?P<ellipsis>\.\.\.)|(?P<number>(?<![\w.]){NUMBER}(?![\w]))|(?P<space>[ \t]+)")


@dataclass
class Block:
    """A fenced block of a page: its language, text and first line number (1-based)."""

    lang: str
    text: str
    line: int
    skip: str | None = None


@dataclass
class Example:
    """Code to run and, when the page shows it, the output it must print."""

    kind: str  # "python", "sh" or "session"
    code: str
    line: int
    expected: Block | None = None
    skip: str | None = None
    outputs: list[str] = field(default_factory=list)  # per session command


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, with the skip marker before each."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        skip = _SKIP.match(before)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        found.append(Block(match.group(1), "\n".join(lines[i + 1 : end]), i + 2, skip and skip.group(1)))
        i = end + 1
    return found


def _adjacent(text: str, first: Block, second: Block) -> bool:
    """Only blank lines between the end of ``first`` and the start of ``second``."""
    lines = text.splitlines()
    end = first.line - 1 + len(first.text.splitlines()) + 1  # index of the closing fence
    return all(not line.strip() for line in lines[end + 1 : second.line - 2])


def examples(text: str) -> list[Example]:
    """The examples of a Markdown text: code blocks with the output block that follows."""
    found: list[Example] = []
    bs = blocks(text)
    for k, block in enumerate(bs):
        nxt = bs[k + 1] if k + 1 < len(bs) else None
        if block.lang in ("python", "sh"):
            shown = nxt if nxt and nxt.lang in ("text", "json") and _adjacent(text, block, nxt) else None
            found.append(Example(block.lang, block.text, block.line, shown, block.skip))
        elif block.lang == "text" and block.text.lstrip().startswith("$ "):
            found.append(Example("session", block.text, block.line, block, block.skip))
    return found


def _normalize(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def _pattern(expected: str) -> tuple[re.Pattern[str], list[str]]:
    """A regex for the expected output, and the numbers it shows, in order."""
    parts, numbers = [], []
    for line in _normalize(expected).splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?[^\n]*")
            continue
        piece, pos = [], 0
        for m in _TOKEN.finditer(line):
            piece.append(re.escape(line[pos : m.start()]))
            if m.group("ellipsis"):
                piece.append(r"[^\n]*?")
            elif m.group("number"):
                piece.append(rf"({NUMBER})")
                numbers.append(m.group())
            else:
                piece.append(r"[ \t]+" if m.start() else r"[ \t]*")
            pos = m.end()
        parts.append("".join(piece) + re.escape(line[pos:]))
    return re.compile(r"\A" + r"\n".join(parts) + r"\Z"), numbers


def _unit(literal: str) -> float | None:
    """One unit in the last digit shown; None when the number is shown exactly."""
    mantissa, _, exponent = literal.lower().lstrip("+-").partition("e")
    if "." not in mantissa or mantissa.endswith("."):
        return None
    return 10.0 ** (int(exponent or 0) - len(mantissa.split(".")[1]))


def numbers_agree(shown: str, real: str) -> bool:
    """Whether two printed numbers agree, by the rule of the module docstring."""
    if shown == real:
        return True
    if "n" in (shown + real).lower():  # nan, inf: only as themselves
        return shown.lower() == real.lower()
    unit_shown, unit_real = _unit(shown), _unit(real)
    if unit_shown is None or unit_real is None:
        return float(shown) == float(real)
    return abs(float(shown) - float(real)) <= min(unit_shown, unit_real) * (1 + 1e-9)


def compare(expected: str, actual: str) -> str | None:
    """None when ``actual`` matches ``expected``; otherwise what differs."""
    pattern, shown = _pattern(expected)
    match = pattern.match(_normalize(actual))
    diff = "\n".join(
        difflib.unified_diff(
            _normalize(expected).splitlines(), _normalize(actual).splitlines(), "shown", "real", lineterm=""
        )
    )
    if not match:
        return f"the output differs:\n{diff}"
    for a, b in zip(shown, match.groups()):
        if not numbers_agree(a, b):
            return f"the page shows {a} where the code prints {b}:\n{diff}"
    return None


@dataclass
class Outcome:
    """What running one example gave: a problem (None when it matched), or a skip."""

    example: Example
    actual: str = ""
    problem: str | None = None
    skipped: str | None = None
    missing: str | None = None  # an optional package the rest of the page needs


_INLINE = re.compile(r"`((?:dfdx|python -m dfdx) [^`]+)`")
_PLACEHOLDER = re.compile(r"\.\.\.|\b[A-Z][A-Z_]{2,}\b")  # `--at ...`, EXPRESSION, MODULE:F


def inline_commands(text: str) -> list[str]:
    """The complete ``dfdx ...`` commands quoted in a page's prose (outside fenced blocks).

    A command with a placeholder (``...``, an upper-case word such as ``EXPRESSION``) or
    without ``--at`` (a mention such as ```dfdx plot contour```) is not one to run.
    """
    prose, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            prose.append(line)
    spans = _INLINE.findall(" ".join(prose))
    return [c for c in spans if "--at" in c and not _PLACEHOLDER.search(c)]


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run ``dfdx ARGS`` in this process; its exit code, stdout and stderr."""
    from dfdx.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return int(code), out.getvalue(), err.getvalue()


def _command(line: str) -> tuple[list[str], int]:
    """The argv of a shell line and the exit code its comment announces (0 if none)."""
    argv = shlex.split(line, comments=True)
    announced = re.search(r"#.*exit code (\d+)", line)
    return argv, int(announced.group(1)) if announced else 0


def _run_command(argv: list[str]) -> tuple[int, str, str]:
    if argv[:1] == ["dfdx"]:
        return run_cli(argv[1:])
    if argv[:3] in (["python", "-m", "dfdx"], ["python3", "-m", "dfdx"]):
        return run_cli(argv[3:])
    raise ValueError(f"the docs' test runner does not know how to run {shlex.join(argv)!r}")


def _run_sh(example: Example) -> Outcome:
    printed = []
    for line in example.code.splitlines():
        argv, wanted = _command(line)
        if not argv or argv[0] in SETUP_COMMANDS:
            continue
        code, out, err = _run_command(argv)
        if code != wanted:
            return Outcome(example, out, f"`{line.strip()}` exited with {code}, not {wanted}:\n{out}{err}")
        printed.append(out)
    actual = "".join(printed)
    problem = compare(example.expected.text, actual) if example.expected else None
    return Outcome(example, actual, problem)


def _run_session(example: Example) -> Outcome:
    problems, actual = [], []
    chunks = re.split(r"^\$ ", example.code.strip("\n"), flags=re.M)[1:]
    for chunk in chunks:
        line, _, shown = chunk.partition("\n")
        _, out, err = _run_command(shlex.split(line, comments=True))
        example.outputs.append(out + err)
        actual.append(f"$ {line}\n{out}{err}")
        problem = compare(shown, out + err)
        if problem:
            problems.append(f"$ {line}: {problem}")
    return Outcome(example, "".join(actual), "\n".join(problems) or None)


def _run_python(example: Example, namespace: dict[str, Any], page: str) -> Outcome:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(example.code, f"{page}:{example.line}", "exec"), namespace)  # the page's own code
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in OPTIONAL:
            return Outcome(example, out.getvalue(), skipped=f"needs {error.name}", missing=error.name)
        return Outcome(example, out.getvalue(), f"raised {traceback.format_exc(limit=-3)}")
    except Exception:
        return Outcome(example, out.getvalue(), f"raised {traceback.format_exc(limit=-3)}")
    actual = out.getvalue()
    problem = compare(example.expected.text, actual) if example.expected else None
    return Outcome(example, actual, problem)


@contextlib.contextmanager
def workdir(path: Path) -> Any:
    """Run in ``path`` (with a copy of examples/model.py), restoring cwd and sys.path."""
    shutil.copy(ROOT / "examples" / "model.py", path / "model.py")
    old_cwd, old_path = os.getcwd(), list(sys.path)
    os.chdir(path)
    sys.path.insert(0, str(path))
    sys.modules.pop("model", None)  # another folder's model.py may have been imported
    try:
        yield path
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        sys.modules.pop("model", None)


def run_page(page: Path, directory: Path) -> list[Outcome]:
    """Run every example of ``page`` in ``directory``; stop at a missing optional package."""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        pass
    name = page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.name
    namespace: dict[str, Any] = {"__name__": "docs." + page.stem}
    outcomes: list[Outcome] = []
    with workdir(directory):
        for example in examples(page.read_text(encoding="utf-8")):
            if example.skip:
                outcomes.append(Outcome(example, skipped=example.skip))
            elif example.kind == "python":
                outcomes.append(_run_python(example, namespace, name))
                if outcomes[-1].missing:
                    break
            elif example.kind == "sh":
                outcomes.append(_run_sh(example))
            else:
                outcomes.append(_run_session(example))
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    return outcomes


def update(page: Path, directory: Path) -> list[str]:
    """Rewrite the outputs ``page`` shows from the real ones; blocks with ``...`` are left."""
    lines = page.read_text(encoding="utf-8").splitlines()
    left = []
    for outcome in reversed(run_page(page, directory)):
        ex = outcome.example
        if not outcome.problem or ex.expected is None:
            continue
        if "..." in ex.expected.text or ex.kind == "session":
            left.append(f"{page.name}:{ex.line}: shown output has '...' or is a session; edit it by hand")
            continue
        start = ex.expected.line - 1
        lines[start : start + len(ex.expected.text.splitlines())] = _normalize(outcome.actual).splitlines()
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return left


def main(argv: list[str]) -> int:
    import tempfile

    sys.path.insert(0, str(ROOT / "src"))
    pages = [Path(a).resolve() for a in argv if not a.startswith("--")] or PAGES
    failed = 0
    for page in pages:
        with tempfile.TemporaryDirectory() as tmp:
            if "--update" in argv:
                print(*update(page, Path(tmp)), sep="\n")
                continue
            for outcome in run_page(page, Path(tmp)):
                where = f"{page.relative_to(ROOT)}:{outcome.example.line}"
                if outcome.problem:
                    failed += 1
                    print(f"{where}: {outcome.problem}\n")
                elif outcome.skipped:
                    print(f"{where}: skipped ({outcome.skipped})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
