"""Shared modules of the current tenant (seed 003's `_shared/` folder, kept in the database).

Each change of content is a new version, and every version's content is kept: a
function is bundled with the versions current when it is saved, and updating a module
changes no deployed function until it is saved again (or rebundled).
"""

from __future__ import annotations

import sqlalchemy as sa

from flux.api import (
    Conflict,
    NotFound,
    audit,
    current_actor,
    current_tenant_id,
    db,
    error_codes,
    flush_or_conflict,
    utcnow,
)
from plugins.functions.models import SharedModule, SharedModuleVersion

PREFIX = "_shared/"


def full_path(path: str) -> str:
    """`cors.ts` and `_shared/cors.ts` name the same module; it is stored with its prefix."""
    return path if path.startswith(PREFIX) else PREFIX + path


def modules_query() -> sa.Select:
    return sa.select(SharedModule).order_by(SharedModule.module_path)


def get(path: str, for_update: bool = False) -> SharedModule:
    query = sa.select(SharedModule).where(SharedModule.module_path == full_path(path))
    if for_update:
        query = query.with_for_update()
    module = db.session.scalar(query)
    if module is None:
        raise NotFound(f"shared module {full_path(path)!r} not found", code=error_codes.NOT_FOUND)
    return module


def versions(module: SharedModule) -> list[SharedModuleVersion]:
    """The module's versions, newest first."""
    query = sa.select(SharedModuleVersion).where(SharedModuleVersion.module_id == module.id)
    return list(db.session.scalars(query.order_by(SharedModuleVersion.version.desc())))


def content_of(module: SharedModule, version: int) -> str:
    """The content of one of the module's versions; 404 for a version it never had."""
    if version == module.version:
        return module.content
    content = db.session.scalar(
        sa.select(SharedModuleVersion.content).where(
            SharedModuleVersion.module_id == module.id, SharedModuleVersion.version == version
        )
    )
    if content is None:
        raise NotFound(f"shared module {module.module_path!r} has no version {version}", code=error_codes.NOT_FOUND)
    return content


def create(path: str, content: str, description: str) -> SharedModule:
    path = full_path(path)
    if db.session.scalar(sa.select(SharedModule.id).where(SharedModule.module_path == path)) is not None:
        raise Conflict(f"shared module {path!r} already exists", code=error_codes.ALREADY_EXISTS)
    # A module's path is a file; none may also be a folder of another (`a.ts` and `a.ts/b.ts`).
    folders = [path[:index] for index, char in enumerate(path) if char == "/"][1:]
    clash = db.session.scalar(
        sa.select(SharedModule.module_path).where(
            SharedModule.module_path.in_(folders) | SharedModule.module_path.startswith(path + "/", autoescape=True)
        )
    )
    if clash is not None:
        raise Conflict(
            f"shared module {path!r} would be a file and a folder with {clash!r}", code=error_codes.ALREADY_EXISTS
        )
    actor_id, now = current_actor().id, utcnow()
    module = SharedModule(
        tenant_id=current_tenant_id(),
        module_path=path,
        content=content,
        description=description,
        version=1,
        created_by=actor_id,
        updated_by=actor_id,
        created_at=now,
        updated_at=now,
    )
    db.session.add(module)
    flush_or_conflict(f"shared module {path!r} already exists", error_codes.ALREADY_EXISTS)
    db.session.add(_version_row(module))
    audit.record("functions.shared_module_created", path, version=1)
    return module


def update(module: SharedModule, content: str | None, description: str | None) -> SharedModule:
    """Change what is given; new content (only when it differs) is a new version."""
    changed = []
    if description is not None and description != module.description:
        module.description = description
        changed.append("description")
    if content is not None and content != module.content:
        module.version += 1
        module.content = content
        db.session.add(_version_row(module))
        changed.append("content")
    if changed:
        module.updated_by, module.updated_at = current_actor().id, utcnow()
        flush_or_conflict(
            f"shared module {module.module_path!r} was just changed by another request; try again",
            error_codes.CONCURRENT_CHANGE,
        )
        audit.record("functions.shared_module_updated", module.module_path, version=module.version, fields=changed)
    return module


def delete(module: SharedModule) -> None:
    """Delete the module and its versions; functions bundled with it keep the copy in their bundle."""
    audit.record("functions.shared_module_deleted", module.module_path, version=module.version)
    db.session.execute(sa.delete(SharedModuleVersion).where(SharedModuleVersion.module_id == module.id))
    db.session.delete(module)
    db.session.flush()


def _version_row(module: SharedModule) -> SharedModuleVersion:
    return SharedModuleVersion(
        tenant_id=module.tenant_id,
        module_id=module.id,
        version=module.version,
        content=module.content,
        created_by=current_actor().id,
        created_at=utcnow(),
    )
