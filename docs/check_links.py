"""Check the internal links of the built documentation site.

    python docs/check_links.py [docs/_build/html]

Every ``.html`` page of the site (not the theme's templates in ``_static``) is parsed
with :mod:`html.parser`; every relative ``href`` and ``src`` (links, pictures, scripts,
style sheets) must name a file of the site, and a ``#fragment`` must name an ``id`` (or
``<a name=...>``) in the target page. External links (``http:``, ``mailto:``, ...) are
not followed. Exit code 0 when all resolve, 1 with the list of broken links otherwise.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_SITE = Path(__file__).resolve().parent / "_build" / "html"


class _Page(HTMLParser):
    """The links (tag, attribute, value, line) and the anchors of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str, int]] = []
        self.anchors: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.anchors.add(value)
            elif name in ("href", "src"):
                self.links.append((tag, name, value, self.getpos()[0]))


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def _pages(site: Path) -> list[Path]:
    """The site's pages; ``_static`` holds the theme's templates, not pages."""
    return sorted(
        p for p in site.rglob("*.html") if p.relative_to(site).parts[0] not in ("_static", "_sources")
    )


def broken_links(site: Path) -> list[str]:
    """One line per internal link of ``site`` that does not resolve."""
    site = site.resolve()
    pages: dict[Path, _Page] = {path: parse(path) for path in _pages(site)}
    problems = []
    for path, page in pages.items():
        for tag, attr, value, line in page.links:
            problem = _resolve(site, path, value, pages)
            if problem:
                where = f"{path.relative_to(site)}:{line}"
                problems.append(f"{where}: <{tag} {attr}={value!r}>: {problem}")
    return problems


def _resolve(site: Path, page: Path, value: str, pages: dict[Path, _Page]) -> str | None:
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith(("javascript:", "data:")):
        return None  # external, or not a file
    target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    if not target.is_relative_to(site):
        return "points outside the site"
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return "no such file"
    if parts.fragment and target.suffix == ".html":
        anchors = pages[target].anchors if target in pages else parse(target).anchors
        if unquote(parts.fragment) not in anchors:
            return f"no anchor #{parts.fragment} in {target.relative_to(site)}"
    return None


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else DEFAULT_SITE
    if not (site / "index.html").is_file():
        print(f"{site} has no index.html: build the site first (make docs)", file=sys.stderr)
        return 1
    problems = broken_links(site)
    count = len(_pages(site))
    if problems:
        print(f"{len(problems)} broken internal link(s) in {count} pages:", *problems, sep="\n")
        return 1
    print(f"all internal links of {count} pages resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
