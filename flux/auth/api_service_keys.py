"""`/api/v1/admin/service-keys`: the lifecycle of a tenant's service keys.

Keys belong to the request's tenant (the automatic tenant scoping applies), so an
administrator sees and changes only the keys of the tenant they act in. A service key
with `service_keys:write` may grant only scopes it holds, and change only keys whose
scopes it holds in full: otherwise it could disable or narrow a `*` key above it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Blueprint, jsonify

from flux import audit
from flux.auth import service_keys as keys
from flux.auth.models import ServiceKey, ServiceKeyEvent
from flux.auth.permissions import ADMIN_ROLES, require
from flux.auth.scopes import known_scopes, unknown_scopes
from flux.context import current_actor
from flux.db import db, utcnow
from flux.errors import BadRequest, Forbidden, NotFound
from flux.http import json_body, optional_text

api = Blueprint("service_keys", __name__, url_prefix="/api/v1/admin/service-keys")
MANAGE = require(*ADMIN_ROLES, scope="service_keys:write")
READ = require(*ADMIN_ROLES, scope="service_keys:read")
MAX_GRACE_DAYS = 90


def _scopes(value: object) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise BadRequest('scopes must be a non-empty list of strings, e.g. ["secrets:read"]', code="INVALID_SCOPES")
    unknown = unknown_scopes(value)
    if unknown:
        raise BadRequest(f"unknown scope(s) {unknown}; known: {list(known_scopes())}", code="INVALID_SCOPES")
    return sorted(set(value))


def _grantable(scopes: list[str], doing: str = "grant") -> list[str]:
    """A service key may hand out only scopes it holds, or `service_keys:write` alone would be worth `*`."""
    actor = current_actor()
    if actor.kind == "service_key":
        beyond = [scope for scope in scopes if not keys.has_scope(list(actor.scopes), scope)]
        if beyond:
            raise Forbidden(f"a service key cannot {doing} scopes it does not hold: {beyond}", code="SCOPE_NOT_HELD")
    return scopes


def _creator_scopes() -> list[str]:
    """The default scopes of a new key: all its creator holds (`*` for an administrator)."""
    actor = current_actor()
    return sorted(actor.scopes) if actor.kind == "service_key" else ["*"]


def _future_time(value: object, name: str) -> datetime | None:
    """An aware time in the future, in UTC; a time the database cannot hold is a 400, not a 500."""
    if value is None:
        return None
    invalid = BadRequest(f"{name} must be an RFC 3339 time, e.g. 2030-01-01T00:00:00Z", code="INVALID_TIME")
    if not isinstance(value, str):
        raise invalid
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid from None
    if parsed.tzinfo is None:
        raise BadRequest(f"{name} must include a timezone (e.g. Z)", code="INVALID_TIME")
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise BadRequest(f"{name} is out of range", code="INVALID_TIME") from None
    if parsed <= utcnow():
        raise BadRequest(f"{name} must be in the future", code="INVALID_TIME")
    return parsed


def _grace(body: dict) -> timedelta:
    hours = body.get("grace_period_hours", 24)
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 <= hours <= MAX_GRACE_DAYS * 24:
        raise BadRequest(f"grace_period_hours must be a number from 0 to {MAX_GRACE_DAYS * 24}", code="INVALID_FIELD")
    return timedelta(hours=hours)


def _key(key_id: str) -> ServiceKey:
    key = db.session.get(ServiceKey, key_id) if len(key_id) <= 36 else None
    if key is None:
        raise NotFound("Service key not found", code="SERVICE_KEY_NOT_FOUND")
    return key


def _changeable(key_id: str) -> ServiceKey:
    """A key the caller may change: a service key must hold all of its scopes (403 otherwise)."""
    key = _key(key_id)
    _grantable(list(key.scopes or []), doing="change a key with")
    return key


@api.get("")
@READ
def list_keys():
    found = db.session.scalars(sa.select(ServiceKey).order_by(ServiceKey.created_at, ServiceKey.id))
    return jsonify([keys.describe(key) for key in found])


@api.post("")
@MANAGE
def create_key():
    body = json_body()
    name = optional_text(body, "name", 200)
    if not name or not name.strip():
        raise BadRequest("name is required", code="INVALID_FIELD")
    key, plaintext = keys.issue_key(
        name.strip(),
        optional_text(body, "description", 2000) or "",
        _grantable(_scopes(body["scopes"]) if body.get("scopes") is not None else _creator_scopes()),
        _future_time(body.get("expires_at"), "expires_at"),
        current_actor().id,
    )
    db.session.commit()
    return jsonify({**keys.describe(key), "key": plaintext}), 201


@api.get("/<key_id>")
@READ
def get_key(key_id: str):
    return jsonify(keys.describe(_key(key_id)))


@api.put("/<key_id>")
@MANAGE
def update_key(key_id: str):
    key, body = _changeable(key_id), json_body()
    changed = False
    if "name" in body:
        name = optional_text(body, "name", 200)
        if not name or not name.strip():
            raise BadRequest("name cannot be empty", code="INVALID_FIELD")
        key.name, changed = name.strip(), True
    if "description" in body:
        key.description, changed = optional_text(body, "description", 2000) or "", True
    if "scopes" in body:
        key.scopes, changed = _grantable(_scopes(body["scopes"])), True
    if "expires_at" in body:
        key.expires_at, changed = _future_time(body["expires_at"], "expires_at"), True
    if "enabled" in body and not isinstance(body["enabled"], bool):
        raise BadRequest("enabled must be true or false", code="INVALID_FIELD")
    if not changed and "enabled" not in body:
        raise BadRequest(
            "nothing to update: send name, description, scopes, expires_at or enabled", code="NOTHING_TO_UPDATE"
        )
    if changed:
        audit.record(
            "service_key.updated", key.id, fields=sorted(set(body) & {"name", "description", "scopes", "expires_at"})
        )
    if "enabled" in body and body["enabled"] != key.enabled:
        keys.set_enabled(key, body["enabled"])
    db.session.commit()
    return jsonify(keys.describe(key))


@api.delete("/<key_id>")
@MANAGE
def delete_key(key_id: str):
    key = _changeable(key_id)
    audit.record("service_key.deleted", key.id, name=key.name)
    db.session.delete(key)
    db.session.commit()
    return "", 204


def _set_enabled(key_id: str, enabled: bool):
    key = _changeable(key_id)
    keys.set_enabled(key, enabled)
    db.session.commit()
    return jsonify(keys.describe(key))


@api.post("/<key_id>/disable")
@MANAGE
def disable_key(key_id: str):
    return _set_enabled(key_id, False)


@api.post("/<key_id>/enable")
@MANAGE
def enable_key(key_id: str):
    return _set_enabled(key_id, True)


@api.post("/<key_id>/revoke")
@MANAGE
def revoke_key(key_id: str):
    """The reason is optional: the reference SDK sends none."""
    key = _changeable(key_id)
    keys.revoke_key(key, optional_text(json_body(required=False), "reason", 2000) or "", current_actor().id)
    db.session.commit()
    return jsonify(keys.describe(key))


@api.post("/<key_id>/deprecate")
@MANAGE
def deprecate_key(key_id: str):
    key = _changeable(key_id)
    body = json_body(required=False)
    keys.deprecate_key(key, _grace(body), optional_text(body, "reason", 2000) or "", current_actor().id)
    db.session.commit()
    return jsonify(keys.describe(key))


@api.post("/<key_id>/rotate")
@MANAGE
def rotate_key(key_id: str):
    """A new key with the same name and scopes; the old one works for the grace period."""
    old = _changeable(key_id)
    body = json_body(required=False)
    new, plaintext = keys.rotate_key(old, _grace(body), optional_text(body, "reason", 2000) or "", current_actor().id)
    db.session.commit()
    return jsonify({**keys.describe(new), "key": plaintext, "previous_key": keys.describe(old)}), 201


@api.get("/<key_id>/revocations")
@READ
def key_history(key_id: str):
    """The reference's shape (who revoked the key, when and why), with every event inside."""
    key = _key(key_id)
    events = list(
        db.session.scalars(
            sa.select(ServiceKeyEvent).where(ServiceKeyEvent.key_id == key.id).order_by(ServiceKeyEvent.created_at)
        )
    )
    revoked = next((event for event in events if event.action == "revoked"), None)
    return jsonify(
        {
            "id": key.id,
            "name": key.name,
            "revoked_at": keys.iso(key.revoked_at),
            "revoked_by": revoked.actor_id if revoked else None,
            "revocation_reason": key.revoked_reason,
            "events": [event.as_json() for event in events],
        }
    )
