"""The core's own endpoints: health checks and the list of loaded plugins."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify

from flux import db
from flux.auth.permissions import ADMIN_ROLES, require
from flux.hookspecs import hookimpl
from flux.version import __version__

core = Blueprint("core", __name__)


@core.get("/")
@core.get("/health")
def health():
    """Liveness and database reachability for load balancers; no authentication."""
    database_ok = db.ping()
    body = {"status": "ok" if database_ok else "degraded", "database": "ok" if database_ok else "error"}
    body["version"] = __version__
    return jsonify(body), 200 if database_ok else 503


@core.get("/api/v1/admin/plugins")
@require(*ADMIN_ROLES)
def list_plugins():
    """Loaded plugins, their versions and hooks."""
    plugins = current_app.extensions["flux"].plugins.describe()
    return jsonify([info.as_json() for info in plugins])


@hookimpl
def register_blueprints(app):
    return [core]


@hookimpl
def register_migrations():
    """The core branch: tenants, accounts, sessions, service keys."""
    return Path(__file__).parent / "migrations" / "versions"
