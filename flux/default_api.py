"""The core's own endpoints: health checks and the list of loaded plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from flask import current_app
from flask_openapi3 import Tag
from pydantic import Field

from flux import db, openapi
from flux.auth.permissions import ADMIN_ROLES, require
from flux.context import public
from flux.crypto import canary
from flux.hookspecs import hookimpl
from flux.openapi import ApiBlueprint
from flux.plugins import PluginInfo
from flux.schemas import ApiModel, Page, answer, list_of, paginated
from flux.version import __version__

core = ApiBlueprint("core", __name__, abp_tags=[Tag(name="server")])


class Health(ApiModel):
    """200 when everything is ok, 503 (same shape) when the server is degraded."""

    status: Literal["ok", "degraded"]
    database: Literal["ok", "error"]
    keys: Literal["ok", "error", "unknown"]
    version: str
    reason: str | None = Field(None, exclude_if=lambda reason: reason is None, description="Why, when degraded")


# Both paths, as the reference has them: `GET /` and `GET /health`.
@core.get("/", responses={200: Health, 503: Health})
@core.get("/health", responses={200: Health, 503: Health}, operation_id="core.health_detailed")
@public
def health():
    """Liveness, database reachability and matching keys, for load balancers; no authentication.

    `keys` is "error" when this server's encryption keys cannot open the key canary
    (`flux.crypto.canary`): it would fail every secret the other servers wrote.
    """
    try:
        keys_ok, database_ok = canary.read_problem(current_app) is None, True
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # unreachable, or not migrated yet
        database_ok = db.ping()
        keys_ok = database_ok
    healthy = database_ok and keys_ok
    reason = None
    if database_ok and not keys_ok:
        reason = "this server's encryption keys cannot open the key canary the other servers sealed"
    body = Health(
        status="ok" if healthy else "degraded",
        database="ok" if database_ok else "error",
        keys="ok" if keys_ok else ("error" if database_ok else "unknown"),
        version=__version__,
        reason=reason,
    )
    return answer(body, 200 if healthy else 503)


@core.get("/api/v1/admin/plugins", responses={200: list_of(PluginInfo)})
@require(*ADMIN_ROLES)
def list_plugins(query: Page):
    """Loaded plugins, their versions and hooks, by name."""
    plugins = current_app.extensions["flux"].plugins.describe()
    shown = plugins[query.offset : query.offset + query.limit]
    return paginated(shown, len(plugins))


@hookimpl
def register_blueprints(app):
    return [core, openapi.docs]


@hookimpl
def register_migrations():
    """The core branch: tenants, accounts, sessions, service keys."""
    return Path(__file__).parent / "migrations" / "versions"
