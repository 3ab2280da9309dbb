"""The dashboard's System settings page: the tenant's system settings and system secrets.

Mounted inside the dashboard (`register_dashboard_blueprints`), so it has the sign-in
check, CSRF protection and HTML errors. Secret values are write-only: the forms never
echo one back and the page shows metadata only. A user's own settings are API-only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from flux.api import ADMIN_ROLES, MAX_LIMIT, ApiError, Page, current_tenant, invalid, parse, refused, require, saved
from plugins.settings import store
from plugins.settings.forms import SecretChangeForm, SecretForm, SettingChangeForm, SettingForm
from plugins.settings.schemas import KeyPath

pages = Blueprint("settings_pages", __name__, url_prefix="/settings", template_folder="templates")
KEY = "<path:key>"


def _render(status: int = 200, **form: Any):
    body = render_template(
        "settings/system.html",
        tenant=current_tenant(),
        settings=store.page_of_rows(None, secret=False, page=Page(limit=MAX_LIMIT))[0],
        secrets=store.page_of_rows(None, secret=True, page=Page(limit=MAX_LIMIT))[0],
        form=form,
    )
    return body, status


@pages.get("/")
@require(*ADMIN_ROLES)
def index():
    return _render()


@pages.post("/")
@require(*ADMIN_ROLES)
def create_setting():
    form = SettingForm()
    kept = {"key": form.key.data, "value": form.value.data, "description": form.description.data}
    if not form.validate():
        return invalid(form, _render, **kept)
    new = form.model
    try:
        store.create_setting(None, new.key, new.value, new.description, new.is_public)
    except ApiError as error:
        return refused(error, _render, **kept)
    return saved(f"Created the setting “{new.key}”.")


@pages.post(f"/{KEY}/update")
@require(*ADMIN_ROLES)
def update_setting(key: str):
    form = SettingChangeForm()
    if not form.validate():
        return invalid(form, _render)
    change = form.model
    try:
        row = store.get_setting(parse(KeyPath, {"key": key}).key, None)
        store.change_setting(row, value=change.value, description=change.description, is_public=change.is_public)
    except ApiError as error:
        return refused(error, _render)
    return saved(f"Saved the setting “{key}”.")


@pages.post(f"/{KEY}/delete")
@require(*ADMIN_ROLES)
def delete_setting(key: str):
    try:
        store.delete(store.get_setting(parse(KeyPath, {"key": key}).key, None))
    except ApiError as error:
        return refused(error, _render)
    return saved(f"Deleted the setting “{key}”.")


@pages.post("/secrets")
@require(*ADMIN_ROLES)
def create_setting_secret():
    form = SecretForm()
    # The value is never put back into the form.
    kept = {"secret_key": form.key.data, "secret_description": form.description.data}
    if not form.validate():
        return invalid(form, _render, **kept)
    new = form.model
    try:
        store.create_setting_secret(None, new.key, new.value, new.description)
    except ApiError as error:
        return refused(error, _render, **kept)
    return saved(f"Stored the secret “{new.key}”. Its value cannot be shown again.")


@pages.post(f"/secrets/{KEY}/update")
@require(*ADMIN_ROLES)
def update_setting_secret(key: str):
    form = SecretChangeForm()
    if not form.validate():
        return invalid(form, _render)
    try:
        store.change_setting_secret_by_key(None, parse(KeyPath, {"key": key}).key, form.model)
    except ApiError as error:
        return refused(error, _render)
    return saved(f"Updated the secret “{key}”.")


@pages.post(f"/secrets/{KEY}/delete")
@require(*ADMIN_ROLES)
def delete_setting_secret(key: str):
    try:
        store.delete(store.get_setting_secret(parse(KeyPath, {"key": key}).key, None))
    except ApiError as error:
        return refused(error, _render)
    return saved(f"Deleted the secret “{key}”.")
