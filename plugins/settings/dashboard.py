"""The dashboard's System settings page: the tenant's system settings and system secrets.

Mounted inside the dashboard (`register_dashboard_blueprints`), so it has the sign-in
check, CSRF protection and HTML errors. Secret values are write-only: the forms never
echo one back and the page shows metadata only. A user's own settings are API-only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from flux.auth.permissions import ADMIN_ROLES, require
from flux.context import current_tenant
from flux.errors import ApiError, BadRequest
from flux.form_outcomes import refused, saved
from flux.http import parse_json
from plugins.settings import store
from plugins.settings.validation import checked_key, description, required_value, secret_value

pages = Blueprint("settings_pages", __name__, url_prefix="/settings", template_folder="templates")
KEY = "<path:key>"


def _render(status: int = 200, **form: Any):
    body = render_template(
        "settings/system.html",
        tenant=current_tenant(),
        settings=store.list_rows(None, secret=False),
        secrets=store.list_rows(None, secret=True),
        form=form,
    )
    return body, status


def _json_value(text: str) -> Any:
    """The form's value box holds JSON; plain words are taken as a string for convenience.

    Parsed as a request body is, so what the API refuses (too deep, a lone surrogate)
    is a 400 here too.
    """
    try:
        value = parse_json(text)
    except ValueError:
        value = text
    return required_value({"value": value})


@pages.get("/")
@require(*ADMIN_ROLES)
def index():
    return _render()


@pages.post("/")
@require(*ADMIN_ROLES)
def create_setting():
    form = request.form
    try:
        store.create_setting(
            None,
            checked_key(form.get("key", "").strip()),
            _json_value(form.get("value", "")),
            description({"description": form.get("description", "")}),
            form.get("is_public") == "on",
        )
    except ApiError as error:
        return refused(
            error,
            _render,
            key=form.get("key", ""),
            value=form.get("value", ""),
            description=form.get("description", ""),
        )
    return saved(f"Created the setting “{form['key'].strip()}”.")


@pages.post(f"/{KEY}/update")
@require(*ADMIN_ROLES)
def update_setting(key: str):
    form = request.form
    try:
        row = store.get_setting(checked_key(key), None)
        store.change_setting(
            row,
            value=_json_value(form.get("value", "")),
            description=description({"description": form.get("description", "")}),
            is_public=form.get("is_public") == "on",
        )
    except ApiError as error:
        return refused(error, _render)
    return saved(f"Saved the setting “{key}”.")


@pages.post(f"/{KEY}/delete")
@require(*ADMIN_ROLES)
def delete_setting(key: str):
    try:
        store.delete(store.get_setting(checked_key(key), None))
    except ApiError as error:
        return refused(error, _render)
    return saved(f"Deleted the setting “{key}”.")


@pages.post("/secrets")
@require(*ADMIN_ROLES)
def create_secret():
    form = request.form
    try:
        value = secret_value({"value": form.get("value", "")}, required=True)
        store.create_secret(
            None,
            checked_key(form.get("key", "").strip()),
            value,
            description({"description": form.get("description", "")}),
        )
    except ApiError as error:
        # The value is never put back into the form.
        return refused(error, _render, secret_key=form.get("key", ""), secret_description=form.get("description", ""))
    return saved(f"Stored the secret “{form['key'].strip()}”. Its value cannot be shown again.")


@pages.post(f"/secrets/{KEY}/update")
@require(*ADMIN_ROLES)
def update_secret(key: str):
    form = request.form
    try:
        row = store.get_secret(checked_key(key), None)
        value = form.get("value") or None
        if value is None and not form.get("description"):
            raise BadRequest("give a new value or a new description", code="NOTHING_TO_UPDATE")
        store.change_secret(
            row,
            secret_value({"value": value}, required=False) if value else None,
            description({"description": form["description"]}) if form.get("description") else None,
        )
    except ApiError as error:
        return refused(error, _render)
    return saved(f"Updated the secret “{key}”.")


@pages.post(f"/secrets/{KEY}/delete")
@require(*ADMIN_ROLES)
def delete_secret(key: str):
    try:
        store.delete(store.get_secret(checked_key(key), None))
    except ApiError as error:
        return refused(error, _render)
    return saved(f"Deleted the secret “{key}”.")
