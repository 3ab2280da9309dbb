"""`/api/v1/functions…`: define, list, version and invoke functions (seeds 003 and 004).

Changes need `instance_admin`, `tenant_admin` (of the tenant acted in), `admin`, or a
service key with `functions:write`; versions, executions and logs need the same roles
or `functions:read`. Listing shows every function to those, and public ones to anyone
else (without env); lists never carry code, a function's own GET does. Invoking needs
any credential, or none when the function allows it (`invoke.py`). `?namespace=` picks
the namespace (default `default`); invoke also takes `namespace/name`.
"""

from __future__ import annotations

from typing import Any

from flux.api import (
    ADMIN_ROLES,
    SECURITY,
    ApiBlueprint,
    ApiError,
    BadRequest,
    Forbidden,
    Page,
    Tag,
    Unauthorized,
    answer,
    check,
    db,
    error_codes,
    list_of,
    own_cors,
    page_of,
    paginated,
    public,
    raises,
    require,
)
from plugins.functions import builds, cors, directives, invoke, shared_modules, store
from plugins.functions.runtime.base import Permissions
from plugins.functions.schemas import (
    BUNDLE_FAILED,
    CODE_INVALID,
    FUNCTION_DISABLED,
    IMPORT_BLOCKED,
    SANDBOX_UNAVAILABLE,
    AnyFunction,
    FunctionChange,
    FunctionCreate,
    FunctionDetail,
    FunctionExecutionListQuery,
    FunctionExecutionOut,
    FunctionInvokePath,
    FunctionListQuery,
    FunctionLogLine,
    FunctionNamespaceQuery,
    FunctionOut,
    FunctionPath,
    FunctionRollbackPath,
    FunctionSummary,
    FunctionVersionListQuery,
    FunctionVersionOut,
    FunctionVersionWithCode,
    PublicFunction,
    RebundleAnswer,
    RebundledFunction,
    RebundleRequest,
    SharedModuleChange,
    SharedModuleCreate,
    SharedModuleOut,
    SharedModulePath,
    SharedModuleQuery,
    SharedModuleSummary,
)

READ, WRITE = "functions:read", "functions:write"
functions_api = ApiBlueprint("functions", __name__, url_prefix="/api/v1/functions", abp_tags=[Tag(name="functions")])
functions_api.before_request(cors.answer_preflight)
functions_api.after_request(cors.allow_origin)
# What a change may be refused for besides its input: the code's check, the sandbox, a concurrent writer.
CODE_CHECK = (CODE_INVALID, IMPORT_BLOCKED, SANDBOX_UNAVAILABLE, error_codes.CONCURRENT_CHANGE)
# Open views that read a credential when there is one: what they show depends on it.
OPTIONAL_CREDENTIALS = [*SECURITY, {}]


def _may_manage() -> bool:
    """Whether the caller sees every function with its code and env (admins, keys with functions:read).

    Not a guard (the views that call it are open to anyone) but what the answer shows,
    so it asks `check` and takes a refusal as "no".
    """
    try:
        check(ADMIN_ROLES, scope=READ)
    except (Unauthorized, Forbidden):
        return False
    return True


# Anyone may list and read functions: the view decides what the caller sees (public
# functions only, without env, unless `_may_manage`). As on every public view, a
# credential that does not verify counts as none.
@functions_api.get(
    "", responses={200: list_of(FunctionSummary | PublicFunction, "FunctionList")}, security=OPTIONAL_CREDENTIALS
)
@public
def list_functions(query: FunctionListQuery):
    manager = _may_manage()
    rows, total = page_of(store.functions_query(query.namespace, public_only=not manager), query)
    if not manager:
        return paginated((PublicFunction.model_validate(row) for row in rows), total)
    statuses = store.last_statuses([row.id for row in rows])
    items = (
        FunctionSummary.model_validate(row).model_copy(update={"last_execution_status": statuses.get(row.id)})
        for row in rows
    )
    return paginated(items, total)


@functions_api.post("", responses={201: FunctionOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(error_codes.ALREADY_EXISTS, *CODE_CHECK)
def create_function(body: FunctionCreate):
    built = builds.build(body.code, body.files)
    settings = body.settings(store.DEFAULT_PERMISSIONS)
    namespace = body.namespace or store.DEFAULT_NAMESPACE
    row = store.create(body.name, namespace, body.code, body.isolation, settings, built, body.files)
    db.session.commit()
    return answer(FunctionOut.model_validate(row), 201)


# Shared modules (seed 003's `_shared/`): `/functions/shared`, so no function may be named `shared`.
@functions_api.get("/shared", responses={200: list_of(SharedModuleSummary)})
@require(*ADMIN_ROLES, scope=READ)
def list_shared_modules(query: Page):
    modules, total = page_of(shared_modules.modules_query(), query)
    return paginated((SharedModuleSummary.model_validate(module) for module in modules), total)


@functions_api.post("/shared", responses={201: SharedModuleOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(error_codes.ALREADY_EXISTS)
def create_shared_module(body: SharedModuleCreate):
    module = shared_modules.create(body.module_path, body.content, body.description)
    db.session.commit()
    return answer(SharedModuleOut.model_validate(module), 201)


def _rebundled(row: Any, changed: bool, error: str | None = None) -> RebundledFunction:
    fields = ("name", "namespace", "version", "is_bundled", "bundle_error", "bundled_modules")
    return RebundledFunction(**{name: getattr(row, name) for name in fields}, changed=changed, error=error)


@functions_api.post("/shared/rebundle", responses={200: RebundleAnswer})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(*CODE_CHECK)
def rebundle(body: RebundleRequest):
    """Bundle again every function built with the module (or with any): it then runs the modules' current versions."""
    path = shared_modules.full_path(body.module_path) if body.module_path else None
    # Built before the write transaction, one function at a time; each is then stored as built.
    planned, answers = [], []
    for row in store.bundled_with(path):
        try:
            planned.append((row.id, (row.code, row.files), builds.build(row.code, row.files)))
        except ApiError as refused:  # its code no longer builds (a module it imports is gone): the others go on
            answers.append(_rebundled(row, changed=False, error=refused.message))
    for function_id, source, built in planned:
        row = store.get_by_id(function_id, for_update=True)
        if row is None or (row.code, row.files) != source:  # deleted or changed meanwhile: that change bundled it
            continue
        answers.append(_rebundled(row, changed=store.rebundle(row, built)))
    answers.sort(key=lambda answer: (answer.namespace, answer.name))
    db.session.commit()
    return answer(RebundleAnswer(rebundled=answers))


@functions_api.get("/shared/<path:module_path>", responses={200: SharedModuleOut})
@require(*ADMIN_ROLES, scope=READ)
@raises(error_codes.NOT_FOUND)
def get_shared_module(path: SharedModulePath, query: SharedModuleQuery):
    """The module at its current version, or `?version=N`'s content with that number."""
    module = shared_modules.get(path.module_path)
    shown = SharedModuleOut.model_validate(module)
    if query.version is not None:
        shown = shown.model_copy(
            update={"version": query.version, "content": shared_modules.content_of(module, query.version)}
        )
    return answer(shown)


@functions_api.put("/shared/<path:module_path>", responses={200: SharedModuleOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(error_codes.NOT_FOUND, error_codes.NOTHING_TO_UPDATE, error_codes.CONCURRENT_CHANGE)
def update_shared_module(path: SharedModulePath, body: SharedModuleChange):
    if not body.model_fields_set:
        raise BadRequest("give content or description", code=error_codes.NOTHING_TO_UPDATE)
    module = shared_modules.get(path.module_path, for_update=True)
    shared_modules.update(module, body.content, body.description)
    db.session.commit()
    return answer(SharedModuleOut.model_validate(module))


@functions_api.delete("/shared/<path:module_path>", responses={204: None})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(error_codes.NOT_FOUND)
def delete_shared_module(path: SharedModulePath):
    shared_modules.delete(shared_modules.get(path.module_path, for_update=True))
    db.session.commit()
    return "", 204


@functions_api.get("/<name>", responses={200: AnyFunction}, security=OPTIONAL_CREDENTIALS)
@public  # as the list: the view shows a public function to anyone, every function to managers
@raises(error_codes.NOT_FOUND)
def get_function(path: FunctionPath, query: FunctionNamespaceQuery):
    manager = _may_manage()
    row = store.get(path.name, query.namespace)
    if not manager:
        if not row.is_public:
            raise store.not_found(row.name, row.namespace)
        return answer(PublicFunction.model_validate(row))
    status = store.last_statuses([row.id]).get(row.id)
    return answer(FunctionDetail.model_validate(row).model_copy(update={"last_execution_status": status}))


@functions_api.put("/<name>", responses={200: FunctionOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(error_codes.NOT_FOUND, error_codes.NOTHING_TO_UPDATE, error_codes.KEY_MISMATCH, *CODE_CHECK)
def update_function(path: FunctionPath, query: FunctionNamespaceQuery, body: FunctionChange):
    stored = store.get(path.name, query.namespace)  # read without taking a lock
    if not body.model_fields_set:
        fields = ", ".join((*store.SETTINGS, *directives.SETTINGS))
        raise BadRequest(f"give one of code, files, isolation, {fields}", code=error_codes.NOTHING_TO_UPDATE)
    # Code stored meanwhile by another request was checked by that one.
    built = builds.for_save(body.code, body.files, stored)
    row = store.get(path.name, query.namespace, for_update=True)
    settings = body.settings(Permissions(**row.permissions))
    store.update(row, body.code, body.isolation, settings, built, body.files)
    db.session.commit()
    return answer(FunctionOut.model_validate(row))


@functions_api.delete("/<name>", responses={204: None})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(error_codes.NOT_FOUND)
def delete_function(path: FunctionPath, query: FunctionNamespaceQuery):
    store.delete(store.get(path.name, query.namespace, for_update=True))
    db.session.commit()
    return "", 204


@functions_api.get(
    "/<name>/versions", responses={200: list_of(FunctionVersionWithCode | FunctionVersionOut, "FunctionVersionList")}
)
@require(*ADMIN_ROLES, scope=READ)
@raises(error_codes.NOT_FOUND)
def list_versions(path: FunctionPath, query: FunctionVersionListQuery):
    row = store.get(path.name, query.namespace)
    versions, total = page_of(store.versions_query(row), query)
    shape = FunctionVersionWithCode if query.code else FunctionVersionOut
    items = (
        shape.model_validate({**vars(version), "is_current": version.version == row.version}) for version in versions
    )
    return paginated(items, total)


@functions_api.post("/<name>/rollback/<version>", responses={200: FunctionOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(error_codes.NOT_FOUND, *CODE_CHECK)
def rollback(path: FunctionRollbackPath, query: FunctionNamespaceQuery):
    """The old code comes back bundled with today's shared modules (their old versions may be gone)."""
    built = builds.of_version(path.name, query.namespace, path.version)
    row = store.get(path.name, query.namespace, for_update=True)
    store.rollback(row, path.version, built)
    db.session.commit()
    return answer(FunctionOut.model_validate(row))


@functions_api.get("/<name>/executions", responses={200: list_of(FunctionExecutionOut)})
@require(*ADMIN_ROLES, scope=READ)
@raises(error_codes.NOT_FOUND)
def list_executions(path: FunctionPath, query: FunctionExecutionListQuery):
    row = store.get(path.name, query.namespace)
    executions, total = page_of(store.executions_query(row), query)
    return paginated((FunctionExecutionOut.model_validate(execution) for execution in executions), total)


@functions_api.get("/<name>/logs", responses={200: list_of(FunctionLogLine)})
@require(*ADMIN_ROLES, scope=READ)
@raises(error_codes.NOT_FOUND)
def list_logs(path: FunctionPath, query: FunctionExecutionListQuery):
    """The console lines of the function's executions, newest first."""
    lines, total = store.log_lines(store.get(path.name, query.namespace), query)
    return paginated((FunctionLogLine.model_validate(line) for line in lines), total)


ANY_CONTENT = {"*/*": {"schema": {}}}
INVOKE_CODES = (
    error_codes.NOT_FOUND,
    error_codes.AUTH_REQUIRED,
    error_codes.FORBIDDEN,
    FUNCTION_DISABLED,
    SANDBOX_UNAVAILABLE,
    error_codes.KEY_MISMATCH,
    error_codes.SECRET_UNREADABLE,
    error_codes.RATE_LIMITED,
    BUNDLE_FAILED,
)


def _invoke_responses() -> dict[str, dict]:
    """Any status from 200 to 599 may be the function's own, so every answer is documented as any content.

    The statuses our own errors use say which codes they carry (as JSON), besides the function's answers.
    """
    ours: dict[int, list[str]] = {}
    automatic = (error_codes.INVALID_FIELD, error_codes.NUL_CHARACTER, error_codes.DATABASE_BUSY)
    for code in (*INVOKE_CODES, *automatic):
        ours.setdefault(error_codes.lookup(code).status, []).append(code)
    described = {
        str(status): {
            "description": f"Error {', '.join(codes)} (JSON), or the function's own answer with this status",
            "content": ANY_CONTENT,
        }
        for status, codes in ours.items()
    }
    execution_id = {"description": "The execution record", "schema": {"type": "string"}}
    function_answer = {
        "description": (
            "What the function answered: any status from 200 to 599, its headers and body. "
            'When it throws: 500 `{"error": "Function error", "message"}`; an answer that cannot be '
            'passed on: 502 `{"error"}`; out of time: 504 `{"error"}`.'
        ),
        "content": ANY_CONTENT,
        "headers": {"X-Fluxbase-Execution-Id": execution_id},
    }
    return {"default": function_answer, **described}


# Invoke decides access itself (`invoke.check_caller`): any credential, or none for a
# function with `allow_unauthenticated`; service keys need `functions:execute`. So the
# route is `public`, and a credential that does not verify counts as none. It takes
# any body (the function reads it), so it has no body model.
INVOKE_OPTIONS = {
    "responses": _invoke_responses(),
    "security": OPTIONAL_CREDENTIALS,
    "openapi_extensions": {
        "requestBody": {"description": "Passed to the function as `req.body`, unread", "content": ANY_CONTENT}
    },
}


@functions_api.get("/<path:reference>/invoke", operation_id="functions.invoke_function_get", **INVOKE_OPTIONS)
@functions_api.put("/<path:reference>/invoke", operation_id="functions.invoke_function_put", **INVOKE_OPTIONS)
@functions_api.patch("/<path:reference>/invoke", operation_id="functions.invoke_function_patch", **INVOKE_OPTIONS)
@functions_api.delete("/<path:reference>/invoke", operation_id="functions.invoke_function_delete", **INVOKE_OPTIONS)
@functions_api.post("/<path:reference>/invoke", **INVOKE_OPTIONS)
@public
@own_cors  # each function's own origins (`cors.py`), preflights answered before the view
@raises(*INVOKE_CODES)
def invoke_function(path: FunctionInvokePath, query: FunctionNamespaceQuery):
    """Run the function's current version with this request (seed 003's `req`: method, url, headers, body, params)."""
    row = store.get_callable(path.name, path.namespace or query.namespace)
    cors.remember(row)
    return invoke.invoke(row)
