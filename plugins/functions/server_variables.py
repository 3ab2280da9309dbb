"""Which of the server's `FLUXBASE_*` variables a function's `Deno.env` shows: an allowlist.

A filter by name ("nothing that looks like a credential") let `FLUXBASE_APIKEY` and
`FLUXBASE_DB_PASS` through, so only named variables pass: a few harmless defaults and
those `FLUXBASE_FUNCTIONS_ALLOWED_ENV` adds. The server's own credentials and
`FLUXBASE_SECRET_*` (which reach functions as secrets) cannot be added.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from flux.api import ConfigError

# Where the server can be reached, for functions that call back (seed 003 reads FLUXBASE_BASE_URL).
DEFAULT_ALLOWED = ("FLUXBASE_BASE_URL", "FLUXBASE_API_URL", "FLUXBASE_PUBLIC_URL")
# The server's keys, by their seed 003 names and ours: never allowed, whatever the configuration says.
NEVER_ALLOWED = {
    "FLUXBASE_AUTH_JWT_SECRET",
    "FLUXBASE_DATABASE_PASSWORD",
    "FLUXBASE_DATABASE_ADMIN_PASSWORD",
    "FLUXBASE_STORAGE_S3_SECRET_KEY",
    "FLUXBASE_STORAGE_S3_ACCESS_KEY",
    "FLUXBASE_EMAIL_SMTP_PASSWORD",
    "FLUXBASE_SECURITY_SETUP_TOKEN",
    "FLUXBASE_ENCRYPTION_KEY",
    "FLUXBASE_ENCRYPTION_PREVIOUS_KEYS",
    "FLUXBASE_DATABASE_URL",
    "FLUXBASE_SERVICE_ROLE_KEY",
    "FLUXBASE_RATE_LIMIT_STORAGE_URL",
}
SECRET_PREFIX = "FLUXBASE_SECRET_"


def allowed_names(extra: Iterable[str]) -> frozenset[str]:
    """The defaults plus `extra` (`FUNCTIONS_ALLOWED_ENV`); ConfigError for a name that may not be passed on."""
    names = frozenset((*DEFAULT_ALLOWED, *extra))
    refused = sorted(
        name
        for name in names
        if not name.startswith("FLUXBASE_") or name.startswith(SECRET_PREFIX) or name in NEVER_ALLOWED
    )
    if refused:
        raise ConfigError(
            f"FLUXBASE_FUNCTIONS_ALLOWED_ENV may name FLUXBASE_* variables other than the server's keys "
            f"and FLUXBASE_SECRET_*; refused: {', '.join(refused)}"
        )
    return names


def server_variables(names: frozenset[str]) -> dict[str, str]:
    """The allowed variables the server's environment holds, with their values."""
    return {name: os.environ[name] for name in names if name in os.environ}
