"""What a settings request may contain: key rules, value size, descriptions and flags.

Keys are addressed in URLs (`/settings/user/<key>`), so besides the allowed characters
each `/`-separated segment must be non-empty and not `.` or `..`: such keys would be
rewritten by clients and servers on the way and could never be read back.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flux.errors import BadRequest, PayloadTooLarge
from flux.http import optional_text
from plugins.settings.models import MAX_KEY_LENGTH

KEY_CHARACTERS = re.compile(r"[A-Za-z0-9._/-]+")
MAX_VALUE_BYTES = 1024 * 1024
MAX_DESCRIPTION_LENGTH = 2000
KEY_RULE = (
    f"at most {MAX_KEY_LENGTH} letters, digits, '.', '_', '-' and '/', "
    "with no empty, '.' or '..' segment between slashes"
)


def checked_key(key: object) -> str:
    """`key` if it follows the key rule; 400 otherwise."""
    if not isinstance(key, str) or not key:
        raise BadRequest("key is required and must be a string", code="INVALID_KEY")
    segments = key.split("/")
    if (
        len(key) > MAX_KEY_LENGTH
        or not KEY_CHARACTERS.fullmatch(key)
        or any(segment in ("", ".", "..") for segment in segments)
    ):
        raise BadRequest(f"invalid key: a key is {KEY_RULE}", code="INVALID_KEY")
    return key


def checked_keys(keys: object, limit: int) -> list[str]:
    """A non-empty list of at most `limit` valid keys; 400 otherwise."""
    if not isinstance(keys, list) or not keys:
        raise BadRequest("keys must be a non-empty list of keys", code="INVALID_KEYS")
    if len(keys) > limit:
        raise BadRequest(f"at most {limit} keys per request", code="TOO_MANY_KEYS")
    return [checked_key(key) for key in keys]


def required_value(body: dict[str, Any]) -> Any:
    """The `value` field (any JSON, null included) of at most 1 MiB serialised; 400 when absent."""
    if "value" not in body:
        raise BadRequest("value is required (any JSON value)", code="VALUE_REQUIRED")
    value = body["value"]
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    _check_size(size)
    return value


def secret_value(body: dict[str, Any], required: bool) -> str | None:
    """The `value` of a secret: a string of at most 1 MiB; `None` when absent and not required."""
    if "value" not in body and not required:
        return None
    value = body.get("value")
    if not isinstance(value, str):
        raise BadRequest("value is required and must be a string", code="INVALID_VALUE")
    _check_size(len(value.encode()))
    return value


def description(body: dict[str, Any]) -> str | None:
    """The optional `description`; `None` when absent (keep the stored one), `""` when null."""
    if "description" not in body:
        return None
    return optional_text(body, "description", MAX_DESCRIPTION_LENGTH) or ""


def optional_flag(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false", code="INVALID_FIELD")
    return value


def _check_size(size: int) -> None:
    if size > MAX_VALUE_BYTES:
        raise PayloadTooLarge(f"value is {size} bytes; at most {MAX_VALUE_BYTES} are allowed", code="VALUE_TOO_LARGE")
