"""The dashboard's Secrets page: the tenant's function secrets, their versions and rollback.

Mounted inside the dashboard (`register_dashboard_blueprints`), so it has the sign-in
check, CSRF protection and HTML errors. Values are write-only: no form echoes one back
and the pages show metadata only. The forms (`forms.py`) are judged by the API's models
(`schemas.py`) and every change goes through `store.py`, so the page and the API cannot
disagree; a refused form flashes its fields' messages, a refusal of the store its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from flux.api import (
    ADMIN_ROLES,
    ApiError,
    BadRequest,
    current_tenant,
    db,
    error_codes,
    invalid,
    parse,
    refused,
    require,
    saved,
    utcnow,
)
from plugins.secrets import store
from plugins.secrets.forms import DeleteForm, SecretChangeForm, SecretForm, expiry_day
from plugins.secrets.models import SCOPES, FunctionSecret
from plugins.secrets.schemas import IdVersionPath

pages = Blueprint("secrets_pages", __name__, url_prefix="/secrets", template_folder="templates")
SECRET_ID = "<string(maxlength=36):secret_id>"
MAX_FILTER_LENGTH = 200


def _filters() -> dict[str, str]:
    """The list's filters from the query string; an unknown scope shows every scope, as the select does."""
    scope = request.args.get("scope", "")
    return {
        "scope": scope if scope in SCOPES else "",
        "namespace": request.args.get("namespace", "").strip()[:MAX_FILTER_LENGTH],
        "q": request.args.get("q", "").strip()[:MAX_FILTER_LENGTH],
    }


def _render(status: int = 200, **form: Any) -> ResponseReturnValue:
    filters, now = _filters(), utcnow()
    body = render_template(
        "secrets/index.html",
        tenant=current_tenant(),
        secrets=db.session.scalars(store.secrets_query(filters["scope"], filters["namespace"], filters["q"])).all(),
        stats=store.stats(now),
        filters=filters,
        scope_choices=[(scope, scope) for scope in SCOPES],
        now=now,
        soon=now + store.EXPIRING_SOON,
        expiry_day=expiry_day,
        form=form,
    )
    return body, status


def _render_history(secret_id: str, status: int = 200) -> ResponseReturnValue:
    row = store.by_id(secret_id)
    versions = db.session.scalars(store.versions_query(row)).all()
    body = render_template("secrets/history.html", secret=row, versions=versions, now=utcnow())
    return body, status


def _label(row: FunctionSecret) -> str:
    return f"“{row.name}” in namespace {row.namespace}" if row.namespace else f"the global “{row.name}”"


def refusals_shown(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Show what the store refuses (a missing secret too) on the list, with the error's message and status.

    Goes under `require`, so a refused account or role still gets the dashboard's error
    page, never the list.
    """

    @functools.wraps(view)
    def wrapper(**arguments: str) -> ResponseReturnValue:
        try:
            return view(**arguments)
        except ApiError as error:
            return refused(error, _render)

    return wrapper


@pages.get("/")
@require(*ADMIN_ROLES)
def index() -> ResponseReturnValue:
    return _render()


@pages.get(f"/{SECRET_ID}/history")
@require(*ADMIN_ROLES)
def history(secret_id: str) -> ResponseReturnValue:
    return _render_history(secret_id)


@pages.post("/")
@require(*ADMIN_ROLES)
def create() -> ResponseReturnValue:
    """A refused new secret keeps what was typed, except the value."""
    form = SecretForm()
    if not form.validate():
        return invalid(form, _render, **form.kept())
    try:
        row = store.create(form.model)
    except ApiError as error:
        return refused(error, _render, **form.kept())
    return saved(f"Stored {_label(row)} as version 1. Its value cannot be shown again.")


@pages.post(f"/{SECRET_ID}/update")
@require(*ADMIN_ROLES)
@refusals_shown
def update(secret_id: str) -> ResponseReturnValue:
    form = SecretChangeForm(store.by_id(secret_id, for_update=True))
    if not form.validate():
        return invalid(form, _render)
    store.update(form.stored, form.model)
    return saved(f"Updated {_label(form.stored)}; it is at version {form.stored.version}.")


@pages.post(f"/{SECRET_ID}/delete")
@require(*ADMIN_ROLES)
@refusals_shown
def delete(secret_id: str) -> ResponseReturnValue:
    row = store.by_id(secret_id, for_update=True)
    if not DeleteForm().confirm.data:
        raise BadRequest(f"tick the box to confirm deleting {_label(row)}", code=error_codes.FIELD_REQUIRED)
    store.delete(row)
    return saved(f"Deleted {_label(row)} and its history.")


@pages.post(f"/{SECRET_ID}/rollback/<version>")
@require(*ADMIN_ROLES)
@refusals_shown
def rollback(secret_id: str, version: str) -> ResponseReturnValue:
    """Make an older version's value current again, as a new version; the history shows the result.

    A refused version stays on the history; a missing secret shows the list (`refusals_shown`).
    """
    row = store.by_id(secret_id, for_update=True)
    try:
        number = parse(IdVersionPath, {"secret_id": secret_id, "version": version}).version
        store.rollback(row, number)
    except ApiError as error:
        return refused(error, lambda status: _render_history(secret_id, status))
    message = f"Rolled {_label(row)} back to version {number}; that value is version {row.version} now."
    return saved(message, ".history", secret_id=secret_id)
