"""The built-in `flags` plugin: seed 002's tenant settings by category and feature flags.

The categories' values are resolved by the core (`flux.tenant_settings`), which the
tenants plugin's `/admin/tenants/{id}/settings` shares; this plugin serves the seed's
API, brings the categories the core does not enforce, and keeps the feature flags.
"""

from __future__ import annotations

from types import SimpleNamespace

from flux.api import hookimpl
from plugins.flags import categories, hookspecs
from plugins.flags.declared import SEED_FLAGS, merge_declared
from plugins.flags.settings_api import seed_api, v1_api


@hookimpl
def register_hookspecs(manager):
    manager.add_hookspecs(hookspecs)


@hookimpl
def register_blueprints(app):
    return [seed_api, v1_api]


@hookimpl
def register_scopes():
    return {
        "tenant_settings:read": "read the tenant's settings by category and its feature flags",
        "tenant_settings:write": "change and reset the tenant's settings and turn feature flags on or off",
    }


@hookimpl
def register_setting_categories():
    return categories.CATEGORIES


@hookimpl
def register_feature_flags():
    return SEED_FLAGS


@hookimpl
def startup(app):
    declared = merge_declared(app.extensions["flux"].plugins.answers_by_plugin("register_feature_flags"))
    app.extensions["flags"] = SimpleNamespace(declared=declared)
