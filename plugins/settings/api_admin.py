"""`/api/v1/admin/settings/custom…`: the tenant's system settings and system secrets.

For `instance_admin`, `tenant_admin` (of the tenant acted in), `admin`, and service
keys with `settings:write`. System settings are the defaults users fall back to and
what the public endpoints show (those marked `is_public`). A system setting named
`secret` or `secrets`, or starting with `secret/`, cannot be read with
`GET /custom/<key>` (those are the secrets' paths); it is listed by `GET /custom`.
"""

from __future__ import annotations

from flask_openapi3 import Tag

from flux.api import (
    ADMIN_ROLES,
    ALREADY_EXISTS,
    NOT_FOUND,
    NOTHING_TO_UPDATE,
    ApiBlueprint,
    Page,
    answer,
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
    SecretChange,
    SecretCreate,
    SecretOut,
    SettingChange,
    SettingCreate,
    SettingOut,
)

SCOPE = "settings:write"
admin_api = ApiBlueprint(
    "settings_admin", __name__, url_prefix="/api/v1/admin/settings/custom", abp_tags=[Tag(name="system settings")]
)


@admin_api.get("", responses={200: list_of(SettingOut)})
@require(*ADMIN_ROLES, scope=SCOPE)
def list_system_settings(query: Page):
    rows, total = store.page_of_rows(None, secret=False, page=query)
    return paginated((SettingOut.model_validate(row) for row in rows), total)


@admin_api.post("", responses={201: SettingOut})
@require(*ADMIN_ROLES, scope=SCOPE)
@raises(ALREADY_EXISTS)
def create_system_setting(body: SettingCreate):
    row = store.create_setting(None, body.key, body.value, body.description, body.is_public)
    db.session.commit()
    return answer(SettingOut.model_validate(row), 201)


@admin_api.get("/<path:key>", responses={200: SettingOut})
@require(*ADMIN_ROLES, scope=SCOPE)
@raises(NOT_FOUND)
def get_system_setting(path: KeyPath):
    return answer(SettingOut.model_validate(store.get_setting(path.key, None)))


@admin_api.put("/<path:key>", responses={200: SettingOut})
@require(*ADMIN_ROLES, scope=SCOPE)
@raises(NOT_FOUND, NOTHING_TO_UPDATE, KEY_IS_SECRET)
def update_system_setting(path: KeyPath, body: SettingChange):
    row = store.get_setting(path.key, None)
    if not body.model_fields_set:
        raise store.nothing_to_update("value, description or is_public")
    value = body.value if "value" in body.model_fields_set else store.UNCHANGED
    store.change_setting(row, value=value, description=body.description, is_public=body.is_public)
    db.session.commit()
    return answer(SettingOut.model_validate(row))


@admin_api.delete("/<path:key>", responses={204: None})
@require(*ADMIN_ROLES, scope=SCOPE)
@raises(NOT_FOUND)
def delete_system_setting(path: KeyPath):
    store.delete(store.get_setting(path.key, None))
    db.session.commit()
    return "", 204


@admin_api.post("/secret", responses={201: SecretOut})
@require(*ADMIN_ROLES, scope=SCOPE)
@raises(ALREADY_EXISTS)
def create_system_secret(body: SecretCreate):
    row = store.create_setting_secret(None, body.key, body.value, body.description)
    db.session.commit()
    return answer(SecretOut.model_validate(row), 201)


# The reference SDK lists system secrets at `/custom/secrets`; a system setting named
# `secrets` is read through `GET /custom`, like one named `secret`.
@admin_api.get("/secret", responses={200: list_of(SecretOut)})
@admin_api.get("/secrets", responses={200: list_of(SecretOut)}, operation_id="settings_admin.list_system_secrets_sdk")
@require(*ADMIN_ROLES, scope=SCOPE)
def list_system_secrets(query: Page):
    rows, total = store.page_of_rows(None, secret=True, page=query)
    return paginated((SecretOut.model_validate(row) for row in rows), total)


@admin_api.get("/secret/<path:key>", responses={200: SecretOut})
@require(*ADMIN_ROLES, scope=SCOPE)
@raises(NOT_FOUND)
def get_system_secret(path: KeyPath):
    return answer(SecretOut.model_validate(store.get_setting_secret(path.key, None)))


@admin_api.put("/secret/<path:key>", responses={200: SecretOut})
@require(*ADMIN_ROLES, scope=SCOPE)
@raises(NOT_FOUND, NOTHING_TO_UPDATE)
def update_system_secret(path: KeyPath, body: SecretChange):
    row = store.change_setting_secret_by_key(None, path.key, body)
    db.session.commit()
    return answer(SecretOut.model_validate(row))


@admin_api.delete("/secret/<path:key>", responses={204: None})
@require(*ADMIN_ROLES, scope=SCOPE)
@raises(NOT_FOUND)
def delete_system_secret(path: KeyPath):
    store.delete(store.get_setting_secret(path.key, None))
    db.session.commit()
    return "", 204
