"""Draw the pictures that the README and the pages show, from the code they show.

Run from anywhere: ``python docs/make_figures.py`` (it writes into ``docs/img/``).

- ``img/contour.png``: the README's quickstart, run as written (it saves ``contour.png``);
- ``img/step_error.png``: ``examples/plot_step_error.py``, the gallery's script.

The site's gallery draws its pictures from ``examples/plot_*.py`` when it is built; these
two are committed because the README and the Markdown pages are read on their own too.
``tests/test_doc_images.py`` draws both again and compares them with the committed files,
so a change to ``dfdx.plot`` that changes them fails until this script is rerun.
"""

from __future__ import annotations

import os
import runpy
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
DPI = 100


def readme_contour(out: Path) -> None:
    """Run the README's first Python block in a scratch directory; keep its contour.png."""
    sys.path.insert(0, str(ROOT / "docs"))
    from doc_examples import blocks

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = next(b.text for b in blocks(readme) if b.lang == "python")
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # the README's own code
        finally:
            os.chdir(cwd)
        shutil.copy(Path(tmp) / "contour.png", out)
    plt.close("all")


def gallery_picture(script: str, out: Path) -> None:
    """Run ``examples/SCRIPT`` as the gallery does and save the figure it draws."""
    cwd, path = os.getcwd(), list(sys.path)
    os.chdir(ROOT / "examples")
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "FigureCanvasAgg is non-interactive", UserWarning)
            runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
        plt.gcf().savefig(out, dpi=DPI)
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        plt.close("all")


def draw(out_dir: Path) -> list[Path]:
    """Draw every picture into ``out_dir``; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    readme_contour(out_dir / "contour.png")
    gallery_picture("plot_step_error.py", out_dir / "step_error.png")
    return [out_dir / "contour.png", out_dir / "step_error.png"]


def main() -> int:
    for path in draw(OUT):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
