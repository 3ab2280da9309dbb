"""What a function definition may contain: names, code size, limits, permissions and env."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app

from flux.errors import BadRequest, PayloadTooLarge
from flux.http import optional_text
from plugins.functions.runtime.base import Permissions

NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
ISOLATIONS = ("warm", "per-invocation")
MAX_CODE_BYTES = 1024 * 1024
MAX_ENV_VARIABLES = 100
MAX_ENV_VALUE_BYTES = 32 * 1024
MAX_DESCRIPTION_LENGTH = 2000
MIN_MEMORY_MB = 32
# Seed 003's example and its `deno run --allow-net --allow-env`: network and (the
# filtered) environment on, the file system off.
DEFAULT_PERMISSIONS = Permissions(net=True, env=True, read=False, write=False)
# The reference SDK's names for our fields, and for the keys of `permissions`.
ALIASES = {"timeout_seconds": "timeout", "memory_limit_mb": "memory"}
PERMISSION_ALIASES = {"allow_net": "net", "allow_env": "env", "allow_read": "read", "allow_write": "write"}


def definition(body: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """The body of a create or update in our names; 400 for a field it does not know.

    A misspelt field would otherwise be dropped without a word, and the function run
    with a default the caller meant to change. The reference's names are accepted;
    one field given under both names is a 400, as neither could be said to win.
    """
    unknown = sorted(set(body) - fields - ALIASES.keys() - PERMISSION_ALIASES.keys())
    if unknown:
        raise BadRequest(
            f"unknown field(s) {unknown}; known: {sorted(fields | ALIASES.keys() | PERMISSION_ALIASES.keys())}",
            code="UNKNOWN_FIELDS",
        )
    ours = {name: value for name, value in body.items() if name not in ALIASES and name not in PERMISSION_ALIASES}
    for alias, name in ALIASES.items():
        if alias in body:
            _refuse_both(alias, name, name in body)
            ours[name] = body[alias]
    flags = {name: body[alias] for alias, name in PERMISSION_ALIASES.items() if body.get(alias) is not None}
    if flags:
        given = body.get("permissions")
        for alias, name in PERMISSION_ALIASES.items():
            _refuse_both(alias, f"permissions.{name}", name in flags and isinstance(given, dict) and name in given)
        ours["permissions"] = {**given, **flags} if isinstance(given, dict) else flags
    return ours


def _refuse_both(alias: str, name: str, both: bool) -> None:
    if both:
        raise BadRequest(f"give {name} or {alias}, not both", code="DUPLICATE_FIELD")


def checked_name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise BadRequest(f"{field} must be 1 to 64 letters, digits, '_' or '-'", code=f"INVALID_{field.upper()}")
    return value


def checked_code(body: dict[str, Any], required: bool) -> str | None:
    if "code" not in body and not required:
        return None
    code = body.get("code")
    if not isinstance(code, str) or not code.strip():
        raise BadRequest("code is required: the function's JavaScript or TypeScript source", code="CODE_REQUIRED")
    size = len(code.encode())
    if size > MAX_CODE_BYTES:
        raise PayloadTooLarge(
            f"code is {size} bytes; at most {MAX_CODE_BYTES} (1 MB) are allowed", code="CODE_TOO_LARGE"
        )
    return code


def _whole_number(body: dict[str, Any], field: str, low: int, high: int) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{field} must be a whole number from {low} to {high}", code="INVALID_FIELD")
    return value


def timeout(body: dict[str, Any]) -> int | None:
    return _whole_number(body, "timeout", 1, current_app.config["FUNCTIONS_MAX_TIMEOUT_SECONDS"])


def memory(body: dict[str, Any]) -> int | None:
    return _whole_number(body, "memory", MIN_MEMORY_MB, current_app.config["FUNCTIONS_MAX_MEMORY_MB"])


def flag(body: dict[str, Any], field: str) -> bool | None:
    value = body.get(field)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{field} must be true or false", code="INVALID_FIELD")
    return value


def description(body: dict[str, Any]) -> str | None:
    if "description" not in body:
        return None
    return optional_text(body, "description", MAX_DESCRIPTION_LENGTH) or ""


def permissions(body: dict[str, Any], current: Permissions) -> Permissions | None:
    """`permissions` as given, over `current` for the keys it leaves out; None when absent."""
    value = body.get("permissions")
    if value is None:
        return None
    names = set(Permissions.__dataclass_fields__)
    if not isinstance(value, dict) or not set(value) <= names or not all(isinstance(v, bool) for v in value.values()):
        raise BadRequest(f"permissions must be an object of true/false for {sorted(names)}", code="INVALID_PERMISSIONS")
    return Permissions(**{**current.as_json(), **value})


def env(body: dict[str, Any]) -> dict[str, str] | None:
    """The function's own variables; names under `FLUXBASE_` are the server's to set."""
    value = body.get("env")
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_ENV_VARIABLES:
        raise BadRequest(f"env must be an object of at most {MAX_ENV_VARIABLES} variables", code="INVALID_ENV")
    for name, text in value.items():
        if not ENV_NAME.fullmatch(name) or name.upper().startswith("FLUXBASE_"):
            raise BadRequest(
                f"env name {name[:64]!r} is not allowed: use letters, digits and '_', "
                "not starting with a digit or FLUXBASE_",
                code="INVALID_ENV",
            )
        if not isinstance(text, str) or len(text.encode()) > MAX_ENV_VALUE_BYTES:
            raise BadRequest(f"env {name!r} must be a string of at most 32 KiB", code="INVALID_ENV")
    return value


def isolation(body: dict[str, Any]) -> str | None:
    value = body.get("isolation")
    if value is not None and value not in ISOLATIONS:
        raise BadRequest(f"isolation must be one of {list(ISOLATIONS)}", code="INVALID_FIELD")
    return value
