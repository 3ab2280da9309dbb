"""`/api/v1/secrets…` (seed 004) and `/api/v1/admin/secrets…` (seed 001): one service, two route sets.

For `instance_admin`, `tenant_admin` (of the tenant acted in), `admin`, and service keys
with `secrets:read` (reads) or `secrets:write` (changes); an app user gets 403. No
response ever holds a value. By name, `?namespace=NS` names the secret of that
namespace and no namespace the global one.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, jsonify, request

from flux.auth.permissions import ADMIN_ROLES, check
from flux.db import db, utcnow
from flux.errors import BadRequest
from flux.http import json_body, optional_text, version_number
from plugins.secrets import store
from plugins.secrets.models import FunctionSecret
from plugins.secrets.validation import (
    MAX_DESCRIPTION_LENGTH,
    checked_name,
    checked_scope,
    expiry,
    placement,
    secret_value,
)

Finder = Callable[[str, bool], FunctionSecret]
secrets_api = Blueprint("secrets", __name__, url_prefix="/api/v1/secrets")
admin_secrets_api = Blueprint("secrets_admin", __name__, url_prefix="/api/v1/admin/secrets")


def require_secrets_role() -> None:
    check(ADMIN_ROLES, scope="secrets:read" if request.method in ("GET", "HEAD") else "secrets:write")


def list_secrets():
    scope = request.args.get("scope") or None
    namespace = request.args.get("namespace") or None
    rows = store.list_secrets(
        checked_scope(scope) if scope else None, namespace, search=request.args.get("search", "")[:200]
    )
    now = utcnow()
    return jsonify([row.as_json(now) for row in rows])


def create_secret():
    body = json_body()
    name = checked_name(body.get("name"))
    scope, namespace = placement(body.get("scope"), body.get("namespace"))
    row = store.create(
        name,
        secret_value(body, required=True),
        scope,
        namespace,
        optional_text(body, "description", MAX_DESCRIPTION_LENGTH),
        expiry(body.get("expires_at")),
    )
    db.session.commit()
    return jsonify(row.as_json()), 201


def change(row: FunctionSecret) -> FunctionSecret:
    """Apply a PUT body: `value`, `description` and/or `expires_at` (null clears it)."""
    body = json_body()
    fields = body.keys() & {"value", "description", "expires_at"}
    if not fields:
        raise BadRequest("give value, description or expires_at to change", code="NOTHING_TO_UPDATE")
    identity = {"name": row.name, "scope": row.scope, "namespace": row.namespace}
    if any(body[field] not in (None, identity[field]) for field in identity.keys() & body.keys()):
        raise BadRequest(
            "a secret's name, scope and namespace cannot change: create a new secret and delete this one",
            code="IMMUTABLE_FIELD",
        )
    description = optional_text(body, "description", MAX_DESCRIPTION_LENGTH)
    store.update(
        row,
        value=secret_value(body, required=False),
        description="" if "description" in fields and description is None else description,
        expires_at=expiry(body["expires_at"]) if "expires_at" in fields else store.UNCHANGED,
    )
    db.session.commit()
    return row


def add_secret_routes(blueprint: Blueprint, rule: str, find: Finder, prefix: str, versions: str = "versions") -> None:
    """Get, update, delete, versions and rollback of the secret `find(ident, for_update)` names."""

    def get_secret(ident: str):
        return jsonify(find(ident, False).as_json())

    def update_secret(ident: str):
        return jsonify(change(find(ident, True)).as_json())

    def delete_secret(ident: str):
        store.delete(find(ident, True))
        db.session.commit()
        return "", 204

    def list_versions(ident: str):
        row = find(ident, False)
        return jsonify([version.as_json(row.version) for version in store.versions(row)])

    def rollback_secret(ident: str, version: str):
        row = store.rollback(find(ident, True), version_number(version))
        db.session.commit()
        return jsonify(row.as_json())

    blueprint.add_url_rule(rule, view_func=get_secret, endpoint=f"{prefix}_get_secret", methods=["GET"])
    blueprint.add_url_rule(rule, view_func=update_secret, endpoint=f"{prefix}_update_secret", methods=["PUT"])
    blueprint.add_url_rule(rule, view_func=delete_secret, endpoint=f"{prefix}_delete_secret", methods=["DELETE"])
    blueprint.add_url_rule(
        f"{rule}/{versions}", view_func=list_versions, endpoint=f"{prefix}_list_versions", methods=["GET"]
    )
    blueprint.add_url_rule(
        f"{rule}/rollback/<version>", view_func=rollback_secret, endpoint=f"{prefix}_rollback_secret", methods=["POST"]
    )


def by_name(name: str, for_update: bool) -> FunctionSecret:
    return store.by_name(checked_name(name), request.args.get("namespace") or None, for_update)


for blueprint in (secrets_api, admin_secrets_api):
    blueprint.before_request(require_secrets_role)
    blueprint.add_url_rule("", view_func=list_secrets, methods=["GET"])
    blueprint.add_url_rule("", view_func=create_secret, methods=["POST"])


@secrets_api.get("/stats")
def secret_stats():
    return jsonify(store.stats())


add_secret_routes(secrets_api, "/<ident>", store.by_id, "by_id")
add_secret_routes(secrets_api, "/by-name/<ident>", by_name, "by_name")
add_secret_routes(admin_secrets_api, "/<ident>", by_name, "by_name", versions="history")


@admin_secrets_api.post("/<name>/rollback")
def rollback_by_body(name: str):
    version = json_body().get("version")
    version = version_number(version if isinstance(version, int) else None)  # a JSON number, not "1"
    row = store.rollback(by_name(name, True), version)
    db.session.commit()
    return jsonify(row.as_json())
