"""The dashboard's Tenant settings page: a form per category, the diff shown before anything is saved.

The page acts in the dashboard's current tenant, for the same roles as the API. Saving
a category posts every field; only the leaves whose value differs from the current one
become updates (a checkbox cannot say "untouched"), and they are shown as a diff with a
Confirm button. Confirming applies them through `tenant_settings.apply` with the ETag
read when the form was shown, so a change someone made meanwhile is refused (412) and
shown again, never overwritten; the core validates and audits as for the API.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import ETags, MultiDict

from flux.api import (
    ADMIN_ROLES,
    ApiError,
    BadRequest,
    current_tenant,
    current_tenant_id,
    error_codes,
    parse_json,
    refused,
    require,
    saved,
    tenant_settings,
)
from plugins.flags.forms import posted_values, setting_fields

pages = Blueprint("tenant_settings_pages", __name__, url_prefix="/tenant-settings", template_folder="templates")
CATEGORY = "<string(maxlength=64):name>"  # as the API's `CategoryPath`


def _render(status: int = 200, typed: dict[str, MultiDict] | None = None) -> ResponseReturnValue:
    """Every category with its current values and ETag; `typed` keeps what a refused form held, by category."""
    stored = tenant_settings.stored_by_category(current_tenant_id())
    sections = []
    for name, category in tenant_settings.catalog().categories.items():
        values = tenant_settings.resolved(name, stored[name])
        flat = tenant_settings.flatten(values)
        fields = setting_fields(category, flat, set(stored[name]), (typed or {}).get(name))
        etag = tenant_settings.etag_of(values)
        sections.append({"name": name, "description": category.description, "etag": etag, "fields": fields})
    return render_template("flags/tenant_settings.html", tenant=current_tenant(), sections=sections), status


def _if_match() -> ETags:
    """The ETag the form was shown with; a post without one matches nothing (412)."""
    return ETags([request.form.get("etag", "")])


def _stale(error: ApiError) -> ApiError:
    """A 412 in words for a person: what to do about it."""
    if error.code == tenant_settings.PRECONDITION_FAILED:
        error.message = "These settings were changed meanwhile by someone else: review them again, then save."
    return error


@pages.get("/")
@require(*ADMIN_ROLES)
def index() -> ResponseReturnValue:
    return _render()


@pages.post(f"/{CATEGORY}/preview")
@require(*ADMIN_ROLES)
def preview(name: str) -> ResponseReturnValue:
    """The leaves that would change, as `path: old → new`, with the form's ETag carried on to Confirm."""
    category = tenant_settings.catalog().category(name)
    current = tenant_settings.flatten(tenant_settings.read(name, current_tenant_id()))
    where = f"{name}."
    try:
        posted = posted_values(category, request.form, current, where)
        updates = {path: value for path, value in posted.items() if value != current[path]}
        category.validated({**current, **updates}, where)
    except ApiError as error:
        return refused(error, _render, typed={name: request.form})
    if not updates:
        flash(f"Nothing to change in “{name}”: every value is the current one.", "message")
        return redirect(url_for(".index"))
    changes = {path: (current[path], value) for path, value in updates.items()}
    return render_template(
        "flags/settings_preview.html",
        name=name,
        changes=changes,
        updates=json.dumps(updates),
        etag=request.form.get("etag", ""),
    )


@pages.post(f"/{CATEGORY}/confirm")
@require(*ADMIN_ROLES)
def confirm(name: str) -> ResponseReturnValue:
    category = tenant_settings.catalog().category(name)
    try:
        updates = category.leaf_updates(_updates(), f"{name}.")
        applied = tenant_settings.apply(current_tenant_id(), name, updates, if_match=_if_match(), where=f"{name}.")
    except ApiError as error:
        return refused(_stale(error), _render)
    return saved(f"Saved “{name}”: {len(applied.changes)} changed.")


def _updates() -> Any:
    try:
        return parse_json(request.form.get("updates", ""))
    except ValueError:
        message = "updates: the reviewed changes are missing; save the form again"
        raise BadRequest(message, code=error_codes.INVALID_FIELD) from None


@pages.post(f"/{CATEGORY}/reset")
@require(*ADMIN_ROLES)
def reset(name: str) -> ResponseReturnValue:
    """Forget the tenant's stored values of a category: the environment's values or the defaults apply again."""
    tenant_settings.catalog().category(name)
    try:
        tenant_settings.apply(current_tenant_id(), name, {}, if_match=_if_match(), reset=True)
    except ApiError as error:
        return refused(_stale(error), _render)
    return saved(f"Reset “{name}” to the environment's values or the defaults.")
