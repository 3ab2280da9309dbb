"""The tenant-setting categories the core enforces: `authentication`, `security`, `tokens` (seed 002).

Registered by `flux.default_auth` like any plugin's categories. What governs the
server: `authentication.password_policy` (sign-up and password changes), `.lockout`
(sign-in), `.session.lifetime` (the refresh token's), `security.allowed_origins` (CORS)
and `tokens.access_token_lifetime`. The other fields are kept for clients to read
(the server has no MFA or password expiry yet).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from flux import error_codes, tenant_settings
from flux.schemas import rule_error
from flux.tenancy import current_tenant_id, default_tenant_id
from flux.tenant_settings import SettingsGroup

DAY = 86400
Seconds = Annotated[int, Field(ge=1, le=400 * DAY)]
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?")
DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _origin(value: str) -> str:
    """An origin as a browser sends it (host in lower case, no default port): it is compared as it is kept."""
    if value == "*":
        return value
    if not ORIGIN.fullmatch(value):
        raise rule_error(error_codes.INVALID_FIELD, f"{value[:100]!r} is not an origin (scheme://host[:port], or *)")
    origin = value.lower()
    port = origin.rpartition(":")[2] if origin.count(":") == 2 else None
    if port is not None and not 1 <= int(port) <= 65535:
        raise rule_error(error_codes.INVALID_FIELD, f"{value[:100]!r} names port {port}: ports are 1 to 65535")
    return origin.removesuffix(DEFAULT_PORTS[origin.partition(":")[0]])


Origin = Annotated[str, Field(max_length=300), AfterValidator(_origin)]


class PasswordPolicy(SettingsGroup):
    min_length: Annotated[int, Field(ge=1, le=1024)] = 8
    require_uppercase: bool = True
    require_lowercase: bool = True
    require_numbers: bool = True
    require_symbols: bool = False
    max_age_days: Annotated[int, Field(ge=0, le=36500)] = 90
    history_count: Annotated[int, Field(ge=0, le=100)] = 5


class SessionPolicy(SettingsGroup):
    lifetime: Seconds = DAY
    idle_timeout: Seconds = 3600
    absolute_timeout: Seconds = 7 * DAY
    single_session: bool = False
    remember_me_enabled: bool = True
    remember_me_duration: Seconds = 30 * DAY


MfaMethod = Literal["totp", "sms", "email", "webauthn"]


class MfaPolicy(SettingsGroup):
    enabled: bool = True
    required: bool = False
    methods: Annotated[list[MfaMethod], Field(max_length=4)] = Field(default_factory=lambda: ["totp", "sms", "email"])
    grace_period: Annotated[int, Field(ge=0, le=400 * DAY)] = 0


class LockoutPolicy(SettingsGroup):
    enabled: bool = True
    max_attempts: Annotated[int, Field(ge=1, le=10000)] = 5
    lockout_duration: Seconds = 900
    reset_after: Seconds = 3600


class AuthenticationSettings(SettingsGroup):
    """Passwords, sessions, MFA and the sign-in lockout of the tenant's accounts."""

    password_policy: PasswordPolicy = PasswordPolicy()
    session: SessionPolicy = SessionPolicy()
    mfa: MfaPolicy = MfaPolicy()
    lockout: LockoutPolicy = LockoutPolicy()


class RateLimiting(SettingsGroup):
    enabled: bool = True
    requests_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 60


class SecuritySettings(SettingsGroup):
    """Which browser origins may call the API (CORS), trusted proxies and request rate limits."""

    allowed_origins: Annotated[list[Origin], Field(max_length=100)] = Field(default_factory=list)
    trusted_proxies: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=100)] = Field(
        default_factory=list
    )
    rate_limiting: RateLimiting = RateLimiting()


class TokenSettings(SettingsGroup):
    """Lifetimes of the tokens the server issues."""

    access_token_lifetime: Annotated[int, Field(ge=1, le=DAY)] = 900


CATEGORIES = {"authentication": AuthenticationSettings, "security": SecuritySettings, "tokens": TokenSettings}

SYMBOL = re.compile(r"[^A-Za-z0-9\s]")
RULES = (
    ("require_uppercase", re.compile(r"[A-Z]"), "an uppercase letter"),
    ("require_lowercase", re.compile(r"[a-z]"), "a lowercase letter"),
    ("require_numbers", re.compile(r"[0-9]"), "a number"),
    ("require_symbols", SYMBOL, "a symbol"),
)


PLATFORM_ROLES = ("instance_admin", "tenant_admin")


def governing(category: str, tenant_id: str | None, platform: bool) -> dict:
    """The values of `category` that govern an account: its tenant's, or for a dashboard account the server's.

    Dashboard accounts administer tenants; a tenant's admin must not set their password
    rules, lockout or session lifetimes (the `default` tenant's admin could lock every
    instance admin out, or keep their sessions for 400 days). The server's values are
    the environment's (`FLUXBASE_SETTINGS_*`) or the code's, which no tenant changes.
    """
    if platform:
        return tenant_settings.server_values(category)
    return tenant_settings.read(category, tenant_id or current_tenant_id(required=False) or default_tenant_id())


def password_problem(password: str, policy: dict) -> str | None:
    """What `password` lacks under a tenant's `password_policy` (its values), or None."""
    if len(password) < policy["min_length"]:
        return f"must be at least {policy['min_length']} characters (password_policy.min_length)"
    for rule, pattern, what in RULES:
        if policy[rule] and not pattern.search(password):
            return f"must contain {what} (password_policy.{rule})"
    return None
