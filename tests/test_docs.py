"""The documentation stays true: the API reference lists every public name, the README's code runs."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import dfdx

ROOT = Path(__file__).resolve().parent.parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _api_page_names() -> set[str]:
    """The names listed in the autosummary tables of docs/api.md, qualified."""
    names, module = set(), "dfdx"
    for line in (ROOT / "docs" / "api.md").read_text(encoding="utf-8").splitlines():
        if line.startswith(".. currentmodule:: "):
            module = line.split("::")[1].strip()
        elif re.fullmatch(r"   [A-Za-z_][\w.]*", line):
            names.add(f"{module}.{line.strip()}")
    return names


def test_api_reference_covers_every_public_name():
    import dfdx.plot

    listed = _api_page_names()
    public = {f"dfdx.{name}" for name in dfdx.__all__} | {f"dfdx.plot.{name}" for name in dfdx.plot.__all__}
    assert public <= listed, f"docs/api.md does not list {sorted(public - listed)}"


@pytest.mark.parametrize("name", dfdx.__all__)
def test_public_docstrings_are_filled_in(name):
    # The front-ends share sections through placeholders; none may be left over, on any
    # Python version (3.13 strips docstring indentation at compile time).
    doc = getattr(dfdx, name).__doc__ or ""
    assert "%(" not in doc


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_readme_quickstart_runs_and_reproduces_the_seed(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks(ROOT / "README.md")
    assert blocks, "the README has a Python quickstart"
    quickstart = blocks[0]
    assert len(quickstart.strip().splitlines()) <= 10
    try:
        import matplotlib

        import dfdx.plot  # noqa: F401

        matplotlib.use("Agg")
    except ImportError:  # without pictures, run the rest of the quickstart
        quickstart = "\n".join(
            line.replace(", dfdx.plot", "") for line in quickstart.splitlines() if "dfdx.plot." not in line
        )
    namespace: dict = {}
    exec(compile(quickstart, "README.md", "exec"), namespace)  # the README's own code, not user input
    if "matplotlib" in sys.modules and "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    np.testing.assert_allclose(namespace["res"].value, [-2.0, 2.0], rtol=1e-12)
    assert "-2" in capsys.readouterr().out


@pytest.mark.parametrize(
    "page",
    [
        "methods.md",
        "noisy.md",
        "migration.md",
        "cli.md",
        "index.md",
        "checking.md",
        "scaling.md",
        "api.md",
        "expensive.md",
        "optimizers.md",
        "structures.md",
    ],
)
def test_docs_pages_link_to_files_that_exist(page):
    path = ROOT / "docs" / page
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        if target.startswith("http"):
            continue
        resolved = (path.parent / target).resolve()
        # The gallery's pages exist once the site is built.
        generated = target.startswith("auto_examples/")
        assert resolved.exists() or generated, f"{page} links to missing {target}"


def test_method_costs_table_evaluation_counts():
    """The evaluations per coordinate claimed in docs/methods.md are what dfdx spends."""

    def loss(w):
        return (2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2 + np.sin(w[2])

    x = np.array([1.0, 1.0, 0.5])
    claims = {  # the stencil's points and its check's
        ("forward", None): 2,
        ("central", 2): 4,
        ("central", None): 6,
        ("central", 6): 8,
        ("complex", None): 1,
    }
    for (method, accuracy), per_coordinate in claims.items():
        res = dfdx.gradient(loss, x, method=method, accuracy=accuracy)
        assert res.nfev == 1 + per_coordinate * x.size, (method, accuracy, res.nfev)


def test_the_scaling_page_says_what_an_integer_workers_needs():
    """`workers=2` is the first thing a SciPy user tries; in a script it needs the main guard."""
    text = " ".join((ROOT / "docs" / "scaling.md").read_text(encoding="utf-8").split())
    assert "`workers=n` or `workers=ProcessPoolExecutor(n)`" in text
    assert 'the code that calls dfdx must sit under `if __name__ == "__main__":`' in text
    assert "dfdx never creates" not in text  # an integer `workers` is a pool dfdx creates


def test_the_readme_says_how_to_reach_the_installed_dfdx():
    """After `make demo`, `dfdx ...` in a fresh shell is 'command not found' unless the venv is active."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text[: text.index("<!-- site-start -->")]
    assert "`source .venv-demo/bin/activate`" in head
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "DEMO_VENV := .venv-demo" in makefile and "$(DEMO_VENV)/bin/python -m pip install" in makefile


def test_the_readme_lists_every_narrative_page_of_the_site():
    """A page in the site's table of contents is in the README's list of the documentation."""
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    toctree = index.split("```{toctree}")[1].split("```")[0]
    pages = [line.strip() for line in toctree.splitlines() if re.fullmatch(r"[a-z_]+", line.strip())]
    assert "methods" in pages and "cli" in pages
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p for p in pages if p != "architecture" and f"(docs/{p}.md)" not in readme]
    assert not missing, f"README.md's Documentation list lacks {missing}"
