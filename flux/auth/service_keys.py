"""Service keys: random, shown once, stored as a SHA-256 hash behind a lookup prefix.

Format: `fbk_<12-character lookup prefix>_<43 characters, 32 random bytes>`. The prefix
finds the row with an indexed lookup; the whole key is compared by hash in constant
time. A fast hash is right here (DESIGN decision 9): the keys are high-entropy random,
so there is nothing for a slow hash to protect against, and a check costs microseconds.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from flux import audit
from flux.auth.models import ServiceKey, ServiceKeyEvent
from flux.auth.tokens import token_hash
from flux.db import db, utcnow
from flux.errors import Conflict

KEY_PREFIX = "fbk_"


def generate_key() -> tuple[str, str]:
    """(full key to show once, lookup prefix to store)."""
    lookup = secrets.token_hex(6)
    return f"{KEY_PREFIX}{lookup}_{secrets.token_urlsafe(32)}", lookup


def looks_like_service_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX)


def key_status(key: ServiceKey, now: datetime | None = None) -> str:
    """active, disabled, revoked, expired, deprecated (still in its grace period) or retired."""
    now = now or utcnow()
    if key.revoked_at is not None:
        return "revoked"
    if not key.enabled:
        return "disabled"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    if key.grace_until is not None:
        return "deprecated" if key.grace_until > now else "retired"
    return "active"


def find_usable_key(presented: str) -> ServiceKey | None:
    """The key row for a presented key when it may be used now; None otherwise.

    Split at most twice: the random part is URL-safe base64, which contains `_` itself.
    """
    parts = presented.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != KEY_PREFIX or len(parts[1]) != 12:
        return None
    key = db.session.scalar(
        sa.select(ServiceKey).where(ServiceKey.prefix == parts[1]).execution_options(all_tenants=True)
    )
    if key is None or not hmac.compare_digest(key.key_hash, token_hash(presented)):
        return None
    if key_status(key) not in ("active", "deprecated"):
        return None
    return key


def has_scope(key_scopes: list[str], needed: str) -> bool:
    """`*` grants everything, `secrets:*` every `secrets:` scope, `secrets:write` also `secrets:read`."""
    if "*" in key_scopes or needed in key_scopes:
        return True
    family, _, action = needed.partition(":")
    return f"{family}:*" in key_scopes or (action == "read" and f"{family}:write" in key_scopes)


def _record(key: ServiceKey, action: str, reason: str, actor_id: str | None) -> None:
    db.session.add(ServiceKeyEvent(key_id=key.id, action=action, reason=reason, actor_id=actor_id))
    audit.record(f"service_key.{action}", key.id, name=key.name, reason=reason)


def issue_key(
    name: str, description: str, scopes: list[str], expires_at: datetime | None, actor_id: str | None
) -> tuple[ServiceKey, str]:
    """Store a new key in the current tenant; return it with the plaintext to show once (flushes)."""
    plaintext, lookup = generate_key()
    key = ServiceKey(
        name=name,
        description=description,
        prefix=lookup,
        key_hash=token_hash(plaintext),
        scopes=scopes,
        expires_at=expires_at,
        created_by=actor_id,
    )
    db.session.add(key)
    db.session.flush()
    audit.record("service_key.created", key.id, name=name, scopes=scopes)
    return key, plaintext


def set_enabled(key: ServiceKey, enabled: bool) -> None:
    if key.revoked_at is not None:
        raise Conflict("A revoked key cannot be enabled or disabled", code="SERVICE_KEY_REVOKED")
    key.enabled = enabled
    audit.record("service_key.enabled" if enabled else "service_key.disabled", key.id, name=key.name)


def revoke_key(key: ServiceKey, reason: str, actor_id: str | None) -> None:
    """Stop the key for good; `reason` may be empty."""
    if key.revoked_at is not None:
        raise Conflict("Key is already revoked", code="SERVICE_KEY_REVOKED")
    key.revoked_at, key.revoked_reason = utcnow(), reason.strip()
    _record(key, "revoked", reason.strip(), actor_id)


def deprecate_key(
    key: ServiceKey, grace: timedelta, reason: str, actor_id: str | None, action: str = "deprecated"
) -> None:
    """Keep the key working for `grace`, then refuse it.

    A grace period can be shortened but never extended, so deprecating again cannot
    bring a retired key back to life.
    """
    if key.revoked_at is not None:
        raise Conflict("A revoked key cannot be deprecated or rotated", code="SERVICE_KEY_REVOKED")
    now = utcnow()
    if key.grace_until is not None and key.grace_until <= now:
        raise Conflict("The key's grace period is over; it cannot be used again", code="SERVICE_KEY_RETIRED")
    until = now + grace
    key.deprecated_at = key.deprecated_at or now
    key.grace_until = min(key.grace_until, until) if key.grace_until is not None else until
    _record(key, action, reason, actor_id)


def rotate_key(old: ServiceKey, grace: timedelta, reason: str, actor_id: str | None) -> tuple[ServiceKey, str]:
    """A new key with the old one's name, scopes and expiry; the old one works for `grace` more.

    Refused for a key already rotated (its replacement exists) or expired (the new key
    would inherit the past expiry and be useless).
    """
    if old.replaced_by is not None:
        raise Conflict("Key is already rotated; rotate its replacement", code="SERVICE_KEY_ROTATED")
    if old.expires_at is not None and old.expires_at <= utcnow():
        raise Conflict("An expired key cannot be rotated; create a new key", code="SERVICE_KEY_EXPIRED")
    deprecate_key(old, grace, reason or "rotated", actor_id, action="rotated")
    new, plaintext = issue_key(old.name, old.description, list(old.scopes), old.expires_at, actor_id)
    old.replaced_by = new.id
    return new, plaintext
