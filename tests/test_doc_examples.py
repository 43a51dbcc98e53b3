"""Every example of the README and the docs pages runs, and prints what the page shows.

The runner is docs/doc_examples.py (its docstring says what runs and how outputs are
compared); ``python docs/doc_examples.py --update PAGE`` rewrites a page's outputs.
"""

from __future__ import annotations

import importlib.util
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("doc_examples", ROOT / "docs" / "doc_examples.py")
doc_examples = importlib.util.module_from_spec(_spec)
sys.modules["doc_examples"] = doc_examples  # dataclasses look their module up
_spec.loader.exec_module(doc_examples)

PAGES = doc_examples.PAGES


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_print_what_the_page_shows(page, tmp_path):
    outcomes = doc_examples.run_page(page, tmp_path)
    problems = [f"{page.name}:{o.example.line}: {o.problem}" for o in outcomes if o.problem]
    assert not problems, "\n\n".join(problems)
    missing = [o.missing for o in outcomes if o.missing]
    if missing:
        pytest.skip(f"{page.name}: the rest of the page needs {missing[0]}")


INLINE = [(page, c) for page in PAGES for c in doc_examples.inline_commands(page.read_text(encoding="utf-8"))]


@pytest.mark.parametrize(("page", "command"), INLINE, ids=[f"{p.name}:{c}" for p, c in INLINE])
def test_commands_quoted_in_the_prose_run(page, command, tmp_path):
    """A complete `dfdx ... --at ...` in a page's text runs as written, from examples/."""
    with doc_examples.workdir(tmp_path):
        code, out, err = doc_examples.run_cli(
            shlex.split(command)[1:] if command.startswith("dfdx") else shlex.split(command)[3:]
        )
    assert code == 0, f"{page.name}: `{command}` exited with {code}:\n{out}{err}"


def test_inline_commands_are_found_and_placeholders_left_out():
    text = (
        "Run `dfdx gradient model:simulate --at 1,2 --noise auto` (or\n"
        '`dfdx check MODULE:F MODULE:G --at 1`, `dfdx gradient "expression" --at ...`,\n'
        "`dfdx plot contour`).\n```sh\n`dfdx derivative x --at x=1`\n```\n"
    )
    assert doc_examples.inline_commands(text) == ["dfdx gradient model:simulate --at 1,2 --noise auto"]
    assert (
        len(INLINE) >= 2
    )  # as of this writing; fewer means the pages lost their commands or the parser broke


def test_every_page_with_code_has_checked_examples():
    checked = 0
    for page in PAGES:
        for example in doc_examples.examples(page.read_text(encoding="utf-8")):
            checked += example.expected is not None and not example.skip
    assert checked >= 14  # as of this writing; fewer means the parser lost some


def test_skips_need_a_reason():
    text = "<!-- doctest: skip needs a cluster -->\n```python\n1/0\n```\n"
    (example,) = doc_examples.examples(text)
    assert example.skip == "needs a cluster"
    assert doc_examples.examples("<!-- doctest: skip -->\n```python\n1/0\n```\n")[0].skip is None


@pytest.mark.parametrize(
    ("shown", "real"),
    [
        ("df/dw1  -2.000000000000 ± 3.1e-12", "df/dw1  -2.0000000000000000 ± 1.2e-15"),
        ("df/dx at x = 1.5708    -4e-14 ± 4.5e-13", "df/dx at x = 1.5708     0 ± 4.5e-13"),
        ('{"value": [3.999999999999704, 3.0]}', '{"value": [4.0, 3.0]}'),
        ("0      -2        -2         3.1e-12       3.80e-14   13.7", "0  -2  -2  1.2e-15  0.00e+00  15.7"),
        ("9 evaluations", "10 evaluations"),
        ("[-2.  2.]", "[-3.  2.]"),
        ("status SUCCESS", "status ROUNDOFF"),
        ("one line", "one line\nand another"),
        ("nan", "0.0"),
    ],
)
def test_compare_catches_stale_outputs(shown, real):
    assert doc_examples.compare(shown, real) is not None


@pytest.mark.parametrize(
    ("shown", "real"),
    [
        ("± 1.2e-15", "± 1.1e-15"),
        ("± 1.2e-15", "± 1.3e-15"),
        ("0.99999999999997 ± 8.3e-13", "0.99999999999998 ± 8.3e-13"),
        ("[-2.  2.]", "[-2. 2.]"),
        ("a\n  ...\nz", "a\nb\nc\nz"),
        ("cost: ... evaluations", "cost: 171 evaluations"),
        ("float64 shape (2,)", "float64 shape (2,)   "),
        ("\nx = 1\n\n", "x = 1"),
        ("nan inf", "nan inf"),
    ],
)
def test_compare_accepts_equal_outputs(shown, real):
    assert doc_examples.compare(shown, real) is None


def test_numbers_agree_within_one_unit_of_the_last_digit_shown():
    assert doc_examples.numbers_agree("13.7", "13.8")
    assert not doc_examples.numbers_agree("13.7", "13.9")
    assert not doc_examples.numbers_agree("0.00e+00", "1.00e-16")
    assert not doc_examples.numbers_agree("2.", "2.0000001")
    assert not doc_examples.numbers_agree("3.999999999999704", "4.0")
    assert doc_examples.numbers_agree("2.", "2.0")


def test_update_rewrites_a_stale_output(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\nprint(6 * 7)\n```\n\n```text\n41\n```\n", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    assert doc_examples.run_page(page, work)[0].problem
    assert doc_examples.update(page, work) == []
    assert "```text\n42\n```" in page.read_text(encoding="utf-8")
    assert doc_examples.run_page(page, work)[0].problem is None


def test_a_failing_command_is_reported(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('```sh\ndfdx gradient "x.__class__" --at x=1\n```\n', encoding="utf-8")
    (outcome,) = doc_examples.run_page(page, tmp_path)
    assert "exited with 2, not 0" in outcome.problem
