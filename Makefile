# `make demo` and `make test` set everything up on a fresh machine and then run.
# The demo gets a light environment of its own (.venv-demo: dfdx with NumPy, SciPy and
# matplotlib); tests, benchmarks, lint and docs share the development set (.venv: the
# test tools, torch, JAX, the peers of the benchmarks, Sphinx).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_VENV := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed
# pyproject.toml asks for torch >= 2.13; the development set keeps it on the 2.13 series,
# whose Linux wheel exists CPU-only (newer ones from PyPI pull the CUDA libraries, several
# GB). `make test TORCH=torch` takes the newest instead.
TORCH ?= torch>=2.13,<2.14

.PHONY: demo test bench lint typecheck docs docs-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,all]" "$(TORCH)"
	touch $(STAMP)

$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet -e ".[plot]"
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(DEMO_VENV)/bin/dfdx demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff check docs examples
	$(BIN)/ruff format --check src tests benchmarks docs examples

typecheck: $(STAMP)
	$(BIN)/mypy

# The documentation site, into docs/_build/html; any Sphinx warning fails the build.
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

# The built site's internal links, and its pictures loaded in headless Chromium.
docs-check: docs
	$(BIN)/python docs/check_links.py docs/_build/html
	$(BIN)/python docs/check_site.py docs/_build/html

clean:
	rm -rf $(VENV) $(DEMO_VENV) build *.egg-info src/*.egg-info docs/_build docs/auto_examples docs/api/generated
