"""`/api/v1/admin/functions…` (seed 004): the namespaces that hold functions, and bulk deployment.

For those who manage functions: admins, and service keys with `functions:read` (the
namespaces) or `functions:write` (sync). `fluxbase functions deploy` calls the sync.
"""

from __future__ import annotations

from flux.api import ADMIN_ROLES, ApiBlueprint, Tag, answer, error_codes, raises, require
from plugins.functions import store, sync
from plugins.functions.api import CODE_CHECK, READ, WRITE
from plugins.functions.schemas import FunctionSync, FunctionSyncAnswer, NamespaceList, SyncDetails, SyncSummary

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
