"""`/api/v1/settings/…` without authentication: the app settings a client may read.

Anyone sees the tenant's system settings marked public; a signed-in caller (any
account or service key) also sees the non-public ones. Never a user's setting, never
a secret: anything else is simply not found.
"""

from __future__ import annotations

from flask import jsonify
from flask_openapi3 import Tag

from flux.api import NOT_FOUND, ApiBlueprint, Page, answer, current_actor, list_of, paginated, public, raises
from plugins.settings import store
from plugins.settings.schemas import KeyBatch, KeyPath, KeyValue

public_api = ApiBlueprint("settings_public", __name__, url_prefix="/api/v1/settings", abp_tags=[Tag(name="settings")])


def _visible(keys: list[str]) -> list[KeyValue]:
    rows, _total = store.visible_system_settings(current_actor().is_authenticated, Page(limit=len(keys)), keys)
    return [KeyValue.model_validate(row) for row in rows]


@public_api.get("/", responses={200: list_of(KeyValue, "VisibleSettings")})
@public
def list_visible_settings(query: Page):
    rows, total = store.visible_system_settings(current_actor().is_authenticated, query)
    return paginated((KeyValue.model_validate(row) for row in rows), total)


@public_api.get("/<path:key>", responses={200: KeyValue})
@public
@raises(NOT_FOUND)
def get_visible_setting(path: KeyPath):
    found = _visible([path.key])
    if not found:
        raise store.not_found("setting", path.key)
    return answer(found[0])


@public_api.post("/batch", responses={200: list_of(KeyValue, "VisibleSettings")})
@public
def get_visible_settings_batch(body: KeyBatch):
    return jsonify([item.model_dump(mode="json") for item in _visible(body.keys)])
