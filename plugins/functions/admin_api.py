"""`/api/v1/admin/functions…` (seed 004): the namespaces that hold functions, and bulk deployment.

For those who manage functions: admins, and service keys with `functions:read` (the
namespaces) or `functions:write` (sync, reload). `fluxbase functions deploy` calls the
sync; a reload loads the server's functions folder (`loader.py`) into the default tenant.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from flux.api import (
    ADMIN_ROLES,
    DEFAULT_TENANT_SLUG,
    ApiBlueprint,
    ApiError,
    Forbidden,
    Tag,
    answer,
    current_tenant,
    error_codes,
    raises,
    require,
)
from plugins.functions import loader, store, sync
from plugins.functions.api import CODE_CHECK, READ, WRITE
from plugins.functions.folder import FolderError
from plugins.functions.schemas import (
    FOLDER_UNAVAILABLE,
    FolderReloadAnswer,
    FunctionSync,
    FunctionSyncAnswer,
    NamespaceList,
    SharedModulesLoaded,
    SyncDetails,
    SyncSummary,
)

admin_functions_api = ApiBlueprint(
    "admin_functions", __name__, url_prefix="/api/v1/admin/functions", abp_tags=[Tag(name="functions")]
)


@admin_functions_api.get("/namespaces", responses={200: NamespaceList})
@require(*ADMIN_ROLES, scope=READ)
def list_namespaces():
    return answer(NamespaceList(namespaces=store.namespaces()))


@admin_functions_api.post("/sync", responses={200: FunctionSyncAnswer})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(*CODE_CHECK, error_codes.ALREADY_EXISTS)
def sync_functions(body: FunctionSync):
    """Create, update (and with `delete_missing`, delete) the namespace's functions to match the list."""
    namespace, outcome = sync.sync(body)
    return answer(
        FunctionSyncAnswer(
            namespace=namespace,
            summary=SyncSummary(**outcome.counts()),
            details=SyncDetails(**vars(outcome)),
            dry_run=body.dry_run,
        )
    )


@admin_functions_api.post("/reload", responses={200: FolderReloadAnswer})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(FOLDER_UNAVAILABLE, error_codes.FORBIDDEN, error_codes.CONCURRENT_CHANGE)
def reload_functions():
    """Load the functions folder in full: create, update, and delete the `default` namespace's functions it lacks.

    Functions made in the dashboard or through the API in that namespace are deleted
    too unless the folder has them (seed 003). One that does not build stays as it was.
    """
    root = current_app.config["FUNCTIONS_FUNCTIONS_DIR"]
    if not root:
        raise ApiError(
            "no functions folder is set: set FLUXBASE_FUNCTIONS_FUNCTIONS_DIR and restart",
            code=FOLDER_UNAVAILABLE,
            status=409,
        )
    if current_tenant().slug != DEFAULT_TENANT_SLUG:
        raise Forbidden(
            "the functions folder loads into the default tenant: reload it there (without X-FB-Tenant)",
            code=error_codes.FORBIDDEN,
        )
    try:
        outcome = loader.load(Path(root), delete_missing=True)
    except FolderError as error:
        raise ApiError(str(error), code=FOLDER_UNAVAILABLE, status=409) from None
    return answer(
        FolderReloadAnswer(
            folder=outcome.folder,
            namespace=store.DEFAULT_NAMESPACE,
            summary=SyncSummary(**outcome.functions.counts()),
            details=SyncDetails(**vars(outcome.functions)),
            shared_modules=SharedModulesLoaded(**outcome.modules),
            errors=outcome.errors,
            skipped=outcome.skipped,
        )
    )
