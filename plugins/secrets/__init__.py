"""The built-in `secrets` plugin: function secrets with scopes, versions, rollback and expiry (seed 001).

Values are sealed with the core cipher (`store.py`); the functions runtime reads them
one name at a time through `read_invocation_secret` (the `function` and `env` layers),
and the whole `env` layer through `collect_invocation_env`.
"""

from __future__ import annotations

from pathlib import Path

from flux.api import AdminPage, EncryptedColumn, delete_tenant_rows, hookimpl
from plugins.secrets import dashboard, store
from plugins.secrets.api import admin_secrets_api, secrets_api
from plugins.secrets.cli import secrets_group
from plugins.secrets.models import FunctionSecret, SecretVersion


@hookimpl
def register_blueprints(app):
    return [secrets_api, admin_secrets_api]


@hookimpl
def register_migrations():
    return Path(__file__).parent / "migrations"


@hookimpl
def register_encrypted_columns(app):
    return [
        EncryptedColumn(
            FunctionSecret.__table__,
            "encrypted_value",
            aad=lambda row: store.value_aad(row["tenant_id"], row["scope"], row["namespace"], row["name"]),
        ),
        EncryptedColumn(
            SecretVersion.__table__,
            "encrypted_value",
            aad=lambda row: store.version_aad(row["tenant_id"], row["secret_id"], row["version"]),
        ),
    ]


@hookimpl
def register_scopes():
    return {
        "secrets:read": "list function secrets' metadata (never a value)",
        "secrets:write": "create, change, roll back and delete function secrets",
    }


# The functions plugin's hooks: optional, so the plugin also loads without them.
@hookimpl(optionalhook=True)
def read_invocation_secret(tenant_id, namespace, name, layers):
    return store.invocation_function_secret(tenant_id, namespace, name, layers)


@hookimpl(optionalhook=True)
def collect_invocation_env(tenant_id, namespace):
    return store.invocation_env(tenant_id, namespace)


@hookimpl
def register_commands(cli):
    cli.add_command(secrets_group)


@hookimpl
def register_dashboard_blueprints(app):
    return [dashboard.pages]


@hookimpl
def register_admin_pages(app):
    return [AdminPage("Secrets", "dashboard.secrets_pages.index", category="Functions", permission="tenant_admin")]


@hookimpl
def delete_tenant_data(tenant_id):
    delete_tenant_rows(tenant_id, SecretVersion, FunctionSecret)
