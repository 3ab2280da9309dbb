"""The settings plugin's request and answer bodies.

Keys are addressed in URLs (`/settings/user/<key>`), so besides the allowed characters
each `/`-separated segment must be non-empty and not `.` or `..`: such keys would be
rewritten by clients and servers on the way and could never be read back.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, JsonValue, StrictBool

from flux.api import ApiModel, Description, Timestamp, bounded_text, error_codes, json_at_most, rule_error
from plugins.settings.models import MAX_KEY_LENGTH

OWNER = "settings"
KEY_IS_SECRET = error_codes.register(
    "KEY_IS_SECRET", 409, "The key names a secret; change it through the secrets API.", OWNER
)

KEY_CHARACTERS = re.compile(r"[A-Za-z0-9._/-]+")
MAX_VALUE_BYTES = 1024 * 1024
MAX_SECRET_BYTES = MAX_VALUE_BYTES
MAX_BATCH_KEYS = 100
KEY_RULE = (
    f"at most {MAX_KEY_LENGTH} letters, digits, '.', '_', '-' and '/', "
    "with no empty, '.' or '..' segment between slashes"
)


def _checked_key(key: str) -> str:
    if (
        len(key) > MAX_KEY_LENGTH
        or not KEY_CHARACTERS.fullmatch(key)
        or any(segment in ("", ".", "..") for segment in key.split("/"))
    ):
        raise rule_error(error_codes.INVALID_FIELD, f"a key is {KEY_RULE}")
    return key


Key = Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH), AfterValidator(_checked_key)]
Value = Annotated[JsonValue, json_at_most(MAX_VALUE_BYTES)]
SecretText = bounded_text(MAX_SECRET_BYTES)


class KeyPath(ApiModel):
    key: Key


class SettingPut(ApiModel):
    """`PUT /settings/user/<key>`: any JSON value, null included."""

    error_codes = (error_codes.VALUE_TOO_LARGE,)

    value: Value
    description: Description | None = None


class SettingCreate(SettingPut):
    key: Key
    is_public: StrictBool | None = None


class SettingChange(ApiModel):
    """`PUT /admin/settings/custom/<key>`: what is given changes, the rest stays."""

    error_codes = (error_codes.VALUE_TOO_LARGE,)

    value: Value = None
    description: Description | None = None
    is_public: StrictBool | None = None


class SecretCreate(ApiModel):
    error_codes = (error_codes.VALUE_TOO_LARGE,)

    key: Key
    value: SecretText
    description: Description | None = None


class SecretChange(ApiModel):
    error_codes = (error_codes.VALUE_TOO_LARGE,)

    value: SecretText | None = None
    description: Description | None = None


class KeyBatch(ApiModel):
    keys: Annotated[list[Key], Field(min_length=1, max_length=MAX_BATCH_KEYS)]


class SettingOut(ApiModel):
    """A plain setting (`user_id` null for a system setting)."""

    id: str
    key: str
    value: JsonValue
    description: str
    user_id: str | None
    is_public: bool
    created_by: str | None
    updated_by: str | None
    created_at: Timestamp
    updated_at: Timestamp


class SecretOut(ApiModel):
    """What any endpoint may show of a secret: never its value, plain or encrypted."""

    id: str
    key: str
    description: str
    user_id: str | None
    created_at: Timestamp
    updated_at: Timestamp


class Resolved(ApiModel):
    """A user's setting, or the system's it falls back to."""

    key: str
    value: JsonValue
    source: Annotated[str, Field(json_schema_extra={"enum": ["user", "system"]})]


class KeyValue(ApiModel):
    key: str
    value: JsonValue
