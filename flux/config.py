"""Configuration layers: plugins' defaults, core defaults, `instance/config.py`, then `FLUXBASE_*`.

Only keys that have a default (the core's `DEFAULTS` or a plugin's
`register_config_defaults`) are read from the environment, and each value is parsed by
the type of its default. Flask's `from_prefixed_env` would JSON-decode every
`FLUXBASE_*` variable (turning an all-digit key into an int, and pulling
`FLUXBASE_SECRET_*` values into the config), so the few lines below do it instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Config

ENV_PREFIX = "FLUXBASE_"

DEFAULTS: dict[str, Any] = {
    # Empty means SQLite at <instance>/flux.sqlite.
    "DATABASE_URL": "",
    "SQLITE_BUSY_TIMEOUT_MS": 10000,
    # PostgreSQL: a pooled connection older than this is replaced at its next checkout.
    "DATABASE_POOL_RECYCLE_SECONDS": 1800,
    "ENCRYPTION_KEY": "",
    "ENCRYPTION_PREVIOUS_KEYS": [],
    "ENCRYPTION_CIPHER": "aes-256-gcm",
    "AUTH_JWT_SECRET": "",
    "AUTH_JWT_ISSUER": "fluxbase",
    "AUTH_JWT_AUDIENCE": "fluxbase",
    "AUTH_SESSION_CACHE_SECONDS": 5,
    "TENANT_CACHE_SECONDS": 5,
    "AUTH_SIGNUP_ENABLED": True,
    "AUTH_PASSWORD_HASH_METHOD": "scrypt:32768:8:1",
    "AUTH_SIGNIN_LIMIT_PER_IP": "30/minute",
    "AUTH_SIGNIN_LIMIT_PER_EMAIL": "10/minute",
    "RATE_LIMIT_STORAGE_URL": "memory://",
    "SECURITY_SETUP_TOKEN": "",
    "DISABLED_PLUGINS": [],
    # Dotted module names of extra plugins that are not installed as distributions.
    "PLUGINS": [],
    "STORAGE_BACKEND": "sql",
    "MAX_BODY_BYTES": 10 * 1024 * 1024,
    "LOG_LEVEL": "INFO",
    # gunicorn restarts a worker silent this long; plugins whose requests run longer raise it at startup.
    "WORKER_TIMEOUT_SECONDS": 30,
}

# Documented in the README; read before the app exists, so not part of DEFAULTS.
INSTANCE_PATH_VARIABLE = ENV_PREFIX + "INSTANCE_PATH"


class ConfigError(RuntimeError):
    """A configuration value is missing or malformed; the message says how to fix it."""


def default_instance_path() -> Path:
    """`$FLUXBASE_INSTANCE_PATH`, else `./instance` of the working directory."""
    return Path(os.environ.get(INSTANCE_PATH_VARIABLE) or "instance").resolve()


def parse_value(name: str, raw: str, default: Any) -> Any:
    """Parse one environment value by the type of its default."""
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{ENV_PREFIX}{name} must be true or false, got {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}{name} must be an integer, got {raw!r}") from None
    if isinstance(default, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def from_environment(defaults: dict[str, Any], environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The `FLUXBASE_*` variables that name a setting of `defaults`, parsed by their types."""
    environ = os.environ if environ is None else environ
    found = {}
    for name, default in defaults.items():
        raw = environ.get(ENV_PREFIX + name)
        if raw is not None:
            found[name] = parse_value(name, raw, default)
    return found


class ConfigLayers:
    """The instance file and test layers, read once, merged over whichever defaults are known.

    Which plugins load depends on the configuration (`DISABLED_PLUGINS`, `PLUGINS`), and
    the plugins' defaults are known only once they are loaded: so the layers are merged
    first over the core's defaults, then again under the plugins' ones.
    """

    def __init__(self, instance_path: Path, test_config: dict[str, Any] | None = None) -> None:
        from_file = Config(str(instance_path))
        from_file.from_pyfile("config.py", silent=True)
        self.from_file, self.test_config = dict(from_file), dict(test_config or {})

    def merged(self, plugin_defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """All layers, lowest first: `plugin_defaults`, `DEFAULTS`, the file, the environment, tests."""
        defaults = {**(plugin_defaults or {}), **DEFAULTS}
        return {**defaults, **self.from_file, **from_environment(defaults), **self.test_config}

    def settings_sources(self) -> dict[str, Any]:
        """Tenant settings' `FLUXBASE_SETTINGS_*` variables, over the file's `SETTINGS_*` and under the tests'."""

        def prefixed(layer: dict[str, Any]) -> dict[str, Any]:
            return {ENV_PREFIX + name: value for name, value in layer.items() if name.startswith("SETTINGS_")}

        variables = environment_variables(ENV_PREFIX + "SETTINGS_")
        return {**prefixed(self.from_file), **variables, **prefixed(self.test_config)}


def load_layers(instance_path: Path, test_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """All layers merged over the core's defaults only (enough to know which plugins load)."""
    return ConfigLayers(instance_path, test_config).merged()


def merge_plugin_defaults(answers: list[tuple[str, dict[str, Any] | None]]) -> dict[str, Any]:
    """Every plugin's `register_config_defaults` answer, `(plugin name, defaults)`, as one dict.

    A plugin may not redefine a core setting or another plugin's: whose default would
    count would depend on load order, so it stops start-up instead.
    """
    merged: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for plugin, defaults in answers:
        for name, value in (defaults or {}).items():
            if not isinstance(name, str) or not name.isupper():
                raise ConfigError(f"plugin {plugin} registers a config default named {name!r}; use UPPER_CASE")
            owner = "the core" if name in DEFAULTS else owners.get(name)
            if owner:
                raise ConfigError(f"plugin {plugin} registers a default for {name}, a setting of {owner}")
            merged[name], owners[name] = value, f"plugin {plugin}"
    return merged


def environment_variables(prefix: str) -> dict[str, str]:
    """The process's environment variables whose names start with `prefix`.

    Names are matched before values are read: `os.environ.items()` decodes every
    variable's value, which cost more than the rest of building a function's env.
    """
    return {name: os.environ[name] for name in os.environ if name.startswith(prefix)}
