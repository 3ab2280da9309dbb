"""Bulk deployment (`POST /admin/functions/sync`): a namespace made to hold a list of functions, in one transaction.

Each function whose code is new or changed (or imports what may have changed: shared
modules, packages) is checked and bundled first, outside the transaction, as a single
save is; then every create, update and delete runs in one transaction, audited, and a
dry run rolls it back. The counts are exact: a function the list leaves as it was is
`unchanged`, whatever the reference server reports. The functions folder (`loader.py`)
goes through the same two steps.

Syncs of one tenant take turns (its row is locked for the write), so two at once, as
when several nodes load a folder on start, end as one would: the later one finds the
earlier's functions and leaves them unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from flux.api import ApiError, Conflict, Tenant, audit, current_tenant_id, db, error_codes
from plugins.functions import builds, store
from plugins.functions.runtime.base import Permissions
from plugins.functions.schemas import FunctionSync, SyncedFunction
from plugins.functions.store import Build


@dataclass
class SyncOutcome:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {kind: len(names) for kind, names in vars(self).items()}


# How a plan builds a function over its stored row (None: new): `builds.for_save`'s signature.
Builder = Callable[[str, dict[str, str], Any], Build | None]


def take_turn() -> None:
    """Lock the tenant's row until commit: bulk changes of its functions (syncs, folder loads) take turns."""
    db.session.execute(sa.select(Tenant.id).where(Tenant.id == current_tenant_id()).with_for_update())


def plan(
    namespace: str,
    functions: Sequence[SyncedFunction],
    builder: Builder = builds.for_save,
    failures: dict[str, str] | None = None,
) -> dict[str, Build]:
    """Each function's build, where its code needs one.

    A function that does not build is a 400 naming it; with `failures`, its message is
    kept there instead and the others go on.
    """
    stored = {row.name: row for row in store.list_functions(namespace)}
    built = {}
    for index, function in enumerate(functions):
        try:
            found = builder(function.code, function.files or {}, stored.get(function.name))
        except ApiError as error:
            if failures is None:
                error.message = f"functions[{index}] ({function.name}): {error.message}"
                raise
            failures[function.name] = error.message
            continue
        if found is not None:
            built[function.name] = found
    return built


def apply(
    namespace: str,
    functions: Sequence[SyncedFunction],
    built: dict[str, Build],
    delete_missing: bool,
    dry_run: bool,
    kept: Collection[str] = (),
) -> SyncOutcome:
    """Every create, update and delete of a plan, in one transaction (rolled back for a dry run), audited.

    `kept`: names not in `functions` that `delete_missing` spares (a folder's functions that did not build).
    """
    outcome = SyncOutcome()
    take_turn()
    for function in functions:
        row = store.find(function.name, namespace, for_update=True)
        if row is None and function.name not in built:  # deleted since its code was compared, so never built
            raise Conflict(
                f"function {function.name!r} was deleted during the sync; sync again",
                code=error_codes.CONCURRENT_CHANGE,
            )
        files = function.files or {}
        if row is None:
            settings = function.settings(store.DEFAULT_PERMISSIONS)
            new = (function.name, namespace, function.code, function.isolation, settings, built[function.name])
            store.create(*new, files=files)
            outcome.created.append(function.name)
            continue
        settings = function.settings(Permissions(**row.permissions))
        changed = store.update(row, function.code, function.isolation, settings, built.get(function.name), files)
        (outcome.updated if changed else outcome.unchanged).append(function.name)
    if delete_missing:
        listed = {function.name for function in functions} | set(kept)
        for row in store.list_functions(namespace):
            if row.name not in listed:
                store.delete(row)
                outcome.deleted.append(row.name)
    audit.record("functions.synced", namespace, dry_run=dry_run, **outcome.counts())
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return outcome


def sync(request: FunctionSync) -> tuple[str, SyncOutcome]:
    namespace = request.namespace or store.DEFAULT_NAMESPACE
    built = plan(namespace, request.functions)
    return namespace, apply(namespace, request.functions, built, request.delete_missing, request.dry_run)
