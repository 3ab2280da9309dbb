"""Bulk deployment (`POST /admin/functions/sync`): a namespace made to hold a list of functions, in one transaction.

Each function whose code is new or changed (or imports what may have changed: shared
modules, packages) is checked and bundled first, outside the transaction, as a single
save is; then every create, update and delete runs in one transaction, audited, and a
dry run rolls it back. The counts are exact: a function the list leaves as it was is
`unchanged`, whatever the reference server reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flux.api import ApiError, Conflict, audit, db, error_codes
from plugins.functions import builds, store
from plugins.functions.runtime.base import Permissions
from plugins.functions.schemas import FunctionSync


@dataclass
class SyncOutcome:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _built(request: FunctionSync, namespace: str) -> dict[str, store.Build]:
    """Each function's build, where its code needs one; a 400 names the function that failed."""
    stored = {row.name: row.code for row in store.list_functions(namespace)}
    built = {}
    for index, function in enumerate(request.functions):
        try:
            found = builds.for_save(function.code, stored.get(function.name))
        except ApiError as error:
            error.message = f"functions[{index}] ({function.name}): {error.message}"
            raise
        if found is not None:
            built[function.name] = found
    return built


def sync(request: FunctionSync) -> tuple[str, SyncOutcome]:
    namespace = request.namespace or store.DEFAULT_NAMESPACE
    built = _built(request, namespace)
    outcome = SyncOutcome()
    for function in request.functions:
        row = store.find(function.name, namespace, for_update=True)
        if row is None and function.name not in built:  # deleted since its code was compared, so never built
            raise Conflict(
                f"function {function.name!r} was deleted during the sync; sync again",
                code=error_codes.CONCURRENT_CHANGE,
            )
        if row is None:
            settings = function.settings(store.DEFAULT_PERMISSIONS)
            store.create(function.name, namespace, function.code, function.isolation, settings, built[function.name])
            outcome.created.append(function.name)
            continue
        settings = function.settings(Permissions(**row.permissions))
        changed = store.update(row, function.code, function.isolation, settings, built.get(function.name))
        (outcome.updated if changed else outcome.unchanged).append(function.name)
    if request.delete_missing:
        listed = {function.name for function in request.functions}
        for row in store.list_functions(namespace):
            if row.name not in listed:
                store.delete(row)
                outcome.deleted.append(row.name)
    counts = {kind: len(names) for kind, names in vars(outcome).items()}
    audit.record("functions.synced", namespace, dry_run=request.dry_run, **counts)
    if request.dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return namespace, outcome
