"""`/api/v1/settings/user/…` and `/api/v1/settings/secret…`: an app user's own settings and secrets.

Only app users have them: a platform account or a service key gets 403, an anonymous
caller 401. Every view reaches the caller's own rows only, so another user's key is
simply not found. No answer ever carries a secret's value.

Routing: `GET /user/list`, `GET /user/own/<key>` and `GET /user/system/<key>` keep their
meaning, so a key named `list`, or starting with `own/` or `system/`, cannot be read
with `GET /user/<key>`; `GET /user/own/<key>` reads it (PUT and DELETE work as usual).
"""

from __future__ import annotations

from flask_openapi3 import Tag

from flux.api import (
    ALREADY_EXISTS,
    APP_USER,
    NOT_FOUND,
    NOTHING_TO_UPDATE,
    ApiBlueprint,
    Page,
    answer,
    current_actor,
    db,
    list_of,
    paginated,
    raises,
    require,
)
from plugins.settings import store
from plugins.settings.schemas import (
    KEY_IS_SECRET,
    KeyPath,
    KeyValue,
    Resolved,
    SecretChange,
    SecretCreate,
    SecretOut,
    SettingOut,
    SettingPut,
)

user_api = ApiBlueprint("settings_user", __name__, url_prefix="/api/v1/settings", abp_tags=[Tag(name="settings")])


def caller_id() -> str:
    """The signed-in app user's id (`require(APP_USER)` let only app users in)."""
    return current_actor().id


@user_api.get("/user/list", responses={200: list_of(SettingOut)})
@require(APP_USER)
def list_user_settings(query: Page):
    rows, total = store.page_of_rows(caller_id(), secret=False, page=query)
    return paginated((SettingOut.model_validate(row) for row in rows), total)


@user_api.get("/user/<path:key>", responses={200: Resolved})
@require(APP_USER)
@raises(NOT_FOUND)
def get_user_setting_or_fallback(path: KeyPath):
    row = store.resolve(path.key, caller_id())
    if row is None:
        raise store.not_found("setting", path.key, "for this user or the system")
    return answer(Resolved(key=row.key, value=row.value, source="system" if row.user_id is None else "user"))


@user_api.get("/user/own/<path:key>", responses={200: SettingOut})
@require(APP_USER)
@raises(NOT_FOUND)
def get_own_user_setting(path: KeyPath):
    return answer(SettingOut.model_validate(store.get_setting(path.key, caller_id())))


@user_api.get("/user/system/<path:key>", responses={200: KeyValue})
@require(APP_USER)
@raises(NOT_FOUND)
def get_system_setting_for_user(path: KeyPath):
    row = store.get_setting(path.key, None)
    return answer(KeyValue.model_validate(row))


@user_api.put("/user/<path:key>", responses={200: SettingOut})
@require(APP_USER)
@raises(KEY_IS_SECRET)
def put_user_setting(path: KeyPath, body: SettingPut):
    row = store.put_setting(caller_id(), path.key, body.value, body.description)
    db.session.commit()
    return answer(SettingOut.model_validate(row))


@user_api.delete("/user/<path:key>", responses={204: None})
@require(APP_USER)
@raises(NOT_FOUND)
def delete_user_setting(path: KeyPath):
    store.delete(store.get_setting(path.key, caller_id()))
    db.session.commit()
    return "", 204


@user_api.post("/secret", responses={201: SecretOut})
@require(APP_USER)
@raises(ALREADY_EXISTS)
def create_user_secret(body: SecretCreate):
    row = store.create_setting_secret(caller_id(), body.key, body.value, body.description)
    db.session.commit()
    return answer(SecretOut.model_validate(row), 201)


@user_api.get("/secret", responses={200: list_of(SecretOut)})
@require(APP_USER)
def list_user_secrets(query: Page):
    rows, total = store.page_of_rows(caller_id(), secret=True, page=query)
    return paginated((SecretOut.model_validate(row) for row in rows), total)


@user_api.get("/secret/<path:key>", responses={200: SecretOut})
@require(APP_USER)
@raises(NOT_FOUND)
def get_user_secret(path: KeyPath):
    return answer(SecretOut.model_validate(store.get_setting_secret(path.key, caller_id())))


@user_api.put("/secret/<path:key>", responses={200: SecretOut})
@require(APP_USER)
@raises(NOT_FOUND, NOTHING_TO_UPDATE)
def update_user_secret(path: KeyPath, body: SecretChange):
    row = store.change_setting_secret_by_key(caller_id(), path.key, body)
    db.session.commit()
    return answer(SecretOut.model_validate(row))


@user_api.delete("/secret/<path:key>", responses={204: None})
@require(APP_USER)
@raises(NOT_FOUND)
def delete_user_secret(path: KeyPath):
    store.delete(store.get_setting_secret(path.key, caller_id()))
    db.session.commit()
    return "", 204
