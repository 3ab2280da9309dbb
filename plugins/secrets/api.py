"""`/api/v1/secrets…` (seed 004) and `/api/v1/admin/secrets…` (seed 001): one service, two sets of paths.

For `instance_admin`, `tenant_admin` (of the tenant acted in), `admin`, and service keys
with `secrets:read` (reads) or `secrets:write` (changes); an app user gets 403. No
answer ever holds a value. By name, `?namespace=NS` names the secret of that namespace
and no namespace the global one. The admin paths address secrets by name only; a view
serving both path sets carries both routes.
"""

from __future__ import annotations

from flask import Response

from flux.api import (
    ADMIN_ROLES,
    ApiBlueprint,
    Page,
    Tag,
    answer,
    db,
    error_codes,
    list_of,
    page_of,
    paginated,
    raises,
    require,
)
from plugins.secrets import store
from plugins.secrets.models import FunctionSecret
from plugins.secrets.schemas import (
    ENV_NAME_TAKEN,
    VERSION_UNREADABLE,
    FunctionSecretChange,
    FunctionSecretCreate,
    FunctionSecretOut,
    FunctionSecretRollback,
    FunctionSecretStats,
    FunctionSecretVersionOut,
    IdPath,
    IdVersionPath,
    NamePath,
    NamespaceQuery,
    NameVersionPath,
    SecretsQuery,
    VersionsQuery,
)

READ, WRITE = "secrets:read", "secrets:write"
NOT_FOUND, CONCURRENT_CHANGE = error_codes.NOT_FOUND, error_codes.CONCURRENT_CHANGE
# What a change may answer besides input errors.
CHANGE_CODES = (NOT_FOUND, error_codes.NOTHING_TO_UPDATE, error_codes.VALUE_TOO_LARGE, CONCURRENT_CHANGE)
ROLLBACK_CODES = (NOT_FOUND, VERSION_UNREADABLE, CONCURRENT_CHANGE)
SECRET = {200: FunctionSecretOut}
SECRETS = {200: list_of(FunctionSecretOut)}
VERSIONS = {200: list_of(FunctionSecretVersionOut)}
DELETED = {204: None}

secrets_api = ApiBlueprint("secrets", __name__, url_prefix="/api/v1/secrets", abp_tags=[Tag(name="secrets")])
admin_secrets_api = ApiBlueprint(
    "secrets_admin", __name__, url_prefix="/api/v1/admin/secrets", abp_tags=[Tag(name="secrets (seed 001 paths)")]
)


def shown(row: FunctionSecret, status: int = 200) -> tuple[Response, int]:
    return answer(FunctionSecretOut.model_validate(row), status)


def by_name(path: NamePath, query: NamespaceQuery, for_update: bool = False) -> FunctionSecret:
    return store.by_name(path.name, query.namespace, for_update)


def changed(row: FunctionSecret, change: FunctionSecretChange) -> tuple[Response, int]:
    store.update(row, change)
    db.session.commit()
    return shown(row)


def deleted(row: FunctionSecret) -> tuple[str, int]:
    store.delete(row)
    db.session.commit()
    return "", 204


def version_page(row: FunctionSecret, page: Page) -> Response:
    versions, total = page_of(store.versions_query(row), page)
    return paginated((FunctionSecretVersionOut.of(version, row.version) for version in versions), total)


def rolled_back(row: FunctionSecret, version: int) -> tuple[Response, int]:
    store.rollback(row, version)
    db.session.commit()
    return shown(row)


@secrets_api.get("", responses=SECRETS)
@admin_secrets_api.get("", responses=SECRETS)
@require(*ADMIN_ROLES, scope=READ)
def list_secrets(query: SecretsQuery):
    rows, total = page_of(store.secrets_query(query.scope, query.namespace, query.search), query)
    return paginated((FunctionSecretOut.model_validate(row) for row in rows), total)


@secrets_api.post("", responses={201: FunctionSecretOut})
@admin_secrets_api.post("", responses={201: FunctionSecretOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(error_codes.ALREADY_EXISTS, ENV_NAME_TAKEN, error_codes.VALUE_TOO_LARGE, CONCURRENT_CHANGE)
def create_secret(body: FunctionSecretCreate):
    row = store.create(body)
    db.session.commit()
    return shown(row, 201)


@secrets_api.get("/stats", responses={200: FunctionSecretStats})
@require(*ADMIN_ROLES, scope=READ)
def secret_stats():
    return answer(FunctionSecretStats(**store.stats()))


@secrets_api.get("/<secret_id>", responses=SECRET)
@require(*ADMIN_ROLES, scope=READ)
@raises(NOT_FOUND)
def get_secret(path: IdPath):
    return shown(store.by_id(path.secret_id))


@secrets_api.put("/<secret_id>", responses=SECRET)
@require(*ADMIN_ROLES, scope=WRITE)
@raises(*CHANGE_CODES)
def update_secret(path: IdPath, body: FunctionSecretChange):
    return changed(store.by_id(path.secret_id, for_update=True), body)


@secrets_api.delete("/<secret_id>", responses=DELETED)
@require(*ADMIN_ROLES, scope=WRITE)
@raises(NOT_FOUND)
def delete_secret(path: IdPath):
    return deleted(store.by_id(path.secret_id, for_update=True))


@secrets_api.get("/<secret_id>/versions", responses=VERSIONS)
@require(*ADMIN_ROLES, scope=READ)
@raises(NOT_FOUND)
def list_versions(path: IdPath, query: Page):
    return version_page(store.by_id(path.secret_id), query)


@secrets_api.post("/<secret_id>/rollback/<version>", responses=SECRET)
@require(*ADMIN_ROLES, scope=WRITE)
@raises(*ROLLBACK_CODES)
def rollback_secret(path: IdVersionPath):
    return rolled_back(store.by_id(path.secret_id, for_update=True), path.version)


@secrets_api.get("/by-name/<name>", responses=SECRET)
@admin_secrets_api.get("/<name>", responses=SECRET)
@require(*ADMIN_ROLES, scope=READ)
@raises(NOT_FOUND)
def get_secret_by_name(path: NamePath, query: NamespaceQuery):
    return shown(by_name(path, query))


@secrets_api.put("/by-name/<name>", responses=SECRET)
@admin_secrets_api.put("/<name>", responses=SECRET)
@require(*ADMIN_ROLES, scope=WRITE)
@raises(*CHANGE_CODES)
def update_secret_by_name(path: NamePath, query: NamespaceQuery, body: FunctionSecretChange):
    return changed(by_name(path, query, for_update=True), body)


@secrets_api.delete("/by-name/<name>", responses=DELETED)
@admin_secrets_api.delete("/<name>", responses=DELETED)
@require(*ADMIN_ROLES, scope=WRITE)
@raises(NOT_FOUND)
def delete_secret_by_name(path: NamePath, query: NamespaceQuery):
    return deleted(by_name(path, query, for_update=True))


@secrets_api.get("/by-name/<name>/versions", responses=VERSIONS)
@admin_secrets_api.get("/<name>/history", responses=VERSIONS)
@require(*ADMIN_ROLES, scope=READ)
@raises(NOT_FOUND)
def list_versions_by_name(path: NamePath, query: VersionsQuery):
    return version_page(by_name(path, query), query)


@secrets_api.post("/by-name/<name>/rollback/<version>", responses=SECRET)
@admin_secrets_api.post("/<name>/rollback/<version>", responses=SECRET)
@require(*ADMIN_ROLES, scope=WRITE)
@raises(*ROLLBACK_CODES)
def rollback_secret_by_name(path: NameVersionPath, query: NamespaceQuery):
    return rolled_back(by_name(path, query, for_update=True), path.version)


@admin_secrets_api.post("/<name>/rollback", responses=SECRET)
@require(*ADMIN_ROLES, scope=WRITE)
@raises(*ROLLBACK_CODES)
def rollback_secret_to(path: NamePath, query: NamespaceQuery, body: FunctionSecretRollback):
    return rolled_back(by_name(path, query, for_update=True), body.version)
