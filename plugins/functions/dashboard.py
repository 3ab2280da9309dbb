"""The dashboard's Functions page: the tenant's edge functions, their code, versions and executions.

Mounted inside the dashboard (`register_dashboard_blueprints`), so it has the sign-in
check, CSRF protection and HTML errors. Functions are created and their code edited in
a textarea with line numbers (`static/editor.js`); a save is checked and bundled by
`builds.py` before the write, and every change goes through `store.py`, as the API's
do, so both record the same versions and audit entries. A refused save shows the page
again with the code as typed and the refusal under it, its lines marked
(`code_problems.py`). A test call runs through `invoke.py` as the signed-in admin and
is recorded like any other. Env values may be credentials: only their names reach the
templates, and the call's logs come masked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask.typing import ResponseReturnValue

from flux.api import ADMIN_ROLES, ApiError, current_tenant, db, invalid, parse, refused, require, saved
from plugins.functions import builds, directives, invoke, store
from plugins.functions.code_problems import EditorText
from plugins.functions.forms import METHODS, CodeForm, NewFunctionForm, TestCallForm
from plugins.functions.models import MAX_NAME_LENGTH, EdgeFunction, FunctionExecution
from plugins.functions.schemas import (
    CODE_INVALID,
    CODE_TOO_LARGE,
    IMPORT_BLOCKED,
    FunctionVersionNumber,
)

pages = Blueprint(
    "functions_pages", __name__, url_prefix="/functions", template_folder="templates", static_folder="static"
)
FUNCTION = f"/<string(maxlength={MAX_NAME_LENGTH}):namespace>/<string(maxlength={MAX_NAME_LENGTH}):name>"
RECENT_EXECUTIONS = 20
ERROR_PREVIEW_LINES = 3
# Refusals about the code itself: shown under the editor, their lines marked.
CODE_REFUSALS = (CODE_INVALID, CODE_TOO_LARGE, IMPORT_BLOCKED, directives.ANNOTATION_INVALID)
MAX_SHOWN_BODY = 64 * 1024  # characters of a test call's answer shown; the rest is cut


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


@dataclass(frozen=True)
class TestAnswer:
    """What a test call answered, as the page shows it, and the execution it recorded."""

    status: int
    headers: list[tuple[str, str]]
    body: str
    cut: bool
    execution: FunctionExecution | None

    @classmethod
    def of(cls, response: Response) -> TestAnswer:
        body = response.get_data(as_text=True)
        execution = db.session.get(FunctionExecution, response.headers.get("X-Fluxbase-Execution-Id", ""))
        return cls(
            response.status_code,
            list(response.headers.items()),
            body[:MAX_SHOWN_BODY],
            len(body) > MAX_SHOWN_BODY,
            execution,
        )


def directives_in_effect(row: EdgeFunction) -> list[tuple[str, str, str]]:
    """Each `@fluxbase:` directive, the value the function runs with, and where it comes from."""
    resolved = directives.resolved(row.api_settings, row.annotations)
    return [
        (name, shown(resolved[setting][0]), resolved[setting][1])
        for name, (setting, _) in directives.DIRECTIVES.items()
    ]


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(value)
    return "none" if value is None else str(value)


def code_problem(error: ApiError) -> str | None:
    """The refusal's message when it is about the code (it goes under the editor), else None."""
    return error.message if error.code in CODE_REFUSALS else None


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


def _render_new(
    status: int = 200, typed: NewFunctionForm | None = None, problem: str | None = None
) -> ResponseReturnValue:
    form = typed or NewFunctionForm(formdata=None)
    editor = EditorText(form.code.data or "", problem)
    return render_template("functions/new.html", form=form, editor=editor), status


def _render_detail(
    namespace: str,
    name: str,
    status: int = 200,
    code: str | None = None,
    problem: str | None = None,
    call: TestCallForm | None = None,
    answer: TestAnswer | None = None,
) -> ResponseReturnValue:
    """The function's page; `code` and `problem` keep a refused save's text and refusal, `call` a test call's form."""
    row = store.get(name, namespace)
    if problem is None and code is None and row.bundle_error:
        problem = f"The current version could not be bundled, so calls fail: {row.bundle_error}"
    body = render_template(
        "functions/detail.html",
        function=row,
        env_names=sorted(row.env),
        directives=directives_in_effect(row),
        editor=EditorText(row.code if code is None else code, problem),
        call=call or TestCallForm(formdata=None),
        method_choices=[(method, method) for method in METHODS],
        answer=answer,
        versions=store.versions(row),
        executions=store.executions(row, RECENT_EXECUTIONS),
        recent=RECENT_EXECUTIONS,
        first_lines=first_lines,
        log_text=log_text,
    )
    return body, status


def _label(row: EdgeFunction | Any) -> str:
    return f"“{row.name}” in namespace {row.namespace}"


def _shown_refused(namespace: str, name: str, error: ApiError, **kept: Any) -> ResponseReturnValue:
    """The function's page with the refusal, or the list when the function itself is gone."""
    if store.find(name, namespace) is None:
        return refused(error, _render_index)
    return refused(error, partial(_render_detail, namespace, name), **kept)


def _changed(namespace: str, name: str, change: Callable[[EdgeFunction], str], **kept: Any) -> ResponseReturnValue:
    """Apply `change` to the function, locked, and show its detail page with the message `change` returns.

    A refusal shows the detail page again with the error's status (and `kept`, what the
    user typed), or the list when the function itself is gone.
    """
    try:
        row = store.get(name, namespace, for_update=True)
    except ApiError as error:
        return refused(error, _render_index)
    try:
        message = change(row)
    except ApiError as error:
        return refused(error, partial(_render_detail, namespace, name), **kept)
    return saved(message, ".detail", namespace=namespace, name=name)


@pages.get("/")
@require(*ADMIN_ROLES)
def index() -> ResponseReturnValue:
    return _render_index()


@pages.get("/new")
@require(*ADMIN_ROLES)
def new() -> ResponseReturnValue:
    return _render_new()


@pages.post("/new")
@require(*ADMIN_ROLES)
def create() -> ResponseReturnValue:
    """A new function with its settings at their defaults (or its directives'), checked and bundled as the API's."""
    form = NewFunctionForm()
    if not form.validate():
        return invalid(form, _render_new, typed=form, problem="; ".join(form.code.errors) or None)
    body = form.model
    try:
        built = builds.build(body.code)
        namespace = body.namespace or store.DEFAULT_NAMESPACE
        settings = body.settings(store.DEFAULT_PERMISSIONS)
        row = store.create(body.name, namespace, body.code, body.isolation, settings, built)
    except ApiError as error:
        return refused(error, _render_new, typed=form, problem=code_problem(error))
    return saved(f"Created {_label(row)}; its code is version 1.", ".detail", namespace=row.namespace, name=row.name)


@pages.get(FUNCTION)
@require(*ADMIN_ROLES)
def detail(namespace: str, name: str) -> ResponseReturnValue:
    return _render_detail(namespace, name)


@pages.post(f"{FUNCTION}/code")
@require(*ADMIN_ROLES)
def save_code(namespace: str, name: str) -> ResponseReturnValue:
    """Store the editor's code as a new version (none when it is unchanged); a refusal keeps what was typed."""
    form = CodeForm()
    typed = form.code.data or ""
    if not form.validate():
        again = partial(_render_detail, namespace, name)
        return invalid(form, again, code=typed, problem="; ".join(form.code.errors) or None)
    code = form.model.code
    try:
        stored = store.get(name, namespace)  # read without a lock, as the API's update
        built = builds.for_save(code, None, stored)  # before the row is locked: a build takes seconds
    except ApiError as error:
        return _shown_refused(namespace, name, error, code=typed, problem=code_problem(error))

    def save(row: EdgeFunction) -> str:
        if "code" not in store.update(row, code, None, {}, built):
            return f"The code of {_label(row)} is unchanged; it is still version {row.version}."
        return f"Saved the code of {_label(row)} as version {row.version}."

    return _changed(namespace, name, save, code=typed)


@pages.post(f"{FUNCTION}/invoke")
@require(*ADMIN_ROLES)
def test_call(namespace: str, name: str) -> ResponseReturnValue:
    """Call the function's current version as the signed-in admin; the page shows its answer and logs.

    It runs as an API call would (access, rate limit) and is recorded with the trigger
    `dashboard`; the request carries the typed method, Content-Type and body. Secret
    values the function read are masked in its logs and, here only, in its answer.
    """
    form = TestCallForm()
    again = partial(_render_detail, namespace, name, call=form)
    if not form.validate():
        return invalid(form, again)
    call = form.model
    given = {
        "method": call.method,
        "url": url_for("functions.invoke_function", reference=f"{namespace}/{name}", _external=True),
        "headers": {"content-type": call.content_type} if call.content_type else {},
        "body": call.body,
        "params": {},
    }
    try:
        response = invoke.invoke(store.get_callable(name, namespace), "dashboard", given, shown=True)
    except ApiError as error:
        return _shown_refused(namespace, name, error, call=form)
    return again(answer=TestAnswer.of(response))


@pages.post(f"{FUNCTION}/rollback/<version>")
@require(*ADMIN_ROLES)
def rollback(namespace: str, name: str, version: str) -> ResponseReturnValue:
    """Make an older version's code current again, as a new version; running workers pick it up on the next call."""
    try:
        number = parse(FunctionVersionNumber, {"version": version}).version  # the API's rule for a version
        built = builds.of_version(name, namespace, number)  # before the row is locked: a build takes seconds
    except ApiError as error:
        return _shown_refused(namespace, name, error)

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
