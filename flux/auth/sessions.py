"""Sign-in sessions: create, refresh with rotation and reuse detection, revoke, check.

A refresh token names its session and generation. Presenting the current generation
rotates it; presenting an older one means a token was stolen or replayed, so the whole
session is revoked (as OAuth 2.0 Security BCP recommends for refresh-token rotation).
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, request

from flux.auth.models import AuthSession, Credentials
from flux.auth.policy import governing
from flux.auth.tokens import (
    AccessClaims,
    issue_access_token,
    new_refresh_token,
    parse_refresh_token,
    token_hash,
)
from flux.cache import TtlCache
from flux.context import current_actor
from flux.db import db, new_id, utcnow
from flux.errors import Forbidden, Unauthorized

INVALID_REFRESH = "Invalid or expired refresh token"


def _cache() -> TtlCache[bool]:
    """Which sessions are live, per process, for `AUTH_SESSION_CACHE_SECONDS`."""
    return current_app.extensions["flux"].live_sessions


def token_response(account: Credentials, session: AuthSession, refresh_token: str) -> dict[str, Any]:
    """The fields of a token answer (`flux.auth.schemas.Tokens`), the account itself as `user`."""
    access_token, lifetime = issue_access_token(
        AccessClaims(account.id, account.email, account.role, session.id, session.tenant_id)
    )
    return {
        "user": account,
        "access_token": access_token,
        "refresh_token": refresh_token,
        "token_type": "bearer",
        "expires_in": lifetime,
    }


def _lifetime(account: Credentials, tenant_id: str) -> int:
    """`authentication.session.lifetime`: the tenant's for app users, the server's for dashboard accounts."""
    return governing("authentication", tenant_id, account.kind == "platform")["session"]["lifetime"]


def open_session(account: Credentials, tenant_id: str) -> tuple[AuthSession, str]:
    """Store a new session for a signed-in account; return it with its first refresh token (commits)."""
    session_id = new_id()
    refresh = new_refresh_token(session_id, 0)
    session = AuthSession(
        id=session_id,
        account_kind=account.kind,
        account_id=account.id,
        tenant_id=tenant_id,
        refresh_hash=token_hash(refresh),
        refresh_generation=0,
        user_agent=(request.headers.get("User-Agent") or "")[:255],
        ip_address=(request.remote_addr or "")[:64],
        expires_at=utcnow() + timedelta(seconds=_lifetime(account, tenant_id)),
    )
    account.last_signin_at = utcnow()
    db.session.add(session)
    db.session.commit()
    return session, refresh


def start_session(account: Credentials, tenant_id: str) -> dict[str, Any]:
    """Open a session and return the fields of the API's token answer for it."""
    session, refresh = open_session(account, tenant_id)
    return token_response(account, session, refresh)


def end_current_session(reason: str) -> None:
    """Revoke the session behind the current request's token, if it is still live."""
    session = db.session.get(AuthSession, current_actor().session_id)
    if session is not None and session.revoked_at is None:
        revoke(session, reason)


def refresh_session(refresh_token: object, account_kind: str, live_tenant: bool = False) -> tuple[AuthSession, str]:
    """Rotate a refresh token; reuse of an old one revokes the session. Commits.

    `live_tenant`: refuse (403, before rotating) a session whose tenant is soft-deleted,
    for accounts bound to that one tenant (app users); a recovered tenant's sessions
    refresh again.
    """
    parsed = parse_refresh_token(refresh_token)
    if parsed is None:
        raise Unauthorized(INVALID_REFRESH, code="INVALID_REFRESH_TOKEN")
    session_id, generation = parsed
    session = db.session.scalar(sa.select(AuthSession).where(AuthSession.id == session_id).with_for_update())
    if session is None or session.account_kind != account_kind or session.revoked_at is not None:
        raise Unauthorized(INVALID_REFRESH, code="INVALID_REFRESH_TOKEN")
    if session.expires_at <= utcnow():
        raise Unauthorized(INVALID_REFRESH, code="INVALID_REFRESH_TOKEN")
    if live_tenant and current_app.extensions["flux"].tenants.lookup(session.tenant_id) is None:
        raise Forbidden("access denied to this tenant: it no longer exists", code="TENANT_ACCESS_DENIED")
    current = generation == session.refresh_generation
    if not current or not hmac.compare_digest(token_hash(refresh_token), session.refresh_hash):
        if generation < session.refresh_generation:
            revoke(session, "refresh_token_reused")
        raise Unauthorized(INVALID_REFRESH, code="INVALID_REFRESH_TOKEN")
    session.refresh_generation += 1
    fresh = new_refresh_token(session.id, session.refresh_generation)
    session.refresh_hash = token_hash(fresh)
    session.refreshed_at = utcnow()
    db.session.commit()
    return session, fresh


def revoke(session: AuthSession, reason: str) -> None:
    session.revoked_at = utcnow()
    session.revoked_reason = reason
    db.session.commit()
    _cache().put(session.id, False)


def revoke_other_sessions(account: Credentials, keep: str | None, reason: str) -> None:
    """Revoke every live session of `account` but `keep`, with their refresh tokens (the caller commits).

    Other processes stop accepting those sessions' access tokens within
    `AUTH_SESSION_CACHE_SECONDS`, as after any sign-out.
    """
    live = sa.select(AuthSession).where(
        AuthSession.account_kind == account.kind,
        AuthSession.account_id == account.id,
        AuthSession.revoked_at.is_(None),
        AuthSession.id != (keep or ""),
    )
    now = utcnow()
    for session in db.session.scalars(live):
        session.revoked_at, session.revoked_reason = now, reason
        _cache().put(session.id, False)


def session_is_live(session_id: str) -> bool:
    cached = _cache().get(session_id)
    if cached is not None:
        return cached
    row = db.session.execute(
        sa.select(AuthSession.revoked_at, AuthSession.expires_at).where(AuthSession.id == session_id)
    ).first()
    live = row is not None and row.revoked_at is None and row.expires_at > utcnow()
    _cache().put(session_id, live)
    return live
