"""The built-in `tenants` plugin: seed 004's tenant management, members and admins, tenant settings.

The tenants' rows and the scoping of every tenant-owned table stay in the core
(`flux.tenancy`); this plugin creates, changes, deletes and recovers tenants, manages
who administers them, and keeps each tenant's settings in the key-value store.
"""

from __future__ import annotations

from flux.api import AdminPage, hookimpl
from plugins.tenants import dashboard, store, switcher
from plugins.tenants.api import tenants_api
from plugins.tenants.cli import tenants_group


@hookimpl
def register_blueprints(app):
    return [tenants_api]


@hookimpl
def register_scopes():
    return {
        "tenants:read": "read the key's own tenant, its members and its settings",
        "tenants:write": "manage the key's own tenant's members and settings",
    }


@hookimpl
def register_commands(cli):
    cli.add_command(tenants_group)


@hookimpl
def delete_tenant_data(tenant_id):
    store.delete_settings(tenant_id)


@hookimpl
def register_dashboard_blueprints(app):
    return [dashboard.pages]


@hookimpl
def register_admin_pages(app):
    return [AdminPage("Tenants", "dashboard.tenants_pages.index", category="Access", permission="instance_admin")]


@hookimpl
def resolve_tenant(request, actor):
    return switcher.picked_tenant(request, actor)


@hookimpl
def startup(app):
    """The dashboard's header shows the tenant switcher (`templates/base.html`) where this offers one."""
    app.context_processor(lambda: {"flux_tenant_switcher": switcher.switcher})
