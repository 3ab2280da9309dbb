"""The functions plugin takes core things from `flux.api` only, the core's promise to plugins."""

from __future__ import annotations

import ast
from pathlib import Path

import plugins.functions

PLUGIN = Path(plugins.functions.__file__).parent


def core_imports(source: Path) -> list[str]:
    tree = ast.parse(source.read_text())
    names = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    names += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    return [name for name in names if name.split(".")[0] == "flux" and name != "flux.api"]


def test_the_plugin_imports_the_core_only_through_flux_api():
    found = {str(path.relative_to(PLUGIN)): core_imports(path) for path in sorted(PLUGIN.rglob("*.py"))}
    assert len(found) > 10
    assert {path: names for path, names in found.items() if names} == {}
