"""The service-key scopes a server knows: the core's, and those plugins register (`register_scopes`).

A scope is `family:action`; `*` grants everything and `family:*` every scope of a known
family. Which scopes exist depends on the loaded plugins, so they are collected once
per app (`FluxState.scopes`) instead of being a constant: a key can be given
`notes:read` when a plugin that checks it is installed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import current_app

from flux.config import ConfigError

ALL = "*"
SCOPE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}:[a-z][a-z0-9_-]{0,31}$")

# The core's own (registered by `flux.default_auth`); the tenants plugin registers `tenants:*`.
CORE_SCOPES = {
    ALL: "everything, including scopes added later",
    "service_keys:read": "list service keys and their events",
    "service_keys:write": "create, change, rotate and revoke service keys (only with scopes the key holds)",
    "audit:read": "read the audit log",
}


def merge_scopes(answers: Iterable[tuple[str, dict[str, str] | None]]) -> dict[str, str]:
    """Every plugin's `(plugin name, {scope: description})`, the core's included, as one dict.

    A malformed name or one registered twice stops start-up: a key granted it would
    otherwise mean something other than what its plugin checks.
    """
    known: dict[str, str] = {}
    owners: dict[str, str] = {}
    for plugin, scopes in answers:
        for name, description in (scopes or {}).items():
            if name != ALL and not (isinstance(name, str) and SCOPE_PATTERN.match(name)):
                raise ConfigError(f"plugin {plugin} registers a scope named {name!r}; scopes look like 'notes:read'")
            if name in owners:
                raise ConfigError(
                    f"plugin {plugin} registers the scope {name!r}, already registered by plugin {owners[name]}"
                )
            known[name], owners[name] = str(description), plugin
    return known


def known_scopes() -> dict[str, str]:
    """Every scope of the current app, `{name: description}`, in registration order."""
    return current_app.extensions["flux"].scopes


def unknown_scopes(requested: Iterable[str]) -> list[str]:
    """The requested scopes that are neither known nor `family:*` of a known family."""
    known = known_scopes()
    families = {name.partition(":")[0] for name in known if name != ALL}
    return [name for name in requested if name not in known and not (name.endswith(":*") and name[:-2] in families)]
