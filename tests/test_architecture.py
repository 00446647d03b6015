"""The package's architecture, enforced: layers import only the layers before them, analysis draws
nothing, no module reaches into another's private names, and functions stay short enough to read.

Layers, in data-flow order: core (paths, errors, config, catalog, contract, inputs, lifetime) < ingest <
stats < analysis < reporting; sample (the generated sample) may import only the core; cli may
import anything.
Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers.paths import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "src" / "helpers"
CORE = {"paths", "errors", "config", "catalog", "contract", "inputs", "measures", "lifetime"}
RANK = {"core": 0, "ingest": 1, "stats": 2, "analysis": 3, "reporting": 4}
ALLOWED = {  # layer -> layers it may import
    **{layer: {other for other, r in RANK.items() if r <= rank} for layer, rank in RANK.items()},
    "stats": {"core", "stats"},  # stats needs nothing of ingest either
    "sample": {"core", "sample"},
    "cli": set(RANK) | {"sample", "cli"},
}
MAX_LINES = 60


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _layer(dotted: str) -> str:
    """Layer of 'helpers.x.y' (or of a module path relative to the package)."""
    parts = dotted.split(".")
    head = parts[1] if parts[0] == "helpers" and len(parts) > 1 else parts[0]
    if head in CORE or head == "__init__":
        return "core"
    return head


def _module_name(p: Path) -> str:
    rel = p.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(part for part in rel.parts if part != "__init__")


def _helpers_imports(tree: ast.AST) -> list[tuple[int, str, list[str]]]:
    """(line, module, imported names) for every import of a helpers module, anywhere."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "helpers":
            out.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "helpers"]
    return out


def _targets(module: str, names: list[str]) -> list[str]:
    """Modules an import statement reaches: 'from helpers.analysis import segments' -> segments."""
    if module == "helpers":
        return [f"helpers.{n}" for n in names]
    if (PACKAGE / Path(*module.split(".")[1:])).is_dir():
        return [f"{module}.{n}" for n in names] or [module]
    return [module]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layers_import_only_the_layers_before_them(path: Path) -> None:
    me = _layer(_module_name(path))
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for line, module, names in _helpers_imports(tree):
        for target in _targets(module, names):
            other = _layer(target)
            assert other in ALLOWED.get(me, {me}), (
                f"{path.relative_to(PROJECT_ROOT)}:{line}: the {me} layer imports {target} "
                f"({other}); allowed: {sorted(ALLOWED.get(me, {me}))}")


@pytest.mark.parametrize("path", [p for p in _modules() if _layer(_module_name(p)) in ("analysis", "stats", "ingest")],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_analysis_and_below_draw_nothing(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            assert name.split(".")[0] not in ("matplotlib", "seaborn"), (
                f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} imports {name}: charts belong "
                "in helpers.reporting.charts")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_uses_another_modules_private_names(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}
    for _, module, names in _helpers_imports(tree):
        for n in names:
            assert not n.startswith("_"), f"{path.relative_to(PROJECT_ROOT)} imports private {module}.{n}"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpers"):
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            pytest.fail(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} uses the private name "
                        f"{aliases[node.value.id]}.{node.attr}")


def test_no_scale_or_cut_is_written_into_a_label() -> None:
    """Scales and cuts come from the survey's measures (helpers.measures), never from a string
    in the code such as "% top-2 box (4-5)" or "% agree (5-7)"."""
    import re

    written = re.compile(r"\((4-5|5-7|1-5|1-7)\)")
    found = [f"{p.relative_to(PACKAGE)}:{i}" for p in _modules()
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if written.search(line)]
    assert not found, found
