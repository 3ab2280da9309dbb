"""The dashboard's Secrets page: the tenant's function secrets, their versions and rollback.

Mounted inside the dashboard (`register_dashboard_blueprints`), so it has the sign-in
check, CSRF protection and HTML errors. Values are write-only: no form echoes one back
and the pages show metadata only. Every check is the API's (`validation.py`) and every
change goes through `store.py`, so the page and the API cannot disagree; a refusal of
either is shown by `show_refusal`, in one place.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from flux.auth.permissions import ADMIN_ROLES, require
from flux.context import current_tenant
from flux.db import utcnow
from flux.errors import ApiError, BadRequest
from flux.form_outcomes import refused, saved
from flux.http import optional_text, version_number
from plugins.secrets import store, validation
from plugins.secrets.models import SCOPES, FunctionSecret

pages = Blueprint("secrets_pages", __name__, url_prefix="/secrets", template_folder="templates")
SECRET_ID = "<string(maxlength=36):secret_id>"
MAX_FILTER_LENGTH = 200
# What a refused new secret keeps in its form: everything but the value.
KEPT_FIELDS = ("name", "scope", "namespace", "description", "expires_at")


def expiry_day(moment: datetime | None) -> str:
    """A stored expiry as the forms' date field shows it (its UTC day), or "" for none."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else ""


def expiry_from_form(text: str) -> datetime | None:
    """The form's day (or day and time), read as UTC, through the API's own expiry check.

    A day means its start in UTC, as on the Service keys page: functions stop getting
    the secret at that moment. Empty means "never expires".
    """
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or one past the year 9999 in UTC
        raise BadRequest("the expiry must be a day, e.g. 2030-01-31", code="INVALID_EXPIRES_AT") from None
    return validation.expiry(moment.isoformat())


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
        secrets=store.list_secrets(filters["scope"] or None, filters["namespace"] or None, filters["q"]),
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
    body = render_template("secrets/history.html", secret=row, versions=store.versions(row), now=utcnow())
    return body, status


def _label(row: FunctionSecret) -> str:
    return f"“{row.name}” in namespace {row.namespace}" if row.namespace else f"the global “{row.name}”"


def show_refusal(error: ApiError) -> ResponseReturnValue:
    """The page the user was on, again, with the error's message and status.

    A refused rollback stays on the secret's history; a refused new secret keeps what
    was typed except the value; anything else, a missing secret too, shows the list.
    """
    secret_id = (request.view_args or {}).get("secret_id", "")
    if request.endpoint == f"{request.blueprint}.rollback" and error.code != "SECRET_NOT_FOUND":
        return refused(error, lambda status: _render_history(secret_id, status))
    kept = KEPT_FIELDS if request.endpoint == f"{request.blueprint}.create" else ()
    return refused(error, _render, **{field: request.form.get(field, "") for field in kept})


def refusals_shown(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Show what the store or validation refuses with `show_refusal`.

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
    name = validation.checked_name(form.get("name", "").strip())
    scope, namespace = validation.placement(form.get("scope") or None, form.get("namespace", "").strip())
    row = store.create(
        name,
        validation.secret_value({"value": form.get("value", "")}, required=True),
        scope,
        namespace,
        optional_text(form, "description", validation.MAX_DESCRIPTION_LENGTH),
        expiry_from_form(form.get("expires_at", "")),
    )
    return saved(f"Stored {_label(row)} as version 1. Its value cannot be shown again.")


@pages.post(f"/{SECRET_ID}/update")
@require(*ADMIN_ROLES)
@refusals_shown
def update(secret_id: str) -> ResponseReturnValue:
    """Change what differs from the stored secret: an empty value keeps it, an empty expiry clears it."""
    form, row = request.form, store.by_id(secret_id, for_update=True)
    changes: dict[str, Any] = {}
    if form.get("value"):
        changes["value"] = validation.secret_value(form, required=True)
    description = optional_text(form, "description", validation.MAX_DESCRIPTION_LENGTH)
    if description is not None and description != row.description:
        changes["description"] = description
    expires = form.get("expires_at")
    if expires is not None and expires.strip() != expiry_day(row.expires_at):
        changes["expires_at"] = expiry_from_form(expires)
    if not changes:
        raise BadRequest("nothing to change: give a new value, description or expiry", code="NOTHING_TO_UPDATE")
    store.update(row, **changes)
    return saved(f"Updated {_label(row)}; it is at version {row.version}.")


@pages.post(f"/{SECRET_ID}/delete")
@require(*ADMIN_ROLES)
@refusals_shown
def delete(secret_id: str) -> ResponseReturnValue:
    row = store.by_id(secret_id, for_update=True)
    if request.form.get("confirm") != "yes":
        raise BadRequest(f"tick the box to confirm deleting {_label(row)}", code="CONFIRMATION_REQUIRED")
    store.delete(row)
    return saved(f"Deleted {_label(row)} and its history.")


@pages.post(f"/{SECRET_ID}/rollback/<version>")
@require(*ADMIN_ROLES)
@refusals_shown
def rollback(secret_id: str, version: str) -> ResponseReturnValue:
    """Make an older version's value current again, as a new version; the history shows the result."""
    row = store.by_id(secret_id, for_update=True)
    number = version_number(version)
    store.rollback(row, number)
    message = f"Rolled {_label(row)} back to version {number}; that value is version {row.version} now."
    return saved(message, ".history", secret_id=secret_id)
