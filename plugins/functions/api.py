"""`/api/v1/functions…`: define, list, version and invoke functions (seeds 003 and 004).

Changes need `instance_admin`, `tenant_admin` (of the tenant acted in), `admin`, or a
service key with `functions:write`; executions and logs need the same roles or
`functions:read`. Listing shows every function to those, and public ones to anyone
else (without code or env). Invoking needs any credential, or none when the function
allows it (`invoke.py`). `?namespace=` picks the namespace (default `default`); invoke
also takes `namespace/name`.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from flux.auth.permissions import ADMIN_ROLES, check
from flux.db import db, session_reads_only
from flux.errors import ApiError, BadRequest, Forbidden, NotFound, Unauthorized
from flux.http import json_body, version_number
from plugins.functions import invoke, store, validation
from plugins.functions.models import EdgeFunction
from plugins.functions.runtime.base import Permissions, RuntimeUnavailable

functions_api = Blueprint("functions", __name__, url_prefix="/api/v1/functions")
DEFAULT_LIMIT, MAX_LIMIT = 50, 100
DEFINITION_FIELDS = {"code", "isolation", *store.SETTINGS}  # what an update may change


def _namespace() -> str:
    value = request.args.get("namespace")
    return validation.checked_name(value, "namespace") if value else store.DEFAULT_NAMESPACE


def _may_manage() -> bool:
    """Whether the caller sees every function with its code (admins, keys with functions:read)."""
    try:
        check(ADMIN_ROLES, scope="functions:read")
    except (Unauthorized, Forbidden):
        return False
    return True


def _settings(body: dict, current: Permissions) -> dict:
    return {
        "description": validation.description(body),
        "enabled": validation.flag(body, "enabled"),
        "timeout": validation.timeout(body),
        "memory": validation.memory(body),
        "env": validation.env(body),
        "permissions": validation.permissions(body, current),
        "allow_unauthenticated": validation.flag(body, "allow_unauthenticated"),
        "is_public": validation.flag(body, "is_public"),
    }


def _checked(code: str) -> str:
    """Code that compiles; 400 with the compiler's message otherwise (checked once, not per call).

    Called before the request's write transaction begins, and it ends the session's
    transaction of the authentication reads: on SQLite a transaction of an unsafe
    request holds the database's write lock (`flux.db`), and every other writer would
    wait out the check (1-5 s) and then its busy timeout. 503 when the runtime cannot
    check code confined (a sandbox tool is missing): it never checks unconfined.
    """
    if db.session().in_transaction():
        db.session.commit()
    try:
        problem = invoke.runtime(current_app).check(code)
    except RuntimeUnavailable as unavailable:
        raise ApiError(str(unavailable), code="SANDBOX_UNAVAILABLE", status=503) from None
    if problem is not None:
        raise BadRequest(f"the code does not compile:\n{problem}", code="CODE_INVALID")
    return code


def _shown(rows: list[EdgeFunction], manager: bool) -> list[dict]:
    statuses = store.last_statuses([row.id for row in rows]) if manager else {}
    shown = []
    for row in rows:
        body = row.as_json(with_code=manager)
        if manager:
            body["last_execution_status"] = statuses.get(row.id)
        else:
            body.pop("env")
        shown.append(body)
    return shown


@functions_api.get("")
def list_functions():
    manager = _may_manage()
    namespace = request.args.get("namespace") or None
    return jsonify(_shown(store.list_functions(namespace, public_only=not manager), manager))


@functions_api.post("")
def create_function():
    check(ADMIN_ROLES, scope="functions:write")
    body = validation.definition(json_body(), {"name", "namespace", *DEFINITION_FIELDS})
    name = validation.checked_name(body.get("name"))
    namespace = validation.checked_name(body.get("namespace") or store.DEFAULT_NAMESPACE, "namespace")
    code = validation.checked_code(body, required=True)
    settings, isolation = _settings(body, validation.DEFAULT_PERMISSIONS), validation.isolation(body)
    checked = _checked(code)
    row = store.create(name, namespace, checked, isolation, settings)
    db.session.commit()
    return jsonify(row.as_json()), 201


@functions_api.get("/<name>")
def get_function(name: str):
    manager = _may_manage()
    row = store.get(validation.checked_name(name), _namespace())
    if not manager and not row.is_public:
        raise NotFound(f"function {name!r} not found in namespace {row.namespace!r}", code="FUNCTION_NOT_FOUND")
    return jsonify(_shown([row], manager)[0])


@functions_api.put("/<name>")
def update_function(name: str):
    check(ADMIN_ROLES, scope="functions:write")
    name, namespace = validation.checked_name(name), _namespace()
    stored_code = store.get_callable(name, namespace).code  # read without taking a lock
    body = validation.definition(json_body(), DEFINITION_FIELDS)
    if not body.keys() & DEFINITION_FIELDS:
        raise BadRequest(f"give one of code, isolation, {', '.join(store.SETTINGS)}", code="NOTHING_TO_UPDATE")
    code = validation.checked_code(body, required=False)
    if code is not None and code != stored_code:
        _checked(code)  # code stored meanwhile by another request was checked by that one
    row = store.get(name, namespace, for_update=True)
    settings = _settings(body, Permissions(**row.permissions))
    store.update(row, code, validation.isolation(body), settings)
    db.session.commit()
    return jsonify(row.as_json())


@functions_api.delete("/<name>")
def delete_function(name: str):
    check(ADMIN_ROLES, scope="functions:write")
    store.delete(store.get(validation.checked_name(name), _namespace(), for_update=True))
    db.session.commit()
    return "", 204


@functions_api.get("/<name>/versions")
def list_versions(name: str):
    check(ADMIN_ROLES, scope="functions:read")
    row = store.get(validation.checked_name(name), _namespace())
    with_code = request.args.get("code") in ("1", "true")
    return jsonify([version.as_json(row.version, with_code) for version in store.versions(row)])


@functions_api.post("/<name>/rollback/<version>")
def rollback(name: str, version: str):
    check(ADMIN_ROLES, scope="functions:write")
    row = store.get(validation.checked_name(name), _namespace(), for_update=True)
    store.rollback(row, version_number(version))
    db.session.commit()
    return jsonify(row.as_json())


def _limit() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}", code="INVALID_LIMIT")
    return int(raw)


@functions_api.get("/<name>/executions")
def list_executions(name: str):
    check(ADMIN_ROLES, scope="functions:read")
    row = store.get(validation.checked_name(name), _namespace())
    return jsonify([execution.as_json() for execution in store.executions(row, _limit())])


@functions_api.get("/<name>/logs")
def list_logs(name: str):
    check(ADMIN_ROLES, scope="functions:read")
    row = store.get(validation.checked_name(name), _namespace())
    return jsonify(store.log_lines(row, _limit()))


@functions_api.route("/<path:reference>/invoke", methods=["GET", "POST"])
@session_reads_only  # the execution record is written apart from the session (insert_row)
def invoke_function(reference: str):
    namespace, _, name = reference.rpartition("/")
    if namespace:
        namespace = validation.checked_name(namespace, "namespace")
    row = store.get_callable(validation.checked_name(name), namespace or _namespace())
    return invoke.invoke(row)
