"""What a secrets request may contain: names, scopes, namespaces, values and expiry times."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flux.db import utcnow
from flux.errors import BadRequest, PayloadTooLarge
from plugins.secrets.models import ENV_PREFIX, GLOBAL, MAX_NAME_LENGTH, MAX_NAMESPACE_LENGTH, NAMESPACE, SCOPES

NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_NAME_LENGTH}}}")
NAMESPACE_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_NAMESPACE_LENGTH - 1}}}")
# A secret becomes an environment variable of the function's process, and Linux
# refuses any single environment string over 128 KiB.
MAX_VALUE_BYTES = 64 * 1024
MAX_DESCRIPTION_LENGTH = 2000


def checked_name(name: object) -> str:
    if name is None or name == "":
        raise BadRequest("name is required", code="NAME_REQUIRED")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise BadRequest(
            f"invalid name: use 1 to {MAX_NAME_LENGTH} letters, digits, '_', '-' and '.'", code="INVALID_NAME"
        )
    return name


def env_name(name: str) -> str:
    """The variable a function reads the secret from: `api-key.v2` → `FLUXBASE_SECRET_API_KEY_V2`."""
    return ENV_PREFIX + name.upper().replace(".", "_").replace("-", "_")


def checked_scope(scope: object) -> str:
    if scope not in SCOPES:
        raise BadRequest(f"scope must be one of {list(SCOPES)}", code="INVALID_SCOPE")
    return str(scope)


def checked_namespace(namespace: object) -> str:
    if not isinstance(namespace, str) or not NAMESPACE_NAME.fullmatch(namespace):
        raise BadRequest(
            f"invalid namespace: 1 to {MAX_NAMESPACE_LENGTH} letters, digits, '_', '-' and '.', "
            "starting with a letter or digit",
            code="INVALID_NAMESPACE",
        )
    return namespace


def placement(scope: object, namespace: object) -> tuple[str, str]:
    """The (scope, namespace) a request names; a namespace without a scope means namespace scope."""
    namespace = namespace or ""
    scope = checked_scope(scope if scope is not None else (NAMESPACE if namespace else GLOBAL))
    if scope == GLOBAL:
        if namespace:
            raise BadRequest(
                "a global secret has no namespace: drop it, or use scope 'namespace'", code="INVALID_NAMESPACE"
            )
        return scope, ""
    if not namespace:
        raise BadRequest("scope 'namespace' needs a namespace", code="NAMESPACE_REQUIRED")
    return scope, checked_namespace(namespace)


def secret_value(body: dict[str, Any], required: bool) -> str | None:
    """The `value`: a non-empty string of at most 64 KiB; `None` when absent and not required."""
    if "value" not in body and not required:
        return None
    value = body.get("value")
    if value is None or value == "":
        raise BadRequest("value is required", code="VALUE_REQUIRED")
    if not isinstance(value, str):
        raise BadRequest("value must be a string", code="INVALID_VALUE")
    size = len(value.encode())
    if size > MAX_VALUE_BYTES:
        raise PayloadTooLarge(f"value is {size} bytes; at most {MAX_VALUE_BYTES} are allowed", code="VALUE_TOO_LARGE")
    return value


def expiry(value: object) -> datetime | None:
    """An RFC 3339 time in the future (with a UTC offset), or `None` for no expiry."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC)  # stored as UTC; an extreme offset can overflow
        except OverflowError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequest(
            "expires_at must be an RFC 3339 time with a UTC offset, e.g. 2030-01-31T00:00:00Z",
            code="INVALID_EXPIRES_AT",
        )
    if moment <= utcnow():
        raise BadRequest("expires_at must be in the future", code="EXPIRES_AT_IN_PAST")
    return moment
