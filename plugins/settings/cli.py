"""`fluxbase settings secrets …`: write-only settings secrets on a running server, over HTTP.

Registered through `register_commands`, so disabling the plugin removes the commands.
"""

from __future__ import annotations

import click

from flux.api import json_option, pass_client, read_value, report, show_record, show_table
from plugins.settings.client import SettingSecretsClient

SETTING_SECRET_COLUMNS = ("key", "description", "updated_at")
user_option = click.option("--user", is_flag=True, help="Your own secrets (signed in with --app-user).")


@click.group("settings")
def settings_group() -> None:
    """Settings kept on the server."""


@settings_group.group("secrets")
def setting_secrets() -> None:
    """Write-only settings secrets: the tenant's system secrets, or with --user your own."""


def _setting_label(key: str, user: bool) -> str:
    return f"{'your secret' if user else 'system secret'} {key!r}"


@setting_secrets.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--description", help="What the secret is for.")
@user_option
@json_option
@pass_client(SettingSecretsClient)
def setting_secrets_set(
    secrets: SettingSecretsClient, key: str, value: str, description: str | None, user: bool, as_json: bool
) -> None:
    """Create a secret, or replace an existing one's value. VALUE `-` reads it from stdin."""
    metadata, created = secrets.set_setting_secret(key, read_value(value), description, user)
    report(metadata, as_json, f"{'Created' if created else 'Updated'} {_setting_label(key, user)}.")


@setting_secrets.command("list")
@user_option
@json_option
@pass_client(SettingSecretsClient)
def setting_secrets_list(secrets: SettingSecretsClient, user: bool, as_json: bool) -> None:
    """List secrets (keys and metadata; values are never shown)."""
    show_table(secrets.list_setting_secrets(user), SETTING_SECRET_COLUMNS, as_json, "No secrets.")


@setting_secrets.command("get")
@click.argument("key")
@user_option
@json_option
@pass_client(SettingSecretsClient)
def setting_secrets_get(secrets: SettingSecretsClient, key: str, user: bool, as_json: bool) -> None:
    """Show a secret's metadata (never its value)."""
    show_record(secrets.get_setting_secret(key, user), as_json)


@setting_secrets.command("delete")
@click.argument("key")
@user_option
@pass_client(SettingSecretsClient)
def setting_secrets_delete(secrets: SettingSecretsClient, key: str, user: bool) -> None:
    """Delete a secret."""
    secrets.delete_setting_secret(key, user)
    click.echo(f"Deleted {_setting_label(key, user)}.")
