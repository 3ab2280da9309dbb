"""The dashboard's Secrets page: the tenant's function secrets, their versions and rollback.

Mounted inside the dashboard (`register_dashboard_blueprints`), so it has the sign-in
check, CSRF protection and HTML errors. Values are write-only: no form echoes one back
and the pages show metadata only. Form input is parsed with the API's models
(`schemas.py`) and every change goes through `store.py`, so the page and the API cannot
disagree; a refusal of either is shown by `show_refusal`, in one place.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
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
    parse,
    refused,
    require,
    saved,
    utcnow,
)
from plugins.secrets import store
from plugins.secrets.models import SCOPES, FunctionSecret
from plugins.secrets.schemas import FunctionSecretChange, FunctionSecretCreate, IdVersionPath

pages = Blueprint("secrets_pages", __name__, url_prefix="/secrets", template_folder="templates")
SECRET_ID = "<string(maxlength=36):secret_id>"
MAX_FILTER_LENGTH = 200
# What a refused new secret keeps in its form: everything but the value.
KEPT_FIELDS = ("name", "scope", "namespace", "description", "expires_at")


def expiry_day(moment: datetime | None) -> str:
    """A stored expiry as the forms' date field shows it (its UTC day), or "" for none."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else ""


def expiry_from_form(text: str) -> str | None:
    """The form's day (or day and time) as the API's RFC 3339 time in UTC, which the model then checks.

    A day means its start in UTC, as on the Service keys page: functions stop getting
    the secret at that moment. Empty means "never expires".
    """
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
        return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)).isoformat()
    except (ValueError, OverflowError):  # not a time, or one past the year 9999 in UTC
        raise BadRequest("the expiry must be a day, e.g. 2030-01-31", code=error_codes.INVALID_FIELD) from None


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


def show_refusal(error: ApiError) -> ResponseReturnValue:
    """The page the user was on, again, with the error's message and status.

    A refused new secret keeps what was typed except the value; anything else, a
    missing secret too, shows the list (a refused rollback is shown by `rollback`).
    """
    kept = KEPT_FIELDS if request.endpoint == f"{request.blueprint}.create" else ()
    return refused(error, _render, **{field: request.form.get(field, "") for field in kept})


def refusals_shown(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Show what the store or the models refuse with `show_refusal`.

    Goes under `require`, so a refused account or role still gets the dashboard's error
    page, never the list.
    """

    @functools.wraps(view)
    def wrapper(**arguments: str) -> ResponseReturnValue:
        try:
            return view(**arguments)
        except ApiError as error:
            return show_refusal(error)

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
@refusals_shown
def create() -> ResponseReturnValue:
    form = request.form
    new = {
        "name": form.get("name", "").strip(),
        "value": form.get("value", ""),
        "scope": form.get("scope") or None,
        "namespace": form.get("namespace", "").strip(),
        "description": form.get("description"),
        "expires_at": expiry_from_form(form.get("expires_at", "")),
    }
    row = store.create(parse(FunctionSecretCreate, new))
    return saved(f"Stored {_label(row)} as version 1. Its value cannot be shown again.")


@pages.post(f"/{SECRET_ID}/update")
@require(*ADMIN_ROLES)
@refusals_shown
def update(secret_id: str) -> ResponseReturnValue:
    """Change what differs from the stored secret: an empty value keeps it, an empty expiry clears it."""
    form, row = request.form, store.by_id(secret_id, for_update=True)
    changes: dict[str, Any] = {}
    if form.get("value"):
        changes["value"] = form["value"]
    description = form.get("description")
    if description is not None and description != row.description:
        changes["description"] = description
    expires = form.get("expires_at")
    if expires is not None and expires.strip() != expiry_day(row.expires_at):
        changes["expires_at"] = expiry_from_form(expires)
    store.update(row, parse(FunctionSecretChange, changes))
    return saved(f"Updated {_label(row)}; it is at version {row.version}.")


@pages.post(f"/{SECRET_ID}/delete")
@require(*ADMIN_ROLES)
@refusals_shown
def delete(secret_id: str) -> ResponseReturnValue:
    row = store.by_id(secret_id, for_update=True)
    if request.form.get("confirm") != "yes":
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
