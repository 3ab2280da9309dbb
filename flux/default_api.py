"""The core's own endpoints: health checks and the list of loaded plugins."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify

from flux import db, openapi
from flux.auth.permissions import ADMIN_ROLES, require
from flux.crypto import canary
from flux.hookspecs import hookimpl
from flux.version import __version__

core = Blueprint("core", __name__)


@core.get("/")
@core.get("/health")
def health():
    """Liveness, database reachability and matching keys, for load balancers; no authentication.

    `keys` is "error" when this server's encryption keys cannot open the key canary
    (`flux.crypto.canary`): it would fail every secret the other servers wrote.
    """
    database_ok = db.ping()
    keys_ok = database_ok and canary.app_problem(current_app) is None
    healthy = database_ok and keys_ok
    body = {
        "status": "ok" if healthy else "degraded",
        "database": "ok" if database_ok else "error",
        "keys": "ok" if keys_ok else ("error" if database_ok else "unknown"),
        "version": __version__,
    }
    if database_ok and not keys_ok:
        body["reason"] = "this server's encryption keys cannot open the key canary the other servers sealed"
    return jsonify(body), 200 if healthy else 503


@core.get("/api/v1/admin/plugins")
@require(*ADMIN_ROLES)
def list_plugins():
    """Loaded plugins, their versions and hooks."""
    plugins = current_app.extensions["flux"].plugins.describe()
    return jsonify([info.as_json() for info in plugins])


@hookimpl
def register_blueprints(app):
    return [core, openapi.docs]


@hookimpl
def register_migrations():
    """The core branch: tenants, accounts, sessions, service keys."""
    return Path(__file__).parent / "migrations" / "versions"
