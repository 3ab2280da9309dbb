"""The dashboard's Functions page: the tenant's edge functions, their code, versions and executions.

Mounted inside the dashboard (`register_dashboard_blueprints`), so it has the sign-in
check, CSRF protection and HTML errors. The code is shown read-only (editing comes
with the editor); the page rolls versions back and turns functions on and off through
`store.py`, as the API does, so both record the same versions and audit entries. Env
values may be credentials: only their names reach the templates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from flux.api import ADMIN_ROLES, ApiError, current_tenant, parse, refused, require, saved
from plugins.functions import builds, store
from plugins.functions.models import MAX_NAME_LENGTH, EdgeFunction
from plugins.functions.schemas import FunctionVersionNumber

pages = Blueprint("functions_pages", __name__, url_prefix="/functions", template_folder="templates")
FUNCTION = f"/<string(maxlength={MAX_NAME_LENGTH}):namespace>/<string(maxlength={MAX_NAME_LENGTH}):name>"
RECENT_EXECUTIONS = 20
ERROR_PREVIEW_LINES = 3


def first_lines(text: str | None, count: int = ERROR_PREVIEW_LINES) -> str:
    """The start of an execution's error (its message, then the stack), short enough for a table cell."""
    return "\n".join((text or "").splitlines()[:count])


def log_text(logs: list[dict[str, str]]) -> str:
    """An execution's console lines as a log view shows them: time of day (UTC), level, message.

    Lines the worker printed outside `console` have no timestamp; they keep an empty column.
    """
    lines = []
    for entry in logs:
        stamp = entry.get("timestamp") or ""
        try:
            stamp = datetime.fromisoformat(stamp).strftime("%H:%M:%S.%f")[:-3]
        except ValueError:
            stamp = stamp[:12]
        lines.append(f"{stamp:<12} {entry.get('level', 'info'):<5} {entry.get('message', '')}")
    return "\n".join(lines)


def _render_index(status: int = 200) -> ResponseReturnValue:
    namespace = request.args.get("namespace", "").strip()[:MAX_NAME_LENGTH]
    functions = store.list_functions(namespace or None)
    body = render_template(
        "functions/index.html",
        tenant=current_tenant(),
        functions=functions,
        statuses=store.last_statuses([row.id for row in functions]),
        namespace=namespace,
    )
    return body, status


def _render_detail(namespace: str, name: str, status: int = 200) -> ResponseReturnValue:
    row = store.get(name, namespace)
    body = render_template(
        "functions/detail.html",
        function=row,
        env_names=sorted(row.env),
        versions=store.versions(row),
        executions=store.executions(row, RECENT_EXECUTIONS),
        recent=RECENT_EXECUTIONS,
        first_lines=first_lines,
        log_text=log_text,
    )
    return body, status


def _label(row: EdgeFunction) -> str:
    return f"“{row.name}” in namespace {row.namespace}"


def _changed(namespace: str, name: str, change: Callable[[EdgeFunction], str]) -> ResponseReturnValue:
    """Apply `change` to the function, locked, and show its detail page with the message `change` returns.

    A refusal shows the detail page again with the error's status, or the list when the
    function itself is gone.
    """
    try:
        row = store.get(name, namespace, for_update=True)
    except ApiError as error:
        return refused(error, _render_index)
    try:
        message = change(row)
    except ApiError as error:
        return refused(error, lambda status: _render_detail(namespace, name, status))
    return saved(message, ".detail", namespace=namespace, name=name)


@pages.get("/")
@require(*ADMIN_ROLES)
def index() -> ResponseReturnValue:
    return _render_index()


@pages.get(FUNCTION)
@require(*ADMIN_ROLES)
def detail(namespace: str, name: str) -> ResponseReturnValue:
    return _render_detail(namespace, name)


@pages.post(f"{FUNCTION}/rollback/<version>")
@require(*ADMIN_ROLES)
def rollback(namespace: str, name: str, version: str) -> ResponseReturnValue:
    """Make an older version's code current again, as a new version; running workers pick it up on the next call."""
    try:
        number = parse(FunctionVersionNumber, {"version": version}).version  # the API's rule for a version
        built = builds.of_version(name, namespace, number)  # before the row is locked: a build takes seconds
    except ApiError as error:
        if store.find(name, namespace) is None:  # the function itself is gone: the list, as `_changed` shows
            return refused(error, _render_index)
        return refused(error, lambda status: _render_detail(namespace, name, status))

    def roll_back(row: EdgeFunction) -> str:
        store.rollback(row, number, built)
        return f"Rolled {_label(row)} back to version {number}; that code is version {row.version} now."

    return _changed(namespace, name, roll_back)


@pages.post(f"{FUNCTION}/<any(enable, disable):action>")
@require(*ADMIN_ROLES)
def switch(namespace: str, name: str, action: str) -> ResponseReturnValue:
    """Turn a function on or off; a disabled function answers every call with 403 and keeps its history."""

    def set_enabled(row: EdgeFunction) -> str:
        store.update(row, None, None, {"enabled": action == "enable"})
        return f"{_label(row)} is {action}d."

    return _changed(namespace, name, set_enabled)
