"""The built-in `functions` plugin: users' JavaScript/TypeScript run in sandboxed Deno workers (seed 003).

Definitions, versions and executions live in the plugin's tables (`models.py`); the
runtime is a named backend (`register_function_runtimes`, default `deno`) started once
per server process on first use; `invoke.py` turns a request into an invocation.
"""

from __future__ import annotations

import atexit
from pathlib import Path

from flux.api import AdminPage, EncryptedColumn, hookimpl
from plugins.functions import dashboard, function_env
from plugins.functions.api import functions_api
from plugins.functions.invoke import runtime_class
from plugins.functions.models import EdgeFunction
from plugins.functions.retention import PruneSchedule
from plugins.functions.runtime.deno import DenoRuntime
from plugins.functions.server_variables import allowed_names


@hookimpl
def register_blueprints(app):
    return [functions_api]


@hookimpl
def register_migrations():
    return Path(__file__).parent / "migrations"


@hookimpl
def register_encrypted_columns(app):
    return [
        EncryptedColumn(
            EdgeFunction.__table__,
            "encrypted_env",
            aad=lambda row: function_env.aad(row["tenant_id"], row["id"], row["env"] or []),
        )
    ]


@hookimpl
def register_function_runtimes():
    return [DenoRuntime]


@hookimpl
def register_dashboard_blueprints(app):
    return [dashboard.pages]


@hookimpl
def register_admin_pages(app):
    return [AdminPage("Functions", "dashboard.functions_pages.index", category="Functions", permission="tenant_admin")]


@hookimpl
def startup(app):
    # Pick the runtime and read the allowlist now: a misspelled name stops start-up, not the first call.
    state = {
        "runtime_class": runtime_class(app),
        "runtime": None,
        "allowed_env": allowed_names(app.config["FUNCTIONS_ALLOWED_ENV"]),
        "prune_schedule": PruneSchedule(app.config["FUNCTIONS_EXECUTION_PRUNE_EVERY"]),
    }
    app.extensions["functions"] = state
    atexit.register(lambda: state["runtime"] and state["runtime"].close())
