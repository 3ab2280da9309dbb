"""`/api/v1/settings/…` without authentication: the app settings a client may read.

Anyone sees the tenant's system settings marked public; a signed-in caller (any
account or service key) also sees the non-public ones. Never a user's setting, never
a secret: anything else is simply not found.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from flux.context import current_actor, public
from flux.errors import NotFound
from flux.http import json_body
from plugins.settings import store
from plugins.settings.validation import checked_key, checked_keys

MAX_BATCH_KEYS = 100
public_api = Blueprint("settings_public", __name__, url_prefix="/api/v1/settings")


def _visible(keys: list[str] | None = None) -> list[dict]:
    rows = store.visible_system_settings(current_actor().is_authenticated, keys)
    return [{"key": row.key, "value": row.value} for row in rows]


@public_api.get("/")
@public
def list_visible():
    return jsonify(_visible())


@public_api.get("/<path:key>")
@public
def get_visible(key: str):
    found = _visible([checked_key(key)])
    if not found:
        raise NotFound(f"setting {key!r} not found", code="SETTING_NOT_FOUND")
    return jsonify(found[0])


@public_api.post("/batch")
@public
def get_batch():
    return jsonify(_visible(checked_keys(json_body().get("keys"), MAX_BATCH_KEYS)))
