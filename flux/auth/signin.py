"""Checking credentials, with per-IP and per-e-mail rate limits and account lockout.

The rate limits slow down guessing across accounts; the lockout (kept in the database,
so every worker and node sees it) stops guessing one account's password. Lockouts are
kept per e-mail, not per account: an unknown e-mail is locked after as many failures
as a known one, with the same answer, so no answer tells whether an account exists.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, request

from flux.auth.models import Credentials, SigninLockout
from flux.auth.passwords import EMAIL_PATTERN, verify_password
from flux.auth.policy import governing
from flux.db import db, new_id, upsert_insert, utcnow
from flux.errors import TooManyRequests, Unauthorized
from flux.tenancy import TenantScoped, current_tenant_id

INVALID_CREDENTIALS = "Invalid email or password"


def _limiter():
    return current_app.extensions["flux"].limiter


def _too_many(message: str, seconds: int) -> TooManyRequests:
    return TooManyRequests(message, headers={"Retry-After": str(seconds)}, retry_after=seconds)


def authenticate(model: type[Credentials], email: str, password: str) -> Credentials:
    """The account for these credentials (`flux.auth.schemas.Signin`); 401 (one message for every mismatch) or 429."""
    email = email.strip().lower()
    config = current_app.config
    ip = request.remote_addr or "unknown"
    limits = [(config["AUTH_SIGNIN_LIMIT_PER_IP"], "signin-ip", ip)]
    limits.append((config["AUTH_SIGNIN_LIMIT_PER_EMAIL"], "signin-email", email))
    for limit, *identifiers in limits:
        wait = _limiter().retry_after(limit, *identifiers)
        if wait:
            raise _too_many("Too many failed sign-ins; try again later", wait)

    lockout, now = _lockout_of(model, email), utcnow()
    policy = _lockout_policy(model)
    locked_until = db.session.scalar(sa.select(SigninLockout.locked_until).where(lockout))
    if policy["enabled"] and locked_until is not None and locked_until > now:
        seconds = math.ceil((locked_until - now).total_seconds())
        raise _too_many("Account temporarily locked after repeated failed sign-ins", seconds)

    account = None
    if EMAIL_PATTERN.match(email):
        account = db.session.scalar(sa.select(model).where(model.email == email))
    if verify_password(account.password_hash if account else None, password):
        db.session.execute(sa.delete(SigninLockout).where(lockout))  # committed with the new session
        return account

    for limit, *identifiers in limits:
        _limiter().hit(limit, *identifiers)
    if policy["enabled"]:
        _count_failure(model, email, now, policy)
    db.session.commit()
    raise Unauthorized(INVALID_CREDENTIALS, code="INVALID_CREDENTIALS")


def _scope(model: type[Credentials]) -> str:
    """An app user's e-mail is unique per tenant; a platform account's on the whole server."""
    return current_tenant_id() if issubclass(model, TenantScoped) else ""


def _lockout_of(model: type[Credentials], email: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        SigninLockout.account_kind == model.kind, SigninLockout.scope == _scope(model), SigninLockout.email == email
    )


def _lockout_policy(model: type[Credentials]) -> dict[str, Any]:
    """`authentication.lockout` of the app user's tenant, or the server's for dashboard accounts (`governing`)."""
    platform = not issubclass(model, TenantScoped)
    return governing("authentication", None if platform else _scope(model), platform)["lockout"]


def _count_failure(model: type[Credentials], email: str, now: datetime, policy: dict[str, Any]) -> None:
    """One more failure for `email` (a new count after `reset_after` quiet seconds); lock at `max_attempts`.

    One INSERT … ON CONFLICT, so concurrent failures of one e-mail all count. Rows
    quiet for `reset_after` whose lock (if any) is over are deleted as it goes.
    """
    quiet = timedelta(seconds=policy["reset_after"])
    insert = upsert_insert()(SigninLockout).values(
        id=new_id(), account_kind=model.kind, scope=_scope(model), email=email, failures=1, updated_at=now
    )
    stale = SigninLockout.updated_at < now - quiet
    counted = insert.on_conflict_do_update(
        index_elements=["account_kind", "scope", "email"],
        set_={"failures": sa.case((stale, 1), else_=SigninLockout.failures + 1), "updated_at": now},
    )
    failures = db.session.scalar(counted.returning(SigninLockout.failures))
    if failures >= policy["max_attempts"]:
        locked_until = now + timedelta(seconds=policy["lockout_duration"])
        lock = sa.update(SigninLockout).where(_lockout_of(model, email)).values(failures=0, locked_until=locked_until)
        db.session.execute(lock)
    expired = sa.or_(SigninLockout.locked_until.is_(None), SigninLockout.locked_until <= now)
    db.session.execute(sa.delete(SigninLockout).where(SigninLockout.updated_at < now - quiet, expired))
