"""The secrets plugin's request and answer bodies: names, scopes, namespaces, values and expiry.

A secret becomes the `FLUXBASE_SECRET_*` variable of a function's process, so its name
keeps to characters a variable can be made of, and its value to 64 KiB (Linux refuses
any single environment string over 128 KiB). No answer model has a field for a value.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from flux.api import (
    ApiModel,
    Description,
    FutureTime,
    Page,
    Timestamp,
    Version,
    VersionInPath,
    bounded_text,
    error_codes,
    matching,
    rule_error,
    utcnow,
)
from plugins.secrets.models import GLOBAL, MAX_NAME_LENGTH, MAX_NAMESPACE_LENGTH, NAMESPACE

OWNER = "secrets"
ENV_NAME_TAKEN = error_codes.register(
    "ENV_NAME_TAKEN", 409, "The name becomes the variable another secret already is: choose another name.", OWNER
)
VERSION_UNREADABLE = error_codes.register(
    "VERSION_UNREADABLE", 409, "That version does not decrypt (changed, or its key is gone): pick another.", OWNER
)

NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_NAME_LENGTH}}}")
NAME_RULE = f"1 to {MAX_NAME_LENGTH} letters, digits, '_', '-' and '.'"
NAMESPACE_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_NAMESPACE_LENGTH - 1}}}")
NAMESPACE_RULE = f"1 to {MAX_NAMESPACE_LENGTH} letters, digits, '_', '-' and '.', starting with a letter or digit"
MAX_VALUE_BYTES = 64 * 1024
MAX_SEARCH_LENGTH = 200


def _present(value: Any) -> Any:
    """Null and "" count as missing: a secret without a name or a value means nothing."""
    if value is None or value == "":
        raise rule_error(error_codes.FIELD_REQUIRED, "is required")
    return value


def _blank_is_none(value: Any) -> Any:
    return value or None


Present = BeforeValidator(_present)
SecretName = Annotated[
    str, Field(json_schema_extra={"pattern": f"^{NAME.pattern}$"}), matching(NAME, f"use {NAME_RULE}")
]
SecretValue = bounded_text(MAX_VALUE_BYTES)
Scope = Literal["global", "namespace"]
# Query filters: an empty `?scope=` or `?namespace=` filters nothing.
ScopeFilter = Annotated[Scope | None, BeforeValidator(_blank_is_none)]
NamespaceFilter = Annotated[str | None, BeforeValidator(_blank_is_none)]


class FunctionSecretCreate(ApiModel):
    """`POST`: a namespace without a scope means scope `namespace`; neither means `global`."""

    name: Annotated[SecretName, Present]
    value: Annotated[SecretValue, Present]
    scope: Scope | None = None
    namespace: Annotated[str | None, Field(json_schema_extra={"pattern": f"^({NAMESPACE_NAME.pattern})?$"})] = Field(
        default="", validate_default=True
    )
    description: Description | None = None
    expires_at: FutureTime | None = None

    @field_validator("namespace")
    @classmethod
    def _fits_the_scope(cls, namespace: str | None, info: ValidationInfo) -> str:
        namespace = namespace or ""
        scope = info.data.get("scope") or (NAMESPACE if namespace else GLOBAL)
        if scope == GLOBAL and namespace:
            raise rule_error(
                error_codes.INVALID_FIELD, "a global secret has no namespace: drop it, or use scope 'namespace'"
            )
        if scope == NAMESPACE and not namespace:
            raise rule_error(error_codes.FIELD_REQUIRED, "scope 'namespace' needs a namespace")
        if namespace and not NAMESPACE_NAME.fullmatch(namespace):
            raise rule_error(error_codes.INVALID_FIELD, f"use {NAMESPACE_RULE}")
        return namespace

    @model_validator(mode="after")
    def _scope_from_namespace(self) -> FunctionSecretCreate:
        self.scope = self.scope or (NAMESPACE if self.namespace else GLOBAL)
        return self


class FunctionSecretChange(ApiModel):
    """`PUT`: what is given changes (a null `expires_at` or `description` clears it); only a value makes a version.

    Seed 001's SDK sends the whole secret back, so `name`, `scope` and `namespace` may
    come too, but only as stored: a secret is not renamed or moved.
    """

    value: Annotated[SecretValue, Present] = Field(default=None, description="Absent keeps the value")
    description: Description | None = None
    expires_at: FutureTime | None = None
    name: str | None = None
    scope: str | None = None
    namespace: str | None = None


class FunctionSecretRollback(ApiModel):
    version: Version


class IdPath(ApiModel):
    secret_id: str


class IdVersionPath(IdPath):
    version: VersionInPath


class NamePath(ApiModel):
    name: SecretName


class NameVersionPath(NamePath):
    version: VersionInPath


class NamespaceQuery(ApiModel):
    """By name, `?namespace=NS` names the secret of that namespace, no namespace the global one."""

    namespace: NamespaceFilter = None


class VersionsQuery(NamespaceQuery, Page):
    """A page of the versions of the secret a name (and namespace) names."""


class SecretsQuery(Page):
    scope: ScopeFilter = None
    namespace: NamespaceFilter = None
    search: Annotated[str, Field(max_length=MAX_SEARCH_LENGTH, description="Part of the name, any case")] = ""


class FunctionSecretOut(ApiModel):
    """What every endpoint shows of a secret: never its value, plain or sealed."""

    id: str
    name: str
    scope: str
    namespace: str
    description: str
    version: int
    expires_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None
    updated_by: str | None

    @computed_field
    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()


class FunctionSecretVersionOut(ApiModel):
    version: int
    is_current: bool
    created_at: Timestamp
    created_by: str | None

    @classmethod
    def of(cls, row: Any, current: int) -> FunctionSecretVersionOut:
        """A stored version, marked current when it is the secret's version `current`."""
        return cls(
            version=row.version, is_current=row.version == current, created_at=row.created_at, created_by=row.created_by
        )


class FunctionSecretStats(ApiModel):
    """The dashboard's cards: all secrets, those expiring within 7 days (not yet expired), the expired."""

    total: int
    expiring_soon: int
    expired: int
