"""The built-in `settings` plugin: user settings with system fallback, encrypted secrets, app settings.

Settings and secrets live in one tenant-scoped table (`models.py`); `store.py` holds
the logic the APIs share; the functions runtime reads secrets one key at a time
through `read_invocation_secret`.
"""

from __future__ import annotations

from pathlib import Path

from flux.api import AdminPage, EncryptedColumn, delete_tenant_rows, hookimpl
from plugins.settings import dashboard, store
from plugins.settings.api_admin import admin_api
from plugins.settings.api_public import public_api
from plugins.settings.api_user import user_api
from plugins.settings.cli import settings_group
from plugins.settings.models import Setting


@hookimpl
def register_blueprints(app):
    # The user blueprint first: its `/user/…` and `/secret…` rules are more specific
    # than the public `/<path:key>`, and werkzeug prefers them whatever the order.
    return [user_api, admin_api, public_api]


@hookimpl
def register_migrations():
    return Path(__file__).parent / "migrations"


@hookimpl
def register_encrypted_columns(app):
    return [
        EncryptedColumn(
            Setting.__table__,
            "encrypted_value",
            aad=lambda row: store.setting_secret_aad(row["tenant_id"], row["user_id"], row["key"]),
            user_id=lambda row: row["user_id"],
        )
    ]


@hookimpl
def register_scopes():
    return {
        "settings:read": "read the tenant's system settings",
        "settings:write": "change the tenant's system settings and system secrets",
    }


# The functions plugin's hook: optional, so the plugin also loads without it.
@hookimpl(optionalhook=True)
def read_invocation_secret(tenant_id, user_id, name, layers):
    return store.invocation_setting_secret(tenant_id, user_id, name, layers)


@hookimpl
def register_commands(cli):
    cli.add_command(settings_group)


@hookimpl
def register_dashboard_blueprints(app):
    return [dashboard.pages]


@hookimpl
def register_admin_pages(app):
    return [
        AdminPage("System settings", "dashboard.settings_pages.index", category="Settings", permission="tenant_admin")
    ]


@hookimpl
def delete_tenant_data(tenant_id):
    delete_tenant_rows(tenant_id, Setting)
