"""The site's link checker (docs/check_links.py) finds broken links, and the built site has none.

The browser check (docs/check_site.py) needs Chromium and runs in CI (``make docs-check``),
not here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "docs" / "_build" / "html"
_spec = importlib.util.spec_from_file_location("check_links", ROOT / "docs" / "check_links.py")
check_links = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_links)


def _site(tmp_path: Path, body: str) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "pic.png").write_bytes(b"\x89PNG")
    (tmp_path / "sub" / "page.html").write_text('<h1 id="top">x</h1><a name="old">y</a>', encoding="utf-8")
    (tmp_path / "sub" / "index.html").write_text("<p>index</p>", encoding="utf-8")
    (tmp_path / "index.html").write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    return tmp_path


def test_good_links_pass(tmp_path):
    body = (
        '<a href="sub/page.html#top">a</a> <a href="sub/page.html#old">b</a> <a href="#here" id="here">c</a>'
        '<img src="pic.png"> <a href="sub/">d</a> <a href="https://example.org/missing">e</a>'
        '<a href="mailto:x@example.org">f</a> <a href="sub/page.html?x=1">g</a>'
    )
    assert check_links.broken_links(_site(tmp_path, body)) == []


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        ('<a href="nope.html">x</a>', "no such file"),
        ('<img src="sub/pic.png">', "no such file"),
        ('<a href="sub/page.html#bottom">x</a>', "no anchor #bottom in sub/page.html"),
        ('<a href="#nowhere">x</a>', "no anchor #nowhere in index.html"),
        ('<script src="../outside.js"></script>', "points outside the site"),
    ],
)
def test_broken_links_are_reported(tmp_path, link, problem):
    (found,) = check_links.broken_links(_site(tmp_path, link))
    assert found.startswith("index.html:1: <") and found.endswith(problem)


def test_main_says_to_build_the_site_first(tmp_path, capsys):
    assert check_links.main([str(tmp_path)]) == 1
    assert "build the site first (make docs)" in capsys.readouterr().err


@pytest.mark.skipif(not (SITE / "index.html").exists(), reason="the site is not built (make docs)")
def test_the_built_site_has_no_broken_internal_links():
    assert check_links.broken_links(SITE) == []
