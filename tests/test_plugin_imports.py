"""Built-in plugins take core things from `flux.api` only, the core's promise to plugins.

Third-party plugins are held to the same module (docs/plugins.md); the built-in ones
prove it is enough to write a whole plugin, dashboard pages and CLI commands included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import flux.api
from flux.plugins import DEFAULT_PLUGINS

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"


def core_imports(source: Path) -> list[str]:
    """Modules of `flux` other than `flux.api` that `source` imports (`from flux import x` included)."""
    tree = ast.parse(source.read_text())
    names = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0]
    names += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    return [name for name in names if name.split(".")[0] == "flux" and name != "flux.api"]


@pytest.mark.parametrize("plugin", sorted(DEFAULT_PLUGINS))
def test_a_built_in_plugin_imports_the_core_only_through_flux_api(plugin):
    folder = PLUGINS / plugin
    found = {str(path.relative_to(folder)): core_imports(path) for path in sorted(folder.rglob("*.py"))}
    assert len(found) > 3
    assert {path: names for path, names in found.items() if names} == {}


def test_flux_api_lists_everything_it_offers_once():
    offered = {name for name in vars(flux.api) if not name.startswith("__")} | {"__version__"}
    assert sorted(flux.api.__all__) == sorted(offered)
    assert len(flux.api.__all__) == len(set(flux.api.__all__))
