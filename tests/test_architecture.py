"""The layout of docs/architecture.md holds: which modules may import which.

The rules are checked on the source (``ast``), so a new import that crosses a layer
fails here rather than in review: pure numerics never reach the evaluation of f, the
peripherals (checking, pictures, command line) stand on the public API only, and every
module is placed in exactly one layer of the documented table.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "dfdx"

#: The layers of docs/architecture.md, bottom to top. ``__init__`` is the public namespace,
#: which re-exports from every layer; it is the one module outside the order.
LAYERS = {
    "base": {
        "stencils",
        "steps",
        "richardson",
        "_error_model",
        "_error_scalar",
        "_result",
        "_validate",
        "_expr",
        "_progress",
    },
    "evaluation": {"_evaluate", "_workers"},
    "engine": {
        "_engine",
        "_bounds",
        "_adaptive",
        "_adaptive_points",
        "_tiny",
        "_hessian",
        "_sparse",
        "noise",
    },
    "front-ends": {"_api", "_call"},
    "peripherals": {
        "check",
        "_checking",
        "_check_entries",
        "_check_report",
        "plot",
        "_plot_common",
        "_plot_check",
        "_plot_steps",
        "cli",
        "_cli_commands",
        "_cli_io",
        "__main__",
    },
}
LAYER_OF = {module: layer for layer, modules in LAYERS.items() for module in modules}
LAYER_OF["__init__"] = "namespace"
ORDER = list(LAYERS)


def internal_imports(module: str) -> set[str]:
    """The dfdx modules that `module` imports (``dfdx`` itself as ``__init__``)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from . import x / from .x import y
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif node.level == 0 and node.module and node.module.split(".")[0] == "dfdx":
                parts = node.module.split(".")
                found.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "dfdx":
                    found.add(parts[1] if len(parts) > 1 else "__init__")
    found.discard(module)
    # ``from . import __version__``: a name of the package, not a module of it.
    return {m if (PACKAGE / f"{m}.py").exists() else "__init__" for m in found}


MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))
LAYERED = [m for m in MODULES if m != "__init__"]


def test_every_module_has_one_layer():
    assert sorted(LAYER_OF) == MODULES


def test_the_documented_table_lists_every_module():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for module in MODULES:
        assert f"`{module}.py`" in text, f"docs/architecture.md does not place {module}.py"


@pytest.mark.parametrize("module", sorted(LAYERS["base"]))
def test_the_base_imports_only_the_base(module):
    # Pure numerics and plain data: nothing here can reach f.
    assert internal_imports(module) <= LAYERS["base"]


@pytest.mark.parametrize("module", LAYERED)
def test_imports_point_down_the_layers(module):
    mine = ORDER.index(LAYER_OF[module])
    imported = internal_imports(module) - {"__init__"}
    upward = {m for m in imported if ORDER.index(LAYER_OF[m]) > mine}
    assert not upward, f"{module} imports {sorted(upward)} from a layer above it"
    if LAYER_OF[module] != "peripherals":
        # Only the peripherals use the public namespace: everything below is imported by it.
        assert "__init__" not in internal_imports(module)


#: What the peripherals may reach below the front-ends: public modules and validators.
PERIPHERAL_MAY_USE = {"__init__", "_api", "stencils", "_validate", "_expr"}


@pytest.mark.parametrize("module", sorted(LAYERS["peripherals"]))
def test_peripherals_stand_on_the_public_api(module):
    below = {m for m in internal_imports(module) if LAYER_OF[m] != "peripherals"}
    assert below <= PERIPHERAL_MAY_USE, f"{module} reaches {sorted(below - PERIPHERAL_MAY_USE)}"
