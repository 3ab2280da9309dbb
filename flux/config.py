"""Configuration layers: built-in defaults, then `instance/config.py`, then `FLUXBASE_*`.

Only keys named in `DEFAULTS` are read from the environment, and each value is parsed
by the type of its default. Flask's `from_prefixed_env` would JSON-decode every
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
    "ENCRYPTION_KEY": "",
    "ENCRYPTION_PREVIOUS_KEYS": [],
    "ENCRYPTION_CIPHER": "aes-256-gcm",
    "AUTH_JWT_SECRET": "",
    "AUTH_JWT_ISSUER": "fluxbase",
    "AUTH_JWT_AUDIENCE": "fluxbase",
    "AUTH_ACCESS_TOKEN_SECONDS": 900,
    "AUTH_REFRESH_TOKEN_DAYS": 30,
    "AUTH_SESSION_CACHE_SECONDS": 5,
    "TENANT_CACHE_SECONDS": 5,
    "AUTH_SIGNUP_ENABLED": True,
    "AUTH_PASSWORD_MIN_LENGTH": 8,
    "AUTH_PASSWORD_HASH_METHOD": "scrypt:32768:8:1",
    "AUTH_LOCKOUT_ATTEMPTS": 5,
    "AUTH_LOCKOUT_MINUTES": 15,
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
    # The functions plugin: which runtime, default and largest limits, and the warm pool.
    "FUNCTIONS_RUNTIME": "deno",
    # Deno's cache (transpiled code, type-check results); empty means <instance>/functions/deno_dir.
    "FUNCTIONS_DENO_DIR": "",
    "FUNCTIONS_DEFAULT_TIMEOUT_SECONDS": 60,
    "FUNCTIONS_MAX_TIMEOUT_SECONDS": 300,
    "FUNCTIONS_DEFAULT_MEMORY_MB": 128,
    "FUNCTIONS_MAX_MEMORY_MB": 1024,
    "FUNCTIONS_MAX_WARM_WORKERS": 16,
    "FUNCTIONS_WORKERS_PER_FUNCTION": 4,
    "FUNCTIONS_WORKER_IDLE_SECONDS": 300,
    "FUNCTIONS_WORKER_MAX_CALLS": 1000,
    # Server variables a function's Deno.env shows besides the defaults (comma-separated FLUXBASE_* names).
    "FUNCTIONS_ALLOWED_ENV": [],
    # Content-Security-Policy of every invoke response; empty when functions have an origin of their own.
    "FUNCTIONS_RESPONSE_CSP": "sandbox",
    # Execution records kept per function: younger than DAYS and the newest MAX_ROWS (0: no
    # such limit), pruned on a function's first call per server process and every PRUNE_EVERY-th.
    "FUNCTIONS_EXECUTION_RETENTION_DAYS": 7,
    "FUNCTIONS_EXECUTION_RETENTION_MAX_ROWS": 1000,
    "FUNCTIONS_EXECUTION_PRUNE_EVERY": 100,
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


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The `FLUXBASE_*` variables that name a known setting, parsed."""
    environ = os.environ if environ is None else environ
    found = {}
    for name, default in DEFAULTS.items():
        raw = environ.get(ENV_PREFIX + name)
        if raw is not None:
            found[name] = parse_value(name, raw, default)
    return found


def load_layers(instance_path: Path, test_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """All layers merged, lowest first; `test_config` is the highest layer."""
    merged = Config(str(instance_path), DEFAULTS)
    merged.from_pyfile("config.py", silent=True)
    merged.update(from_environment())
    if test_config:
        merged.update(test_config)
    return dict(merged)


def environment_variables(prefix: str) -> dict[str, str]:
    """The process's environment variables whose names start with `prefix`.

    Names are matched before values are read: `os.environ.items()` decodes every
    variable's value, which cost more than the rest of building a function's env.
    """
    return {name: os.environ[name] for name in os.environ if name.startswith(prefix)}
