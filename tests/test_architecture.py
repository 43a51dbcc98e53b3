"""The layout of docs/architecture.md holds: which modules may import which, and the tree's limits.

The rules are checked on the source (``ast``), so a change that crosses a layer, closes an
import cycle or grows a module past its size fails here rather than in review: pure
numerics never reach the evaluation of f, the peripherals (checking, pictures, command
line) stand on the public API only, and every module belongs to exactly one layer.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "dfdx"

#: The layers of docs/architecture.md, bottom to top: a module's layer is the first entry
#: here that names it or the subpackage it lives in. ``__init__`` is the public namespace,
#: which re-exports from every layer; it is the one module outside the order.
LAYERS: dict[str, set[str]] = {
    "base": {"numerics", "stencils", "steps", "richardson", "_result", "_validate"},
    "evaluation": {"evaluation"},
    "engine": {"engine", "noise"},
    "front-ends": {"_api", "_calls", "_options", "optimize", "_adapt", "trees", "arrays"},
    "peripherals": {"check", "plot", "cli", "__main__"},
}
ORDER = list(LAYERS)

#: What a peripheral may reach outside its own subpackage: the public namespace and the
#: documented public modules, plus the argument checks.
PERIPHERAL_MAY_USE = {"__init__", "_api", "stencils", "_validate", "plot", "check", "cli"}

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    """``src/dfdx/engine/fixed.py`` -> ``engine.layouts``; the root ``__init__`` stays ``__init__``."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


MODULES = sorted(module_name(p) for p in PACKAGE.rglob("*.py"))
PATH_OF = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> str:
    if module == "__init__":
        return "namespace"
    top = module.split(".")[0]
    for layer, names in LAYERS.items():
        if module in names or top in names:
            return layer
    raise LookupError(f"{module} is in no layer of docs/architecture.md")


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The dfdx modules an ``import from`` names, as dotted names below ``dfdx``."""
    if node.level == 0:
        if not node.module or node.module.split(".")[0] != "dfdx":
            return []
        base = node.module.split(".")[1:]
    else:
        here = module.split(".")
        is_package = PATH_OF[module].name == "__init__.py" and module != "__init__"
        package = here if is_package else here[:-1]
        if module == "__init__":
            package = []
        package = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        base = package + (node.module.split(".") if node.module else [])
    found = []
    for alias in node.names:
        candidate = ".".join([*base, alias.name])
        found.append(candidate if candidate in PATH_OF else ".".join(base) or "__init__")
    return found


@cache
def internal_imports(module: str) -> frozenset[str]:
    """The dfdx modules that `module` imports anywhere in its source (function bodies too)."""
    tree = ast.parse(PATH_OF[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.update(_resolve(module, node))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "dfdx":
                    found.add(".".join(parts[1:]) or "__init__")
    found = {m if m in PATH_OF else "__init__" for m in found}
    found.discard(module)
    return frozenset(found)


def test_every_module_has_one_layer():
    for module in MODULES:
        layer_of(module)


def test_the_documented_table_lists_every_module():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for module in MODULES:
        path = PATH_OF[module].relative_to(PACKAGE).as_posix()
        assert f"`{path}`" in text, f"docs/architecture.md does not place {path}"


@pytest.mark.parametrize("module", [m for m in MODULES if layer_of(m) == "base"])
def test_the_base_imports_only_the_base(module):
    # Pure numerics and plain data: nothing here can reach f.
    assert {layer_of(m) for m in internal_imports(module)} <= {"base"}


@pytest.mark.parametrize("module", [m for m in MODULES if m != "__init__"])
def test_imports_point_down_the_layers(module):
    mine = ORDER.index(layer_of(module))
    imported = internal_imports(module) - {"__init__"}
    upward = {m for m in imported if ORDER.index(layer_of(m)) > mine}
    assert not upward, f"{module} imports {sorted(upward)} from a layer above it"
    if layer_of(module) != "peripherals":
        # Only the peripherals use the public namespace: everything below is imported by it.
        assert "__init__" not in internal_imports(module)


@pytest.mark.parametrize("module", [m for m in MODULES if layer_of(m) == "peripherals"])
def test_peripherals_stand_on_the_public_api(module):
    home = module.split(".")[0]
    outside = {m for m in internal_imports(module) if m.split(".")[0] != home}
    reached = {m for m in outside if m not in PERIPHERAL_MAY_USE}
    assert not reached, f"{module} reaches {sorted(reached)}"


def test_no_import_cycles():
    # Depth-first search over the module graph; a package's ``__init__`` counts as its module.
    graph = {m: internal_imports(m) - {"__init__"} for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycle = stack[stack.index(n) :] + [n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for module in MODULES:
        if module not in state:
            visit(module)


@pytest.mark.parametrize("module", MODULES)
def test_modules_stay_small(module):
    lines = PATH_OF[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines (at most {MAX_MODULE_LINES}): split it"


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, source: list[str]) -> int:
    """Lines of code in a function: its docstring, blank lines and comments not counted."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            body = body[1:]
    if not body:
        return 0
    start, stop = body[0].lineno, node.end_lineno or body[-1].lineno
    kept = [line.strip() for line in source[start - 1 : stop]]
    return sum(1 for line in kept if line and not line.startswith("#"))


@pytest.mark.parametrize("module", MODULES)
def test_functions_stay_short(module):
    text = PATH_OF[module].read_text(encoding="utf-8")
    source = text.splitlines()
    long = {
        node.name: code_lines(node, source)
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and code_lines(node, source) > MAX_FUNCTION_LINES
    }
    assert not long, f"{module}: functions over {MAX_FUNCTION_LINES} lines of code: {long}"


def test_the_checks_see_a_planted_violation(tmp_path):
    # The rules above must be able to fail: an upward import is found by the same reader.
    module = "numerics.stencils"
    tree = ast.parse("from ...engine.layouts import Layout\n")
    node = tree.body[0]
    assert isinstance(node, ast.ImportFrom)
    node.level = 2  # from ..engine.layouts, as written in numerics/stencils.py
    assert _resolve(module, node) == ["engine.layouts"]
    assert layer_of("engine.layouts") == "engine"
