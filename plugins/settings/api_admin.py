"""`/api/v1/admin/settings/custom…`: the tenant's system settings and system secrets.

For `instance_admin`, `tenant_admin` (of the tenant acted in), `admin`, and service
keys with `settings:write`. System settings are the defaults users fall back to and
what the public endpoints show (those marked `is_public`). A system setting named
`secret` or `secrets`, or starting with `secret/`, cannot be read with
`GET /custom/<key>` (those are the secrets' paths); it is listed by `GET /custom`.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from flux.auth.permissions import ADMIN_ROLES, check
from flux.db import db
from flux.errors import BadRequest
from flux.http import json_body
from plugins.settings import store
from plugins.settings.api_secrets import add_secret_routes
from plugins.settings.validation import checked_key, description, optional_flag, required_value

SCOPE = "settings:write"
admin_api = Blueprint("settings_admin", __name__, url_prefix="/api/v1/admin/settings/custom")


@admin_api.before_request
def require_settings_admin() -> None:
    check(ADMIN_ROLES, scope=SCOPE)


@admin_api.get("")
def list_settings():
    return jsonify([row.as_json() for row in store.list_rows(None, secret=False)])


@admin_api.post("")
def create_setting():
    body = json_body()
    row = store.create_setting(
        None, checked_key(body.get("key")), required_value(body), description(body), optional_flag(body, "is_public")
    )
    db.session.commit()
    return jsonify(row.as_json()), 201


@admin_api.get("/<path:key>")
def get_setting(key: str):
    return jsonify(store.get_setting(checked_key(key), None).as_json())


@admin_api.put("/<path:key>")
def update_setting(key: str):
    row, body = store.get_setting(checked_key(key), None), json_body()
    if not body.keys() & {"value", "description", "is_public"}:
        raise BadRequest("give value, description or is_public to change", code="NOTHING_TO_UPDATE")
    value = required_value(body) if "value" in body else store.UNCHANGED
    store.change_setting(row, value=value, description=description(body), is_public=optional_flag(body, "is_public"))
    db.session.commit()
    return jsonify(row.as_json())


@admin_api.delete("/<path:key>")
def delete_setting(key: str):
    store.delete(store.get_setting(checked_key(key), None))
    db.session.commit()
    return "", 204


add_secret_routes(admin_api, "/secret", lambda: None)
# The reference SDK lists system secrets at `/custom/secrets`: the same view, so a system
# setting named `secrets` is read through `GET /custom` like one named `secret`.
admin_api.add_url_rule("/secrets", endpoint="list_secrets", methods=["GET"])
