"""`/api/v1/settings/user/…` and `/api/v1/settings/secret…`: an app user's own settings and secrets.

Only app users have them: a platform account or a service key gets 403, an anonymous
caller 401. Every view reaches the caller's own rows only, so another user's key is
simply not found.

Routing: `GET /user/list`, `GET /user/own/<key>` and `GET /user/system/<key>` keep their
meaning, so a key named `list`, or starting with `own/` or `system/`, cannot be read
with `GET /user/<key>`; `GET /user/own/<key>` reads it (PUT and DELETE work as usual).
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from flux.auth.permissions import SIGNED_IN, check
from flux.context import current_actor
from flux.db import db
from flux.errors import Forbidden, NotFound
from flux.http import json_body
from plugins.settings import store
from plugins.settings.api_secrets import add_secret_routes
from plugins.settings.validation import checked_key, description, required_value

user_api = Blueprint("settings_user", __name__, url_prefix="/api/v1/settings")


@user_api.before_request
def require_app_user() -> None:
    actor = current_actor()
    if actor.is_authenticated and actor.kind != "user":
        raise Forbidden(
            "user settings and secrets belong to app users: sign in with /api/v1/auth/signin",
            code="APP_USER_REQUIRED",
        )
    check((SIGNED_IN,))


def caller_id() -> str:
    """The signed-in app user's id (checked by `require_app_user` before every view)."""
    return current_actor().id


@user_api.get("/user/list")
def list_settings():
    return jsonify([row.as_json() for row in store.list_rows(caller_id(), secret=False)])


@user_api.get("/user/<path:key>")
def get_with_fallback(key: str):
    row = store.resolve(checked_key(key), caller_id())
    if row is None:
        raise NotFound(f"setting {key!r} not found for this user or the system", code="SETTING_NOT_FOUND")
    return jsonify({"key": row.key, "value": row.value, "source": "system" if row.user_id is None else "user"})


@user_api.get("/user/own/<path:key>")
def get_own(key: str):
    return jsonify(store.get_setting(checked_key(key), caller_id()).as_json())


@user_api.get("/user/system/<path:key>")
def get_system(key: str):
    row = store.get_setting(checked_key(key), None)
    return jsonify({"key": row.key, "value": row.value})


@user_api.put("/user/<path:key>")
def put_setting(key: str):
    key, body = checked_key(key), json_body()
    row = store.put_setting(caller_id(), key, required_value(body), description(body))
    db.session.commit()
    return jsonify(row.as_json())


@user_api.delete("/user/<path:key>")
def delete_setting(key: str):
    store.delete(store.get_setting(checked_key(key), caller_id()))
    db.session.commit()
    return "", 204


add_secret_routes(user_api, "/secret", caller_id)
