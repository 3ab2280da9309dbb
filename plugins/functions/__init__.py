"""The built-in `functions` plugin: users' JavaScript/TypeScript run in sandboxed Deno workers (seed 003).

Definitions, versions and executions live in the plugin's tables (`models.py`); the
runtime is a named backend (`register_function_runtimes`, default `deno`) started once
per server process on first use; `invoke.py` turns a request into an invocation.
"""

from __future__ import annotations

import atexit
from pathlib import Path

from flux import hookimpl
from flux.admin_pages import AdminPage
from plugins.functions import dashboard
from plugins.functions.api import functions_api
from plugins.functions.invoke import runtime_class
from plugins.functions.retention import PruneSchedule
from plugins.functions.runtime.deno import DenoRuntime


@hookimpl
def register_blueprints(app):
    return [functions_api]


@hookimpl
def register_migrations():
    return Path(__file__).parent / "migrations"


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
    # Pick the runtime now, so that a misspelled name stops start-up rather than the first call.
    state = {
        "runtime_class": runtime_class(app),
        "runtime": None,
        "prune_schedule": PruneSchedule(app.config["FUNCTIONS_EXECUTION_PRUNE_EVERY"]),
    }
    app.extensions["functions"] = state
    atexit.register(lambda: state["runtime"] and state["runtime"].close())
