"""The built-in `flags` plugin: seed 002's tenant settings by category and feature flags.

The categories' values are resolved by the core (`flux.tenant_settings`), which the
tenants plugin's `/admin/tenants/{id}/settings` shares; this plugin serves the seed's
API, brings the categories the core does not enforce, and keeps the feature flags;
its dashboard pages (Tenant settings, Feature flags) change both through the same code.
"""

from __future__ import annotations

from types import SimpleNamespace

from flux.api import AdminPage, TtlCache, flux_state, hookimpl
from plugins.flags import categories, evaluator, flag_pages, hookspecs, settings_pages, store
from plugins.flags.cli import add_settings_commands, flags_group
from plugins.flags.declared import SEED_FLAGS, merge_declared
from plugins.flags.flags_api import flags_api, segments_api
from plugins.flags.ofrep import ofrep
from plugins.flags.settings_api import seed_api, v1_api

COMPILED_TENANTS = 1000  # compiled flag sets kept per process (`evaluator.flag_set`)


@hookimpl
def register_hookspecs(manager):
    manager.add_hookspecs(hookspecs)


@hookimpl
def register_blueprints(app):
    return [seed_api, v1_api, flags_api, segments_api, ofrep]


@hookimpl
def register_dashboard_blueprints(app):
    return [settings_pages.pages, flag_pages.pages]


@hookimpl
def register_admin_pages(app):
    return [
        AdminPage(
            "Tenant settings", "dashboard.tenant_settings_pages.index", category="Settings", permission="tenant_admin"
        ),
        AdminPage("Feature flags", "dashboard.flags_pages.index", category="Settings", permission="tenant_admin"),
    ]


@hookimpl
def register_scopes():
    return {
        "tenant_settings:read": "read the tenant's settings by category and its feature flags",
        "tenant_settings:write": "change and reset the tenant's settings and turn feature flags on or off",
        "flags:read": "list custom flags and segments, and evaluate flags (OFREP)",
        "flags:write": "create, change and delete custom flags and segments",
    }


@hookimpl(trylast=True)
def register_commands(cli):
    """After the settings plugin's, whose `fluxbase settings` group then gains `get`, `set` and `reset`."""
    cli.add_command(flags_group)
    add_settings_commands(cli)


@hookimpl
def register_setting_categories():
    return categories.CATEGORIES


@hookimpl
def register_feature_flags():
    return SEED_FLAGS


@hookimpl
def delete_tenant_data(tenant_id):
    """The tenant's flag switches, custom flags and segments (its settings go with the tenants plugin's part)."""
    flux_state().store.clear(store.namespace(tenant_id))


@hookimpl
def startup(app):
    declared = merge_declared(app.extensions["flux"].plugins.answers_by_plugin("register_feature_flags"))
    app.extensions["flags"] = SimpleNamespace(declared=declared, compiled=TtlCache(float("inf"), COMPILED_TENANTS))


@hookimpl(optionalhook=True)
def collect_invocation_flags(tenant_id, context):
    """The functions plugin's `flags` object: every flag's value for the caller."""
    return evaluator.values_for(tenant_id, context)
