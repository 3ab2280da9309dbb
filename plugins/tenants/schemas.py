"""The tenants plugin's request and answer bodies (seed 004, "Manage tenants")."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, AliasChoices, Field, JsonValue

from flux.api import ApiModel, Timestamp, error_codes, json_at_most, rule_error

OWNER = "tenants"
DEFAULT_TENANT_FIXED = error_codes.register(
    "DEFAULT_TENANT_FIXED", 400, "The `default` tenant can be neither deleted nor renamed.", OWNER
)
LAST_TENANT_ADMIN = error_codes.register(
    "LAST_TENANT_ADMIN", 409, "The tenant's last admin stays unless an instance admin removes them.", OWNER
)
TENANT_NOT_DELETED = error_codes.register(
    "TENANT_NOT_DELETED", 409, "Only a soft-deleted tenant can be recovered.", OWNER
)

SLUG_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,62}")
SLUG_RULE = "1 to 63 lowercase letters, digits and '-', starting with a letter"
# Paths of their own under /admin/tenants/: a tenant of that slug could not be named there.
RESERVED_SLUGS = frozenset({"mine", "deleted"})
# A tenant is named by its id or its slug alike (routes, `X-FB-Tenant`), and ids are
# lowercase UUIDs, which fit the slug rule when they start with a letter: a slug of that
# shape could name another tenant by its id.
ID_SHAPED = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SETTING_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
MAX_SETTING_KEY_LENGTH = 200
SETTING_KEY_RULE = f"at most {MAX_SETTING_KEY_LENGTH} characters: names of letters, digits, '_' and '-' joined by dots"
MAX_SETTING_BYTES = 64 * 1024
MAX_METADATA_BYTES = 64 * 1024
MAX_SETTINGS_PER_CHANGE = 100


def _slug(value: str) -> str:
    if not SLUG_PATTERN.fullmatch(value):
        raise rule_error(error_codes.INVALID_FIELD, f"a slug is {SLUG_RULE}")
    if value in RESERVED_SLUGS:
        raise rule_error(error_codes.INVALID_FIELD, f"{value!r} is reserved: it names a path of its own")
    if ID_SHAPED.fullmatch(value):
        raise rule_error(error_codes.INVALID_FIELD, "a slug may not look like a tenant id (a UUID)")
    return value


def _setting_key(value: str) -> str:
    if len(value) > MAX_SETTING_KEY_LENGTH or not SETTING_KEY_PATTERN.fullmatch(value):
        raise rule_error(error_codes.INVALID_FIELD, f"a setting key is {SETTING_KEY_RULE}")
    return value


Slug = Annotated[str, Field(min_length=1, max_length=63, description=SLUG_RULE), AfterValidator(_slug)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Metadata = Annotated[dict[str, JsonValue], json_at_most(MAX_METADATA_BYTES)]
SettingKey = Annotated[str, Field(min_length=1, description=SETTING_KEY_RULE), AfterValidator(_setting_key)]
SettingValue = Annotated[JsonValue, json_at_most(MAX_SETTING_BYTES)]
Role = Literal["tenant_member", "tenant_admin"]


class TenantPath(ApiModel):
    """`{id}` of every tenant route: the tenant's id or its slug."""

    id: Annotated[str, Field(min_length=1, max_length=63)]


class MemberPath(TenantPath):
    user_id: Annotated[str, Field(min_length=1, max_length=36)]


class SettingPath(TenantPath):
    key: SettingKey


class HardDelete(ApiModel):
    hard: bool = False


class TenantCreate(ApiModel):
    error_codes = (error_codes.VALUE_TOO_LARGE,)

    slug: Slug
    name: Name
    metadata: Metadata = Field(default_factory=dict)


class TenantChange(ApiModel):
    """`PATCH /admin/tenants/{id}`: what is given changes, the rest stays."""

    error_codes = (error_codes.VALUE_TOO_LARGE, error_codes.NOTHING_TO_UPDATE)

    slug: Slug | None = None
    name: Name | None = None
    metadata: Metadata | None = None


class TenantOut(ApiModel):
    id: str
    slug: str
    name: str
    metadata: dict[str, JsonValue] = Field(validation_alias=AliasChoices("metadata_", "metadata"))
    created_at: Timestamp
    updated_at: Timestamp
    deleted_at: Timestamp | None


class MyTenant(TenantOut):
    """`GET /admin/tenants/mine`: a tenant the caller is a member of, with the caller's role there."""

    role: Role


class MemberAdd(ApiModel):
    user_id: Annotated[str, Field(min_length=1, max_length=36)]
    role: Role = "tenant_member"


class AdminAdd(ApiModel):
    user_id: Annotated[str, Field(min_length=1, max_length=36)]


class MemberOut(ApiModel):
    """A dashboard account's membership of a tenant."""

    user_id: str
    email: str
    name: str
    role: Role
    tenant_id: str
    created_at: Timestamp


class SettingsChange(ApiModel):
    """`PATCH …/settings`: dotted keys to values; `null` removes a key."""

    error_codes = (error_codes.VALUE_TOO_LARGE,)

    settings: Annotated[dict[SettingKey, SettingValue | None], Field(min_length=1, max_length=MAX_SETTINGS_PER_CHANGE)]


class TenantSettings(ApiModel):
    settings: dict[str, JsonValue]


class TenantSetting(ApiModel):
    key: str
    value: JsonValue


class SchemaState(ApiModel):
    """`POST …/migrate`: one schema shared by every tenant, so nothing to migrate per tenant."""

    tenant_id: str
    schema_mode: Literal["shared"] = "shared"
    revisions: list[str]
    pending: list[str]
    migrated: bool = False
