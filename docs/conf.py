"""Sphinx configuration of dfdx's documentation site.

Build it with ``make docs`` (into ``docs/_build/html``; any warning fails the build). The
narrative pages are the Markdown files of this directory (MyST), the API reference is
generated from the docstrings (autosummary and numpydoc), and the gallery runs the
``plot_*.py`` scripts of ``examples/`` (sphinx-gallery).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
# The gallery's scripts import their neighbours (``model.py``) and run from examples/.
os.environ.setdefault("MPLBACKEND", "Agg")

import dfdx  # noqa: E402

project = "dfdx"
author = "the dfdx authors"
copyright = "the dfdx authors, BSD-3-Clause"  # noqa: A001
release = version = getattr(dfdx, "__version__", "0.1.0")

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "auto_examples/*.md"]
templates_path = ["_templates"]

# Markdown: heading anchors so that links like ``checking.md#kinks`` resolve; ``$...$`` math.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

# API reference: one page per public name, from the docstrings.
autosummary_generate = True
autosummary_imported_members = True
autosummary_ignore_module_all = False
autodoc_typehints = "none"
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(^|/)(model|seed_\w+)\.py$",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib",),
    "matplotlib_animations": False,
    "image_srcset": [],
    # "Examples using ..." on the API pages of the functions the scripts call.
    "doc_module": ("dfdx",),
    "backreferences_dir": "api/generated/backreferences",
}

html_theme = "pydata_sphinx_theme"
html_title = "dfdx"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_static_path: list[str] = []
html_show_sourcelink = False
