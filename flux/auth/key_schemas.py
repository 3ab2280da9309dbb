"""Request and answer bodies of `/api/v1/admin/service-keys`.

The dashboard's service-key page parses its forms with these models too
(`flux.schemas.parse`), so a key made or changed there meets exactly the API's rules.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, StrictBool, StringConstraints, computed_field, model_validator

from flux import error_codes
from flux.auth.scopes import known_scopes, unknown_scopes
from flux.auth.service_keys import KEY_PREFIX, key_status
from flux.schemas import ApiModel, Description, FutureTime, Timestamp, rule_error

MAX_NAME_LENGTH = 200
MAX_GRACE_HOURS = 90 * 24
DEFAULT_GRACE_HOURS = 24


def _not_blank(value: str) -> str:
    if not value:
        raise rule_error(error_codes.INVALID_FIELD, "must not be blank")
    return value


def _known_scopes(scopes: list[str]) -> list[str]:
    """At least one scope, each known or `family:*` of a known family; sorted, without repeats."""
    if not scopes:
        raise rule_error(error_codes.INVALID_FIELD, 'must name at least one scope, e.g. ["secrets:read"]')
    unknown = unknown_scopes(scopes)
    if unknown:
        raise rule_error(error_codes.INVALID_FIELD, f"unknown scope(s) {unknown}; known: {list(known_scopes())}")
    return sorted(set(scopes))


# Stored without surrounding blanks.
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NAME_LENGTH), AfterValidator(_not_blank)]
Scopes = Annotated[list[str], AfterValidator(_known_scopes)]
GraceHours = Annotated[
    float, Field(strict=True, ge=0, le=MAX_GRACE_HOURS, description="Hours the key keeps working, 0 to 2160")
]


class KeyCreate(ApiModel):
    name: Name
    description: Description | None = None
    scopes: Scopes | None = Field(None, description="Without it, all the scopes the creator holds")
    expires_at: FutureTime | None = None


class KeyChange(ApiModel):
    """`PUT /service-keys/<id>`: what is given changes; `expires_at: null` removes the expiry.

    `name`, `scopes` and `enabled` may be left out but not sent as null.
    """

    name: Name = Field(None)
    description: Description | None = None
    scopes: Scopes = Field(None)
    expires_at: FutureTime | None = None
    enabled: StrictBool = Field(None)


class KeyRevoke(ApiModel):
    """The body is optional: the reference SDK sends none."""

    model_config = ConfigDict(openapi_extra={"required": False})  # type: ignore[typeddict-unknown-key]

    reason: Description | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_body_is_empty(cls, data: Any) -> Any:
        return {} if data is None else data


class KeyDeprecate(KeyRevoke):
    grace_period_hours: GraceHours = DEFAULT_GRACE_HOURS


class KeyPath(ApiModel):
    key_id: str


class ServiceKeyOut(ApiModel):
    """Metadata only: the key itself is never stored, so it can never be shown again."""

    id: str
    name: str
    description: str
    prefix: str = Field(exclude=True)
    scopes: list[str]
    tenant_id: str
    enabled: bool
    expires_at: Timestamp | None
    revoked_at: Timestamp | None
    revoked_reason: str | None
    deprecated_at: Timestamp | None
    grace_until: Timestamp | None
    replaced_by: str | None
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp
    last_used_at: Timestamp | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def key_prefix(self) -> str:
        return f"{KEY_PREFIX}{self.prefix}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> Literal["active", "disabled", "revoked", "expired", "deprecated", "retired"]:
        return key_status(self)  # type: ignore[arg-type, return-value]


class NewServiceKey(ServiceKeyOut):
    """A key just made: the only answer that carries the key itself."""

    key: str

    @classmethod
    def shown_once(cls, key: Any, plaintext: str) -> NewServiceKey:
        return cls(**dict(ServiceKeyOut.model_validate(key)), key=plaintext)


class RotatedKey(NewServiceKey):
    previous_key: ServiceKeyOut

    @classmethod
    def of(cls, new: Any, plaintext: str, old: Any) -> RotatedKey:
        return cls(**dict(NewServiceKey.shown_once(new, plaintext)), previous_key=ServiceKeyOut.model_validate(old))


class KeyEventOut(ApiModel):
    id: str
    key_id: str
    action: str
    reason: str
    actor_id: str | None
    created_at: Timestamp


class KeyHistory(ApiModel):
    """`GET …/revocations`: the reference's shape (who revoked the key, when and why), every event inside."""

    id: str
    name: str
    revoked_at: Timestamp | None
    revoked_by: str | None
    revocation_reason: str | None
    events: list[KeyEventOut]
