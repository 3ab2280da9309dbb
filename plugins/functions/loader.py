"""The functions folder (`FLUXBASE_FUNCTIONS_FUNCTIONS_DIR`, `folder.py`) loaded into the database.

On start (`FLUXBASE_FUNCTIONS_AUTO_LOAD_ON_BOOT`, on by default) its functions are
created and updated, never deleted, so those made in the dashboard or through the API
stay; a reload (`POST /admin/functions/reload`) also deletes the namespace's functions
the folder lacks, as seed 003 warns. `_shared/` files become shared modules, created or
updated, never deleted (a function saved through the API may import one). The folder
loads into the default tenant's `default` namespace.

A function that is malformed or does not build is left as it was (and not deleted),
and named in the outcome; the others load. A function whose code and files are as
stored is not built again, unless a shared module changed in this load and it imports
one. Loaders at once (nodes starting together, each `flux.wsgi` worker) take turns on
the tenant's row (`sync.take_turn`): a later one finds the earlier one's work and
leaves it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from flux.api import ApiError, NotFound, acting_as_server, db, parse
from plugins.functions import builds, shared_modules, store, sync
from plugins.functions.folder import FolderError, FunctionsFolder, read_folder
from plugins.functions.schemas import SharedModuleCreate, SyncedFunction
from plugins.functions.store import Build


@dataclass
class LoadOutcome:
    folder: str
    functions: sync.SyncOutcome = field(default_factory=sync.SyncOutcome)
    modules: dict[str, list[str]] = field(default_factory=lambda: {"created": [], "updated": [], "unchanged": []})
    errors: dict[str, str] = field(default_factory=dict)  # a function's name or a module's path → why it did not load
    skipped: list[str] = field(default_factory=list)

    def report(self) -> list[str]:
        """For the operator: the counts, what did not load and why, what was skipped."""
        lines = [self.summary()]
        lines += [f"  not loaded: {name}: {why}" for name, why in self.errors.items()]
        return lines + [f"  skipped: {line}" for line in self.skipped]

    def summary(self) -> str:
        counts = ", ".join(f"{kind} {count}" for kind, count in self.functions.counts().items())
        modules = ", ".join(f"{kind} {len(paths)}" for kind, paths in self.modules.items())
        errors = len(self.errors)
        return f"functions folder {self.folder}: functions {counts}; shared modules {modules}; errors {errors}"


def _load_modules(folder: FunctionsFolder, outcome: LoadOutcome) -> None:
    """Create or update the folder's shared modules, committed before any function is built with them."""
    sync.take_turn()
    for path, content in folder.modules.items():
        try:
            parse(SharedModuleCreate, {"module_path": path, "content": content})
        except ApiError as error:
            outcome.errors[path] = error.message
            continue
        try:
            module = shared_modules.get(path, for_update=True)
        except NotFound:
            shared_modules.create(path, content, "")
            outcome.modules["created"].append(path)
            continue
        kind = "unchanged" if module.content == content else "updated"
        shared_modules.update(module, content, None)
        outcome.modules[kind].append(path)
    db.session.commit()


def _functions(folder: FunctionsFolder, outcome: LoadOutcome) -> list[SyncedFunction]:
    """The folder's functions that read as a sync's would; the others are named in `errors`."""
    valid = []
    for function in folder.functions:
        try:
            valid.append(parse(SyncedFunction, function.as_sync_item()))
        except ApiError as error:
            outcome.errors[function.name] = f"{function.source}: {error.message}"
    return valid


def load(root: Path, delete_missing: bool) -> LoadOutcome:
    """Load the folder in the current tenant, as the current actor; `folder.FolderError` if it cannot be read."""
    folder = read_folder(root)
    outcome = LoadOutcome(folder=str(root), skipped=folder.skipped)
    _load_modules(folder, outcome)
    modules_changed = bool(outcome.modules["created"] or outcome.modules["updated"])

    def build(code: str, files: dict[str, str], stored: Any) -> Build | None:
        as_stored = stored is not None and (code, files) == (stored.code, stored.files)
        if as_stored and not (modules_changed and builds.needs_bundle(code, files)):
            return None
        return builds.build(code, files)

    functions = _functions(folder, outcome)
    failures: dict[str, str] = {}
    built = sync.plan(store.DEFAULT_NAMESPACE, functions, build, failures)
    outcome.errors.update(failures)
    loaded = [function for function in functions if function.name not in failures]
    kept = [function.name for function in folder.functions if function.name in outcome.errors] + folder.unread
    outcome.functions = sync.apply(store.DEFAULT_NAMESPACE, loaded, built, delete_missing, dry_run=False, kept=kept)
    return outcome


def load_on_start(app: Flask) -> list[str]:
    """The folder loaded as the server, when one is set and loading on start is on; lines for the operator."""
    root = app.config["FUNCTIONS_FUNCTIONS_DIR"]
    if not root or not app.config["FUNCTIONS_AUTO_LOAD_ON_BOOT"]:
        return []
    retry = "restart, or POST /api/v1/admin/functions/reload"
    try:
        with acting_as_server(app):
            try:
                return load(Path(root), delete_missing=False).report()
            except sa.exc.SQLAlchemyError as error:  # outside a request no handler makes it an ApiError
                db.session.rollback()
                return [f"functions folder not loaded: the database failed ({type(error).__name__}); {retry}"]
    except FolderError as error:
        return [f"functions folder not loaded: {error}"]
    except ApiError as error:  # the database refused (busy, another loader's delete): the next start retries
        return [f"functions folder not loaded: {error.message}; {retry}"]
