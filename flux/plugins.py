"""The plugin manager: built-in essential and default plugins, then third-party ones.

One manager per app (kept in `app.extensions["flux"]`), never a module global, so two
apps in one process (tests, the CLI) can load different plugins.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import pluggy
from pydantic import ConfigDict

from flux import hookspecs
from flux.config import ConfigError
from flux.schemas import ApiModel
from flux.version import __version__

ENTRY_POINT_GROUP = "fluxbase.plugins"

# Without these the server cannot start; they cannot be disabled.
ESSENTIAL_PLUGINS: dict[str, str] = {
    "core_api": "flux.default_api",
    "auth": "flux.default_auth",
    "ciphers": "flux.default_ciphers",
    "storage": "flux.default_storage",
}

# Built-in features; `FLUXBASE_DISABLED_PLUGINS=dashboard,...` turns them off.
DEFAULT_PLUGINS: dict[str, str] = {
    "dashboard": "plugins.dashboard",
    "settings": "plugins.settings",
    "secrets": "plugins.secrets",
    "functions": "plugins.functions",
    "tenants": "plugins.tenants",
    "flags": "plugins.flags",
}


class PluginInfo(ApiModel):
    """What `fluxbase plugins` and `GET /api/v1/admin/plugins` show of one plugin."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    version: str
    hooks: list[str]


class FluxPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers whether each plugin is essential, default or extra."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        # Historic: each plugin adds its hookspecs as it registers, before `check_pending`.
        self.hook.register_hookspecs.call_historic(kwargs={"manager": self})
        self.kinds: dict[str, str] = {}
        self._described: list[PluginInfo] | None = None

    def register(self, plugin: object, name: str | None = None) -> str | None:
        self._described = None
        return super().register(plugin, name)

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        self._described = None
        return super().unregister(plugin, name)

    def register_as(self, plugin: ModuleType | object, name: str, kind: str) -> None:
        if self.register(plugin, name=name) is not None:
            self.kinds[name] = kind

    def answers_by_plugin(self, hook_name: str) -> list[tuple[str, Any]]:
        """`(plugin name, answer)` of a hook without arguments, in registration order.

        For vocabularies (config defaults, scopes) where a name two plugins claim is an
        error whose message must say which plugins.
        """
        implementations = getattr(self.hook, hook_name).get_hookimpls()
        return [(impl.plugin_name, impl.function()) for impl in implementations]

    def describe(self) -> list[PluginInfo]:
        """Every loaded plugin with the hooks it implements, sorted by name (computed once)."""
        if self._described is None:
            self._described = self._describe()
        return self._described

    def _describe(self) -> list[PluginInfo]:
        versions = {self.get_name(plugin): dist.version for plugin, dist in self.list_plugin_distinfo()}
        described = []
        for name, plugin in self.list_name_plugin():
            if plugin is None:
                continue
            hooks = sorted(caller.name for caller in self.get_hookcallers(plugin) or [])
            described.append(
                PluginInfo(
                    name=name,
                    kind=self.kinds.get(name, "third-party"),
                    version=versions.get(name, __version__),
                    hooks=hooks,
                )
            )
        return sorted(described, key=lambda info: info.name)


def _import(dotted: str | ModuleType | object) -> ModuleType | object:
    return importlib.import_module(dotted) if isinstance(dotted, str) else dotted


def build_plugin_manager(
    disabled: Iterable[str] = (), extra: Iterable[str | ModuleType | object] = ()
) -> FluxPluginManager:
    """Load essential, default, entry-point and `extra` plugins, minus `disabled` ones.

    `extra` holds dotted module names (`FLUXBASE_PLUGINS`) or plugin objects (tests).
    A misspelled hook implementation or an attempt to disable an essential plugin is a
    `ConfigError` that stops start-up.
    """
    manager = FluxPluginManager()
    disabled = set(disabled)
    essential = disabled & ESSENTIAL_PLUGINS.keys()
    if essential:
        raise ConfigError(
            f"plugin(s) {', '.join(sorted(essential))} are essential and cannot be disabled; "
            "remove them from FLUXBASE_DISABLED_PLUGINS"
        )
    for name in disabled:
        manager.set_blocked(name)
    for name, module in ESSENTIAL_PLUGINS.items():
        manager.register_as(_import(module), name, "essential")
    for name, module in DEFAULT_PLUGINS.items():
        if name not in disabled:
            manager.register_as(_import(module), name, "default")
    manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra:
        loaded = _import(plugin)
        name = plugin if isinstance(plugin, str) else getattr(loaded, "__name__", None)
        if name not in disabled:
            manager.register_as(loaded, name or manager.get_canonical_name(loaded), "extra")
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise ConfigError(f"a plugin implements a hook that does not exist: {error}") from error
    return manager
