"""The built-in `functions` plugin: users' JavaScript/TypeScript run in sandboxed Deno workers (seed 003).

Definitions, versions and executions live in the plugin's tables (`models.py`); the
runtime is a named backend (`register_function_runtimes`, default `deno`) started once
per server process on first use; `invoke.py` turns a request into an invocation. The
plugin declares its own hooks (`hookspecs.py`) and settings (`config.py`).
"""

from __future__ import annotations

import atexit
from pathlib import Path

from flux.api import AdminPage, EncryptedColumn, delete_tenant_rows, hookimpl
from plugins.functions import dashboard, directives, function_env, hookspecs, loader
from plugins.functions.admin_api import admin_functions_api
from plugins.functions.api import functions_api
from plugins.functions.cli import functions_group
from plugins.functions.config import DEFAULTS
from plugins.functions.invoke import runtime_class
from plugins.functions.models import (
    EdgeFunction,
    FunctionBundle,
    FunctionExecution,
    FunctionVersion,
    SharedModule,
    SharedModuleVersion,
)
from plugins.functions.retention import PruneSchedule
from plugins.functions.runtime.deno import DenoRuntime
from plugins.functions.secret_layers import refuse_replaced_hooks
from plugins.functions.server_variables import allowed_names
from plugins.functions.shared_pages import pages as shared_module_pages

# gunicorn's worker timeout beyond the longest call a function may make.
WORKER_TIMEOUT_MARGIN_SECONDS = 30


@hookimpl
def register_hookspecs(manager):
    manager.add_hookspecs(hookspecs)


@hookimpl
def register_config_defaults():
    return DEFAULTS


@hookimpl
def register_scopes():
    return {
        "functions:read": "list functions, their versions, executions and logs",
        "functions:write": "create, change and delete functions",
        "functions:execute": "invoke functions that need a credential",
    }


@hookimpl
def register_blueprints(app):
    return [functions_api, admin_functions_api]


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
def delete_tenant_data(tenant_id):
    """Rows only: a warm worker of a deleted function idles out, and stored modules are shared by content."""
    delete_tenant_rows(
        tenant_id,
        FunctionExecution,
        FunctionVersion,
        FunctionBundle,
        EdgeFunction,
        SharedModuleVersion,
        SharedModule,
    )


@hookimpl
def register_function_runtimes():
    return [DenoRuntime]


@hookimpl
def register_dashboard_blueprints(app):
    return [dashboard.pages, shared_module_pages]


@hookimpl
def register_admin_pages(app):
    return [
        AdminPage("Functions", "dashboard.functions_pages.index", category="Functions", permission="tenant_admin"),
        AdminPage(
            "Shared modules", "dashboard.shared_modules_pages.index", category="Functions", permission="tenant_admin"
        ),
    ]


@hookimpl
def register_commands(cli):
    cli.add_command(functions_group)


@hookimpl
def before_serving(app):
    return loader.load_on_start(app)


@hookimpl
def startup(app):
    # Pick the runtime and read the allowlist now: a misspelled name stops start-up, not the first call.
    refuse_replaced_hooks(app.extensions["flux"].plugins)
    directives.check_defaults(app.config)
    state = {
        "runtime_class": runtime_class(app),
        "runtime": None,
        "allowed_env": allowed_names(app.config["FUNCTIONS_ALLOWED_ENV"]),
        "prune_schedule": PruneSchedule(app.config["FUNCTIONS_EXECUTION_PRUNE_EVERY"]),
    }
    app.extensions["functions"] = state
    # A worker silent for the longest call allowed must not be restarted by gunicorn.
    longest = app.config["FUNCTIONS_MAX_TIMEOUT_SECONDS"] + WORKER_TIMEOUT_MARGIN_SECONDS
    app.config["WORKER_TIMEOUT_SECONDS"] = max(app.config["WORKER_TIMEOUT_SECONDS"], longest)
    atexit.register(lambda: state["runtime"] and state["runtime"].close())
