"""The dashboard's Shared modules page: the tenant's `_shared/` modules, edited like a function's code.

Mounted inside the dashboard beside the Functions page. Every change goes through
`shared_modules.py`, as the API's do, so both keep the same versions and audit entries.
As through the API, a module's new content changes no function until the function is
saved again (or rebundled): the page says so after each save.
"""

from __future__ import annotations

from functools import partial

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
)
from plugins.functions import shared_modules
from plugins.functions.code_problems import EditorText
from plugins.functions.forms import ModuleChangeForm, NewModuleForm
from plugins.functions.models import SharedModule
from plugins.functions.schemas import SharedModulePath, SharedModuleQuery

pages = Blueprint("shared_modules_pages", __name__, url_prefix="/shared-modules", template_folder="templates")
MODULE = "/<path:module_path>"
AFTER_CHANGE = "Functions that import it run the version they were saved with until they are saved again."


def _render_index(status: int = 200, typed: NewModuleForm | None = None) -> ResponseReturnValue:
    form = typed or NewModuleForm(formdata=None)
    body = render_template(
        "functions/shared/index.html",
        tenant=current_tenant(),
        modules=db.session.scalars(shared_modules.modules_query()).all(),
        form=form,
        editor=EditorText(form.content.data or ""),
    )
    return body, status


def _get(module_path: str, for_update: bool = False) -> SharedModule:
    """The module at the address's path, read by the API's rule (400 for a path no module may have, else 404)."""
    path = parse(SharedModulePath, {"module_path": module_path}).module_path
    return shared_modules.get(path, for_update=for_update)


def _render_module(
    module_path: str, status: int = 200, typed: ModuleChangeForm | None = None, old: tuple[int, str] | None = None
) -> ResponseReturnValue:
    """The module's page: its editor (or what was typed) and versions; `old`, an earlier version's content to read."""
    module = _get(module_path)
    form = typed or ModuleChangeForm(formdata=None, data={"description": module.description})
    typed = form.content.data
    body = render_template(
        "functions/shared/detail.html",
        module=module,
        form=form,
        editor=EditorText(module.content if typed is None else typed),
        versions=shared_modules.versions(module),
        old=old,
    )
    return body, status


def _shown_refused(module_path: str, error: ApiError, **kept: object) -> ResponseReturnValue:
    """The module's page with the refusal, or the list when the module is gone or its path is refused."""
    try:
        _get(module_path)
    except ApiError:
        return refused(error, _render_index)
    return refused(error, partial(_render_module, module_path), **kept)


@pages.get("/")
@require(*ADMIN_ROLES)
def index() -> ResponseReturnValue:
    return _render_index()


@pages.post("/")
@require(*ADMIN_ROLES)
def create() -> ResponseReturnValue:
    form = NewModuleForm()
    if not form.validate():
        return invalid(form, _render_index, typed=form)
    body = form.model
    try:
        module = shared_modules.create(body.module_path, body.content, body.description)
    except ApiError as error:
        return refused(error, _render_index, typed=form)
    return saved(
        f"Created the shared module {module.module_path} as version 1.", ".module", module_path=module.module_path
    )


@pages.get(MODULE)
@require(*ADMIN_ROLES)
def module(module_path: str) -> ResponseReturnValue:
    """The module; `?version=N` also shows that version's content."""
    try:
        found = _get(module_path)
    except ApiError as error:
        return refused(error, _render_index)
    try:
        version = parse(SharedModuleQuery, {"version": request.args.get("version") or None}).version
        old = None if version is None else (version, shared_modules.content_of(found, version))
    except ApiError as error:
        return refused(error, partial(_render_module, module_path))
    return _render_module(module_path, old=old)


@pages.post(MODULE)
@require(*ADMIN_ROLES)
def save(module_path: str) -> ResponseReturnValue:
    """New content is a new version (none when unchanged); a refusal keeps what was typed."""
    form = ModuleChangeForm()
    if not form.validate():
        return invalid(form, partial(_render_module, module_path), typed=form)
    try:
        module = _get(module_path, for_update=True)
        before = module.version
        shared_modules.update(module, form.model.content, form.model.description)
    except ApiError as error:
        return _shown_refused(module_path, error, typed=form)
    if module.version == before:
        message = f"Saved {module.module_path}; its content is unchanged, still version {module.version}."
    else:
        message = f"Saved {module.module_path} as version {module.version}. {AFTER_CHANGE}"
    return saved(message, ".module", module_path=module.module_path)


@pages.post(f"/delete{MODULE}")
@require(*ADMIN_ROLES)
def delete(module_path: str) -> ResponseReturnValue:
    """Delete the module and its versions; functions bundled with it keep their copy until saved again."""
    try:
        module = _get(module_path, for_update=True)
        if not request.form.get("confirm"):
            raise BadRequest(f"tick the box to confirm deleting {module.module_path}", code=error_codes.FIELD_REQUIRED)
        shared_modules.delete(module)
    except ApiError as error:
        return _shown_refused(module_path, error)
    return saved(f"Deleted the shared module {module.module_path} and its versions.")
