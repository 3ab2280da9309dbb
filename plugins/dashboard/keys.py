"""The service-key page: list, create, disable/enable, revoke and rotate the current tenant's keys.

A new key's plaintext exists only in the response to the POST that made it: it is
rendered into that page and never flashed (flash messages live in the session cookie)
or stored, so reloading the page cannot show it again.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, url_for

from flux.api import (
    ADMIN_ROLES,
    NOT_FOUND,
    ApiError,
    NotFound,
    ServiceKey,
    ServiceKeyOut,
    current_actor,
    current_tenant,
    db,
    issue_key,
    key_status,
    require,
    revoke_key,
    rotate_key,
    set_enabled,
)
from plugins.dashboard.forms import CreateKeyForm, RevokeForm, RotateForm

pages = Blueprint("keys", __name__, url_prefix="/service-keys")
KEY_ID = "<string(maxlength=36):key_id>"


def _page(form: CreateKeyForm, new_key: dict | None = None, status: int = 200):
    found = db.session.scalars(sa.select(ServiceKey).order_by(ServiceKey.created_at.desc(), ServiceKey.id))
    body = render_template(
        "dashboard/service_keys.html",
        keys=[ServiceKeyOut.model_validate(key).model_dump(mode="json") for key in found],
        tenant=current_tenant(),
        form=form,
        rotate_form=RotateForm(formdata=None),
        new_key=new_key,
    )
    return body, status


def _find(key_id: str) -> ServiceKey:
    key = db.session.get(ServiceKey, key_id)
    if key is None:
        raise NotFound("Service key not found in this tenant", code=NOT_FOUND)
    return key


def _back_to_list(message: str, category: str = "success"):
    flash(message, category)
    return redirect(url_for(".index"))


@pages.get("/")
@require(*ADMIN_ROLES)
def index():
    return _page(CreateKeyForm(formdata=None))


@pages.post("/")
@require(*ADMIN_ROLES)
def create():
    form = CreateKeyForm()
    if not form.validate():
        return _page(form, status=form.status)
    body = form.model
    key, plaintext = issue_key(body.name, body.description or "", body.scopes, body.expires_at, current_actor().id)
    db.session.commit()
    flash(f"Created the key “{key.name}”.", "success")
    return _page(CreateKeyForm(formdata=None), {"name": key.name, "plaintext": plaintext}, status=201)


@pages.post(f"/{KEY_ID}/<any(enable, disable):action>")
@require(*ADMIN_ROLES)
def switch(key_id: str, action: str):
    key = _find(key_id)
    try:
        set_enabled(key, action == "enable")
    except ApiError as error:
        return _back_to_list(error.message, "error")
    db.session.commit()
    return _back_to_list(f"The key “{key.name}” is {action}d.")


@pages.post(f"/{KEY_ID}/revoke")
@require(*ADMIN_ROLES)
def revoke(key_id: str):
    key, form = _find(key_id), RevokeForm()
    if not form.validate():
        return _back_to_list(form.messages(), "error")
    try:
        revoke_key(key, form.model.reason or "", current_actor().id)
    except ApiError as error:
        return _back_to_list(error.message, "error")
    db.session.commit()
    return _back_to_list(f"The key “{key.name}” is revoked and stops working now.")


@pages.post(f"/{KEY_ID}/rotate")
@require(*ADMIN_ROLES)
def rotate(key_id: str):
    key, form = _find(key_id), RotateForm()
    if not form.validate():
        return _back_to_list(form.messages(), "error")
    body = form.model
    try:
        grace = timedelta(hours=body.grace_period_hours)
        new, plaintext = rotate_key(key, grace, body.reason or "", current_actor().id)
    except ApiError as error:
        return _back_to_list(error.message, "error")
    db.session.commit()
    flash(f"Rotated “{key.name}”; the old key is {key_status(key)} now.", "success")
    return _page(CreateKeyForm(formdata=None), {"name": new.name, "plaintext": plaintext}, status=201)
