"""`/api/v1/admin/service-keys`: the lifecycle of a tenant's service keys.

Keys belong to the request's tenant (the automatic tenant scoping applies), so an
administrator sees and changes only the keys of the tenant they act in. A service key
with `service_keys:write` may grant only scopes it holds, and change only keys whose
scopes it holds in full: otherwise it could disable or narrow a `*` key above it.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_openapi3 import Tag

from flux import audit
from flux.auth import service_keys as keys
from flux.auth.key_schemas import (
    KeyChange,
    KeyCreate,
    KeyDeprecate,
    KeyEventOut,
    KeyHistory,
    KeyPath,
    KeyRevoke,
    NewServiceKey,
    RotatedKey,
    ServiceKeyOut,
)
from flux.auth.models import ServiceKey, ServiceKeyEvent
from flux.auth.permissions import ADMIN_ROLES, require
from flux.context import current_actor
from flux.db import db
from flux.error_codes import (
    NOT_FOUND,
    NOTHING_TO_UPDATE,
    SCOPE_NOT_HELD,
    SERVICE_KEY_EXPIRED,
    SERVICE_KEY_RETIRED,
    SERVICE_KEY_REVOKED,
    SERVICE_KEY_ROTATED,
)
from flux.errors import BadRequest, Forbidden, NotFound
from flux.openapi import ApiBlueprint, raises
from flux.schemas import Page, answer, list_of, page_of, paginated

api = ApiBlueprint(
    "service_keys", __name__, url_prefix="/api/v1/admin/service-keys", abp_tags=[Tag(name="service keys")]
)
MANAGE = require(*ADMIN_ROLES, scope="service_keys:write")
READ = require(*ADMIN_ROLES, scope="service_keys:read")
# Kept on the key (`ServiceKeyEvent`) and in the audit trail when they change.
AUDITED_FIELDS = {"name", "description", "scopes", "expires_at"}


def _grantable(scopes: list[str], doing: str = "grant") -> list[str]:
    """A service key may hand out only scopes it holds, or `service_keys:write` alone would be worth `*`."""
    actor = current_actor()
    if actor.kind == "service_key":
        beyond = [scope for scope in scopes if not keys.has_scope(list(actor.scopes), scope)]
        if beyond:
            raise Forbidden(f"a service key cannot {doing} scopes it does not hold: {beyond}", code=SCOPE_NOT_HELD)
    return scopes


def _creator_scopes() -> list[str]:
    """The default scopes of a new key: all its creator holds (`*` for an administrator)."""
    actor = current_actor()
    return sorted(actor.scopes) if actor.kind == "service_key" else ["*"]


def _key(key_id: str) -> ServiceKey:
    key = db.session.get(ServiceKey, key_id) if len(key_id) <= 36 else None
    if key is None:
        raise NotFound("Service key not found", code=NOT_FOUND)
    return key


def _changeable(key_id: str) -> ServiceKey:
    """A key the caller may change: a service key must hold all of its scopes (403 otherwise)."""
    key = _key(key_id)
    _grantable(list(key.scopes or []), doing="change a key with")
    return key


def _shown(key: ServiceKey):
    return answer(ServiceKeyOut.model_validate(key))


def _switch(key_id: str, enabled: bool):
    key = _changeable(key_id)
    keys.set_enabled(key, enabled)
    db.session.commit()
    return _shown(key)


@api.get("", responses={200: list_of(ServiceKeyOut)})
@READ
def list_keys(query: Page):
    found, total = page_of(sa.select(ServiceKey).order_by(ServiceKey.created_at, ServiceKey.id), query)
    return paginated((ServiceKeyOut.model_validate(key) for key in found), total)


@api.post("", responses={201: NewServiceKey})
@MANAGE
@raises(SCOPE_NOT_HELD)
def create_key(body: KeyCreate):
    key, plaintext = keys.issue_key(
        body.name,
        body.description or "",
        _grantable(body.scopes if body.scopes is not None else _creator_scopes()),
        body.expires_at,
        current_actor().id,
    )
    db.session.commit()
    return answer(NewServiceKey.shown_once(key, plaintext), 201)


@api.get("/<key_id>", responses={200: ServiceKeyOut})
@READ
@raises(NOT_FOUND)
def get_key(path: KeyPath):
    return _shown(_key(path.key_id))


@api.put("/<key_id>", responses={200: ServiceKeyOut})
@MANAGE
@raises(NOT_FOUND, SCOPE_NOT_HELD, NOTHING_TO_UPDATE, SERVICE_KEY_REVOKED)
def update_key(path: KeyPath, body: KeyChange):
    key, given = _changeable(path.key_id), body.model_fields_set
    if not given:
        raise BadRequest(
            "nothing to update: send name, description, scopes, expires_at or enabled", code=NOTHING_TO_UPDATE
        )
    if "name" in given:
        key.name = body.name
    if "description" in given:
        key.description = body.description or ""
    if "scopes" in given:
        key.scopes = _grantable(body.scopes)
    if "expires_at" in given:
        key.expires_at = body.expires_at
    if given & AUDITED_FIELDS:
        audit.record("service_key.updated", key.id, fields=sorted(given & AUDITED_FIELDS))
    if "enabled" in given and body.enabled != key.enabled:
        keys.set_enabled(key, body.enabled)
    db.session.commit()
    return _shown(key)


@api.delete("/<key_id>", responses={204: None})
@MANAGE
@raises(NOT_FOUND, SCOPE_NOT_HELD)
def delete_key(path: KeyPath):
    key = _changeable(path.key_id)
    audit.record("service_key.deleted", key.id, name=key.name)
    db.session.delete(key)
    db.session.commit()
    return "", 204


@api.post("/<key_id>/disable", responses={200: ServiceKeyOut})
@MANAGE
@raises(NOT_FOUND, SCOPE_NOT_HELD, SERVICE_KEY_REVOKED)
def disable_key(path: KeyPath):
    return _switch(path.key_id, enabled=False)


@api.post("/<key_id>/enable", responses={200: ServiceKeyOut})
@MANAGE
@raises(NOT_FOUND, SCOPE_NOT_HELD, SERVICE_KEY_REVOKED)
def enable_key(path: KeyPath):
    return _switch(path.key_id, enabled=True)


@api.post("/<key_id>/revoke", responses={200: ServiceKeyOut})
@MANAGE
@raises(NOT_FOUND, SCOPE_NOT_HELD, SERVICE_KEY_REVOKED)
def revoke_key(path: KeyPath, body: KeyRevoke):
    key = _changeable(path.key_id)
    keys.revoke_key(key, body.reason or "", current_actor().id)
    db.session.commit()
    return _shown(key)


@api.post("/<key_id>/deprecate", responses={200: ServiceKeyOut})
@MANAGE
@raises(NOT_FOUND, SCOPE_NOT_HELD, SERVICE_KEY_REVOKED, SERVICE_KEY_RETIRED)
def deprecate_key(path: KeyPath, body: KeyDeprecate):
    key = _changeable(path.key_id)
    keys.deprecate_key(key, timedelta(hours=body.grace_period_hours), body.reason or "", current_actor().id)
    db.session.commit()
    return _shown(key)


@api.post("/<key_id>/rotate", responses={201: RotatedKey})
@MANAGE
@raises(NOT_FOUND, SCOPE_NOT_HELD, SERVICE_KEY_REVOKED, SERVICE_KEY_RETIRED, SERVICE_KEY_ROTATED, SERVICE_KEY_EXPIRED)
def rotate_key(path: KeyPath, body: KeyDeprecate):
    """A new key with the same name and scopes; the old one works for the grace period."""
    old = _changeable(path.key_id)
    grace = timedelta(hours=body.grace_period_hours)
    new, plaintext = keys.rotate_key(old, grace, body.reason or "", current_actor().id)
    db.session.commit()
    return answer(RotatedKey.of(new, plaintext, old), 201)


@api.get("/<key_id>/revocations", responses={200: KeyHistory})
@READ
@raises(NOT_FOUND)
def key_history(path: KeyPath):
    """Who revoked the key, when and why, with every event of its history in order."""
    key = _key(path.key_id)
    events = list(
        db.session.scalars(
            sa.select(ServiceKeyEvent).where(ServiceKeyEvent.key_id == key.id).order_by(ServiceKeyEvent.created_at)
        )
    )
    revoked = next((event for event in events if event.action == "revoked"), None)
    history = KeyHistory(
        id=key.id,
        name=key.name,
        revoked_at=key.revoked_at,
        revoked_by=revoked.actor_id if revoked else None,
        revocation_reason=key.revoked_reason,
        events=[KeyEventOut.model_validate(event) for event in events],
    )
    return answer(history)
