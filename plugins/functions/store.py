"""Functions of the current tenant: definitions, versions, rollback and execution records.

Every query goes through the models, so the core scopes it to the current tenant. The
API and the invocation service call these functions and only turn requests into
arguments.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from flux.api import (
    BadRequest,
    Conflict,
    NotFound,
    Page,
    Tenant,
    audit,
    current_actor,
    current_tenant_id,
    db,
    error_codes,
    flush_or_conflict,
    new_id,
    read_rows,
    utcnow,
    write_rows,
)
from plugins.functions import directives, function_env, retention
from plugins.functions.models import EdgeFunction, FunctionBundle, FunctionExecution, FunctionVersion
from plugins.functions.runtime.base import FunctionSpec, Outcome, Permissions

DEFAULT_NAMESPACE = "default"
# Seed 003's example and its `deno run --allow-net --allow-env`: network and (the
# filtered) environment on, the file system off.
DEFAULT_PERMISSIONS = Permissions(net=True, env=True, read=False, write=False)
SETTINGS = ("description", "enabled", "timeout", "memory", "env", "permissions")
COLUMNS = {"timeout": "timeout_seconds", "memory": "memory_mb"}


@dataclass(frozen=True)
class Build:
    """A saved function's runnable form (`builds.py`): its bundle, or why none could be made, and the modules in it."""

    bundle: str | None = None
    error: str | None = None
    modules: dict[str, int] = field(default_factory=dict)


def functions_query(namespace: str | None = None, public_only: bool = False) -> sa.Select:
    """The tenant's functions by namespace and name, of one namespace or all, or only the public ones."""
    query = sa.select(EdgeFunction).order_by(EdgeFunction.namespace, EdgeFunction.name)
    if namespace:
        query = query.where(EdgeFunction.namespace == namespace)
    if public_only:
        query = query.where(EdgeFunction.is_public.is_(True))
    return query


def list_functions(namespace: str | None = None) -> list[EdgeFunction]:
    return list(db.session.scalars(functions_query(namespace)))


def namespaces() -> list[str]:
    """The tenant's namespaces that hold a function."""
    return list(db.session.scalars(sa.select(EdgeFunction.namespace).distinct().order_by(EdgeFunction.namespace)))


def not_found(name: str, namespace: str) -> NotFound:
    return NotFound(f"function {name!r} not found in namespace {namespace!r}", code=error_codes.NOT_FOUND)


def get(name: str, namespace: str | None, for_update: bool = False) -> EdgeFunction:
    row = find(name, namespace, for_update)
    if row is None:
        raise not_found(name, namespace or DEFAULT_NAMESPACE)
    return row


def find(name: str, namespace: str | None, for_update: bool = False) -> EdgeFunction | None:
    query = sa.select(EdgeFunction).where(
        EdgeFunction.name == name, EdgeFunction.namespace == (namespace or DEFAULT_NAMESPACE)
    )
    if for_update:
        query = query.with_for_update()  # concurrent writers of one function take turns
    return db.session.scalar(query)


def get_by_id(function_id: str, for_update: bool = False) -> EdgeFunction | None:
    query = sa.select(EdgeFunction).where(EdgeFunction.id == function_id)
    return db.session.scalar(query.with_for_update() if for_update else query)


# What an invocation reads, built once: loading the whole row as an object cost more
# than a warm worker's round trip.
_FUNCTIONS = EdgeFunction.__table__
_CALLABLE = sa.select(
    *(
        _FUNCTIONS.c[column]
        for column in (
            "id",
            "name",
            "namespace",
            "code",
            "version",
            "enabled",
            "timeout_seconds",
            "memory_mb",
            "tenant_id",
            "env",
            "encrypted_env",
            "permissions",
            "allow_unauthenticated",
            "isolation",
            "api_settings",
            "annotations",
            "bundle_digest",
            "bundle_error",
        )
    )
).where(_FUNCTIONS.c.name == sa.bindparam("name"), _FUNCTIONS.c.namespace == sa.bindparam("namespace"))


def get_callable(name: str, namespace: str | None) -> sa.Row:
    """What invoking a function needs of it (the columns of `EdgeFunction`); 404 when there is none."""
    namespace = namespace or DEFAULT_NAMESPACE
    rows = read_rows(_CALLABLE, {"name": name, "namespace": namespace})
    if not rows:
        raise not_found(name, namespace)
    return rows[0]


def callable_in_every_tenant(name: str, namespace: str | None) -> list[sa.Row]:
    """The function of that name in each live tenant (for a preflight, whose tenant cannot be known)."""
    query = (
        _CALLABLE.where(EdgeFunction.tenant_id.in_(sa.select(Tenant.id).where(Tenant.deleted_at.is_(None))))
        .order_by(EdgeFunction.tenant_id)
        .execution_options(all_tenants=True)
    )
    found = db.session.execute(query, {"name": name, "namespace": namespace or DEFAULT_NAMESPACE}).all()
    db.session.commit()  # a read: no transaction stays open
    return list(found)


def last_statuses(function_ids: list[str]) -> dict[str, str]:
    """The status of each function's latest execution, for lists and the dashboard.

    One correlated lookup per function, each read off `ix_function_executions_latest`
    (the newest entry of that function), so its cost does not grow with the history.
    """
    if not function_ids:
        return {}
    latest = (
        sa.select(FunctionExecution.status)
        .where(FunctionExecution.function_id == EdgeFunction.id)
        .order_by(FunctionExecution.started_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = sa.select(EdgeFunction.id, latest).where(EdgeFunction.id.in_(function_ids))
    return {function_id: status for function_id, status in db.session.execute(query) if status is not None}


def create(
    name: str,
    namespace: str,
    code: str,
    isolation: str | None,
    settings: dict[str, Any],
    built: Build,
    files: dict[str, str] | None = None,
) -> EdgeFunction:
    """A new function at version 1 (`files`: a directory function's other files); 409 when the name is taken."""
    exists = db.session.scalar(
        sa.select(EdgeFunction.id).where(EdgeFunction.name == name, EdgeFunction.namespace == namespace)
    )
    if exists is not None:
        raise Conflict(f"function {name!r} already exists in namespace {namespace!r}", code=error_codes.ALREADY_EXISTS)
    config, actor_id, now = current_app.config, current_actor().id, utcnow()
    row = EdgeFunction(
        id=new_id(),
        tenant_id=current_tenant_id(),
        name=name,
        namespace=namespace,
        code=code,
        files=files or {},
        version=1,
        description="",
        enabled=True,
        timeout_seconds=config["FUNCTIONS_DEFAULT_TIMEOUT_SECONDS"],
        memory_mb=config["FUNCTIONS_DEFAULT_MEMORY_MB"],
        env=[],
        encrypted_env=None,
        permissions=DEFAULT_PERMISSIONS.as_json(),
        api_settings={},
        annotations=_directives(code),
        isolation=isolation or "warm",
        created_by=actor_id,
        updated_by=actor_id,
        created_at=now,
        updated_at=now,
    )
    _apply(row, settings)
    _apply_explicit(row, settings.get("explicit", {}))
    _settle(row)
    _apply_build(row, built)
    db.session.add(row)
    db.session.add(_version_row(row))
    _flush(row)
    audit.record("functions.created", f"{namespace}/{name}", version=1)
    return row


def update(
    row: EdgeFunction,
    code: str | None,
    isolation: str | None,
    settings: dict[str, Any],
    built: Build | None = None,
    files: dict[str, str] | None = None,
) -> list[str]:
    """Change what is given; new code or files (only when they differ) make a new version, `built` its bundle.

    Returns what changed (none: nothing was written).
    """
    changed = _apply(row, settings) + _apply_explicit(row, settings.get("explicit", {}))
    if isolation is not None and isolation != row.isolation:
        row.isolation = isolation
        changed.append("isolation")
    code = row.code if code is None else code
    files = row.files if files is None else files
    if (code, files) != (row.code, row.files):
        if built is None:  # checked as the code stored when the request began, which another one replaced
            raise Conflict(
                f"function {row.name!r} was just changed by another request; try again",
                code=error_codes.CONCURRENT_CHANGE,
            )
        changed += [name for name, value in (("code", code), ("files", files)) if value != getattr(row, name)]
        _new_version(row, code, files)
    if built is not None and _apply_build(row, built):
        changed.append("bundle")
    if not changed:
        return changed
    _settle(row)
    row.updated_by, row.updated_at = current_actor().id, utcnow()
    _flush(row)
    audit.record("functions.updated", f"{row.namespace}/{row.name}", version=row.version, fields=changed)
    return changed


def delete(row: EdgeFunction) -> None:
    """Delete a function with its versions and executions (the database cascades)."""
    audit.record("functions.deleted", f"{row.namespace}/{row.name}", version=row.version)
    db.session.execute(sa.delete(FunctionExecution).where(FunctionExecution.function_id == row.id))
    db.session.execute(sa.delete(FunctionBundle).where(FunctionBundle.function_id == row.id))
    db.session.execute(sa.delete(FunctionVersion).where(FunctionVersion.function_id == row.id))
    db.session.delete(row)
    db.session.flush()


def versions_query(row: EdgeFunction) -> sa.Select:
    """The function's versions, newest first."""
    query = sa.select(FunctionVersion).where(FunctionVersion.function_id == row.id)
    return query.order_by(FunctionVersion.version.desc())


def versions(row: EdgeFunction) -> list[FunctionVersion]:
    return list(db.session.scalars(versions_query(row)))


def version_of(row: EdgeFunction, version: int) -> FunctionVersion:
    """One of the function's versions (its code and files); 404 for a version it never had."""
    found = db.session.scalar(
        sa.select(FunctionVersion).where(FunctionVersion.function_id == row.id, FunctionVersion.version == version)
    )
    if found is None:
        raise NotFound(f"function {row.name!r} has no version {version}", code=error_codes.NOT_FOUND)
    return found


def rollback(row: EdgeFunction, version: int, built: Build) -> EdgeFunction:
    """Make `version`'s code current again, as a new version (history only grows), bundled as `built`."""
    old = version_of(row, version)
    _new_version(row, old.code, old.files)
    _apply_build(row, built)
    _settle(row)
    row.updated_by, row.updated_at = current_actor().id, utcnow()
    _flush(row)
    audit.record("functions.rolled_back", f"{row.namespace}/{row.name}", version=row.version, from_version=version)
    return row


def bundled_with(module_path: str | None) -> list[EdgeFunction]:
    """The tenant's functions bundled with `module_path` (with any shared module when None), locked for a change."""
    query = sa.select(EdgeFunction).where(EdgeFunction.is_bundled.is_(True) | EdgeFunction.bundle_error.is_not(None))
    rows = db.session.scalars(query.order_by(EdgeFunction.namespace, EdgeFunction.name))
    return [row for row in rows if module_path is None or module_path in (row.bundled_modules or {})]


def rebundle(row: EdgeFunction, built: Build) -> bool:
    """A new bundle of the function's current code (no new version: the code is the same); whether it changed."""
    if not _apply_build(row, built):
        return False
    row.updated_by, row.updated_at = current_actor().id, utcnow()
    _flush(row)
    audit.record("functions.rebundled", f"{row.namespace}/{row.name}", version=row.version, modules=row.bundled_modules)
    return True


def spec_of(row: EdgeFunction | sa.Row) -> FunctionSpec:
    """What the runtime needs to run the function's current version."""
    return FunctionSpec(
        function_id=row.id,
        version=row.version,
        code=row.code,
        timeout_seconds=row.timeout_seconds,
        memory_mb=row.memory_mb,
        permissions=Permissions(**row.permissions),
        isolation=row.isolation,
        bundle_digest=row.bundle_digest,
        read_bundle=functools.partial(bundle_of, row.id),
    )


def bundle_of(function_id: str) -> str | None:
    """A function's bundle, read only when a node first starts a process of it (`FunctionSpec.bundle`)."""
    return db.session.scalar(sa.select(FunctionBundle.bundle).where(FunctionBundle.function_id == function_id))


@dataclass(frozen=True)
class Ran:
    """Which function ran, kept apart from the row so the record needs no reload after a commit."""

    function_id: str
    name: str
    namespace: str
    version: int
    user_id: str | None
    trigger: str
    started_at: datetime


_RECORD_EXECUTION = FunctionExecution.__table__.insert()


def record_execution(ran: Ran, outcome: Outcome, duration_ms: float) -> str:
    """Store one invocation (and prune old ones when due), committed at once; logs, error and stack come masked.

    Returns the record's id. Written apart from the session, as the function's row is
    read: an invocation then opens no session at all (`bench/fast_paths.py`).
    """
    error = outcome.error
    if outcome.stack:
        error = f"{error}\n{outcome.stack}" if error else outcome.stack
    execution_id = new_id()
    write_rows(
        _RECORD_EXECUTION,
        {
            "id": execution_id,
            "function_id": ran.function_id,
            "function_name": ran.name,
            "namespace": ran.namespace,
            "version": ran.version,
            "status": outcome.status,
            "status_code": outcome.http_status,
            "duration_ms": round(duration_ms, 3),
            "error": error,
            "logs": outcome.logs,
            "logs_truncated": outcome.logs_truncated,
            "trigger": ran.trigger,
            "user_id": ran.user_id,
            "started_at": ran.started_at,
            "completed_at": utcnow(),
        },
    )
    retention.prune_if_due(ran.function_id)
    return execution_id


def executions_query(row: EdgeFunction) -> sa.Select:
    """The function's executions, newest first."""
    query = sa.select(FunctionExecution).where(FunctionExecution.function_id == row.id)
    return query.order_by(FunctionExecution.started_at.desc(), FunctionExecution.id.desc())


def executions(row: EdgeFunction, limit: int) -> list[FunctionExecution]:
    return list(db.session.scalars(executions_query(row).limit(limit)))


def log_lines(row: EdgeFunction, page: Page) -> tuple[list[dict[str, Any]], int]:
    """One page of the console lines of the function's executions, newest first, and how many there are.

    The lines per execution are counted in the database, so only the executions whose
    lines fall on the page are read whole.
    """
    counted = executions_query(row).with_only_columns(
        FunctionExecution.id, sa.func.coalesce(sa.func.json_array_length(FunctionExecution.logs), 0)
    )
    total, before, wanted = 0, 0, []
    for execution_id, count in db.session.execute(counted):
        if total + count > page.offset and total < page.offset + page.limit:
            before = before if wanted else total
            wanted.append(execution_id)
        total += count
    found = db.session.scalars(sa.select(FunctionExecution).where(FunctionExecution.id.in_(wanted)))
    by_id = {execution.id: execution for execution in found}
    lines = [
        {**entry, "execution_id": execution_id, "version": by_id[execution_id].version}
        for execution_id in wanted
        if execution_id in by_id  # pruned meanwhile
        for entry in reversed(by_id[execution_id].logs)
    ]
    start = page.offset - before
    return lines[start : start + page.limit], total


def _apply(row: EdgeFunction, settings: dict[str, Any]) -> list[str]:
    changed = []
    for name in SETTINGS:
        value = settings.get(name)
        if value is None:
            continue
        if name == "env":
            if _replace_env(row, value):
                changed.append(name)
            continue
        if name == "permissions":
            value = value.as_json()
        column = COLUMNS.get(name, name)
        if getattr(row, column) != value:
            setattr(row, column, value)
            changed.append(name)
    return changed


def _apply_explicit(row: EdgeFunction, given: dict[str, Any]) -> list[str]:
    """The API's values of directive-backed settings (None drops one); the names that changed."""
    merged = dict(row.api_settings or {})
    for name, value in given.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    changed = [name for name in given if (row.api_settings or {}).get(name) != merged.get(name)]
    if changed:
        row.api_settings = merged
    return changed


def _apply_build(row: EdgeFunction, built: Build) -> bool:
    """The function's bundle, its error and the modules in it; whether any of them changed."""
    digest = None if built.bundle is None else hashlib.sha256(built.bundle.encode()).hexdigest()
    values = {
        "bundle_digest": digest,
        "is_bundled": built.bundle is not None,
        "bundle_error": built.error,
        "bundled_modules": built.modules,
    }
    changed = any(getattr(row, name) != value for name, value in values.items())
    if digest != row.bundle_digest:
        db.session.execute(sa.delete(FunctionBundle).where(FunctionBundle.function_id == row.id))
        if built.bundle is not None:
            db.session.add(FunctionBundle(function_id=row.id, digest=digest, bundle=built.bundle))
    for name, value in values.items():
        setattr(row, name, value)
    return changed


def _settle(row: EdgeFunction) -> None:
    """The columns that listing and invoking filter on, from the API's values, the directives and the defaults."""
    values = directives.effective(row)
    row.allow_unauthenticated, row.is_public = values["allow_unauthenticated"], values["is_public"]


def _directives(code: str) -> dict[str, Any]:
    """The code's directive settings; a 400 for code stored before directives were checked (a rollback to it)."""
    try:
        return directives.read(code)
    except directives.AnnotationError as error:
        raise BadRequest(f"the code's directives: {error}", code=directives.ANNOTATION_INVALID) from None


def _replace_env(row: EdgeFunction, values: dict[str, str]) -> bool:
    """Seal `values` as the function's env, unless they are what it holds; whether it changed."""
    try:
        if function_env.open_values(row.tenant_id, row.id, row.name, row.env, row.encrypted_env) == values:
            return False
    except function_env.EnvUnreadable:
        pass  # values no key opens any more are replaced, not kept
    row.env, row.encrypted_env = function_env.seal(row.tenant_id, row.id, values)
    return True


def _new_version(row: EdgeFunction, code: str, files: dict[str, str]) -> None:
    row.annotations = _directives(code)
    row.version += 1
    row.code, row.files = code, files
    db.session.add(_version_row(row))


def _version_row(row: EdgeFunction) -> FunctionVersion:
    return FunctionVersion(
        tenant_id=row.tenant_id,
        function_id=row.id,
        version=row.version,
        code=row.code,
        files=row.files,
        created_by=current_actor().id,
        created_at=utcnow(),
    )


def _flush(row: EdgeFunction) -> None:
    flush_or_conflict(
        f"function {row.name!r} was just changed by another request; try again", error_codes.CONCURRENT_CHANGE
    )
