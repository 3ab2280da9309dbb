"""Request and answer bodies of the accounts API: sign-up, sign-in, tokens, app users, administrators.

The rules for new credentials live here once: the API applies them to its bodies, the
dashboard's first-run setup and `fluxbase admin create` through `flux.schemas.parse`.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, JsonValue

from flux import error_codes
from flux.auth.passwords import EMAIL_PATTERN
from flux.auth.policy import governing, password_problem
from flux.schemas import ApiModel, Timestamp, rule_error

MAX_EMAIL_LENGTH = 320
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 200
MAX_METADATA_BYTES = 16 * 1024


def _email(value: str) -> str:
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.match(email):
        raise rule_error(error_codes.INVALID_FIELD, "is not a valid e-mail address")
    return email


def _password_rule(platform: bool) -> AfterValidator:
    """`authentication.password_policy` as the value is checked: the tenant's, or the server's (dashboard accounts)."""

    def check(value: str) -> str:
        if len(value) > MAX_PASSWORD_LENGTH:
            raise rule_error(error_codes.WEAK_PASSWORD, f"must be at most {MAX_PASSWORD_LENGTH} characters")
        problem = password_problem(value, governing("authentication", None, platform)["password_policy"])
        if problem:
            raise rule_error(error_codes.WEAK_PASSWORD, problem)
        return value

    return AfterValidator(check)


def _given(value: str) -> str:
    if not value:
        raise rule_error(error_codes.FIELD_REQUIRED, "is required")
    return value


def _small_metadata(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    size = len(json.dumps(value))
    if size > MAX_METADATA_BYTES:
        raise rule_error(
            error_codes.VALUE_TOO_LARGE, f"is {size} bytes of JSON; at most {MAX_METADATA_BYTES} are allowed"
        )
    return value


# A new account's e-mail, stored trimmed and in lower case.
Email = Annotated[str, AfterValidator(_email)]
NewPassword = Annotated[str, _password_rule(platform=False)]
NewAdminPassword = Annotated[str, _password_rule(platform=True)]
Metadata = Annotated[dict[str, JsonValue], AfterValidator(_small_metadata)]
Given = Annotated[str, AfterValidator(_given)]


class Signup(ApiModel):
    email: Email
    password: NewPassword
    user_metadata: Metadata | None = None


class Signin(ApiModel):
    """Any e-mail and password: a malformed e-mail fails like a wrong password."""

    email: Given
    password: Given


class Refresh(ApiModel):
    refresh_token: str


class UserChange(ApiModel):
    """`PATCH /auth/user`: metadata is merged; a new password needs the current one."""

    user_metadata: Metadata | None = None
    password: NewPassword | None = None
    current_password: str | None = None


class NewAdmin(ApiModel):
    email: Email
    password: NewAdminPassword
    name: Annotated[str, Field(max_length=MAX_NAME_LENGTH)] | None = None


class AdminSetup(NewAdmin):
    """Checked against `FLUXBASE_SECURITY_SETUP_TOKEN` (403 when it differs or is unset)."""

    setup_token: str | None = None


class UserOut(ApiModel):
    """An app user as the API shows it; also read from a table row of these columns (`GET /auth/user`)."""

    id: str
    email: str
    role: str
    tenant_id: str
    user_metadata: Annotated[dict[str, JsonValue], BeforeValidator(lambda value: value or {})]
    created_at: Timestamp
    updated_at: Timestamp
    last_signin_at: Timestamp | None


class AccountOut(ApiModel):
    """A dashboard administrator (platform account)."""

    id: str
    email: str
    name: str
    role: str
    created_at: Timestamp
    last_signin_at: Timestamp | None


class Tokens(ApiModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: Annotated[int, Field(description="Seconds the access token is valid")]


class UserTokens(Tokens):
    user: UserOut


class AccountTokens(Tokens):
    user: AccountOut


class Me(ApiModel):
    """`GET /admin/me`: `{"user": {…}}`, the reference's shape."""

    user: AccountOut


class SetupStatus(ApiModel):
    needs_setup: bool
    has_admin: bool


class AuthConfig(ApiModel):
    signup_enabled: bool
    password_min_length: int
    password_policy: dict[str, JsonValue]
    access_token_seconds: int
    refresh_token_seconds: int
    lockout_attempts: int
    lockout_seconds: int
