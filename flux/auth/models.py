"""Accounts, sessions and service keys.

Two kinds of accounts: platform accounts administer the server from the dashboard
(`instance_admin`, or `tenant_admin` of the tenants they are members of); app users are
the end users of one tenant's applications (e-mail unique per tenant).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from flux.db import UtcDateTime, db, new_id, utcnow
from flux.tenancy import TenantScoped


class Credentials:
    """What both kinds of account share: an e-mail and a password hash (lockouts are per e-mail, `SigninLockout`)."""

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(sa.String(320))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(32))
    last_signin_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class PlatformAccount(Credentials, db.Model):
    __tablename__ = "platform_accounts"
    __table_args__ = (sa.UniqueConstraint("email"),)
    kind = "platform"

    name: Mapped[str] = mapped_column(sa.String(200), default="")


class AppUser(TenantScoped, Credentials, db.Model):
    __tablename__ = "auth_users"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "email"),)
    kind = "user"

    user_metadata: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class SigninLockout(db.Model):
    """Recent failed sign-ins of one e-mail, whether or not an account has it.

    Keyed by e-mail rather than kept on the account, so an unknown e-mail locks exactly
    like a known one and the answers tell nothing about which accounts exist. `scope`
    is the tenant of an app user's e-mail, empty for platform accounts.
    """

    __tablename__ = "signin_lockouts"
    __table_args__ = (sa.UniqueConstraint("account_kind", "scope", "email", name="uq_signin_lockouts_email"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    account_kind: Mapped[str] = mapped_column(sa.String(16))
    scope: Mapped[str] = mapped_column(sa.String(36))
    email: Mapped[str] = mapped_column(sa.String(320))
    failures: Mapped[int] = mapped_column(sa.Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class AuthSession(db.Model):
    """A sign-in: the refresh token's hash and generation, revocable as a whole.

    Not tenant-scoped: a session is looked up by id before the tenant is known.
    """

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    account_kind: Mapped[str] = mapped_column(sa.String(16))
    account_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    refresh_hash: Mapped[str] = mapped_column(sa.String(64))
    refresh_generation: Mapped[int] = mapped_column(sa.Integer, default=0)
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="")
    ip_address: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    refreshed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(64), default=None)


class ServiceKey(TenantScoped, db.Model):
    """A random API key of one tenant; only its SHA-256 hash and lookup prefix are stored."""

    __tablename__ = "service_keys"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    prefix: Mapped[str] = mapped_column(sa.String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    revoked_reason: Mapped[str | None] = mapped_column(sa.Text, default=None)
    deprecated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    grace_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    replaced_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    created_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class ServiceKeyEvent(TenantScoped, db.Model):
    """The revocation history of a key: revoked, deprecated, rotated."""

    __tablename__ = "service_key_events"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    key_id: Mapped[str] = mapped_column(sa.ForeignKey("service_keys.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    actor_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
