"""`fluxbase secrets …`: function secrets on a running server, over HTTP (seed 001).

Registered through `register_commands`, so disabling the plugin removes the commands.
"""

from __future__ import annotations

import click

from flux.api import ExpiresIn, json_option, pass_client, read_value, report, show_record, show_table
from plugins.secrets.client import SecretsClient

SECRET_COLUMNS = ("name", "scope", "namespace", "version", "expires_at", "is_expired", "updated_at", "description")
VERSION_COLUMNS = ("version", "is_current", "created_at", "created_by")
namespace_option = click.option("--namespace", help="The namespace; without it, the global secret.")


@click.group("secrets")
def secrets_group() -> None:
    """Function secrets (global or per namespace, versioned)."""


def _secret_label(name: str, namespace: str | None) -> str:
    return f"secret {name!r}" + (f" in namespace {namespace!r}" if namespace else "")


@secrets_group.command("list")
@click.option("--scope", type=click.Choice(["global", "namespace"]), help="Only secrets of this scope.")
@click.option("--namespace", help="Only secrets of this namespace.")
@json_option
@pass_client(SecretsClient)
def secrets_list(secrets: SecretsClient, scope: str | None, namespace: str | None, as_json: bool) -> None:
    """List secrets (names and metadata; values are never shown)."""
    show_table(secrets.list_secrets(scope, namespace), SECRET_COLUMNS, as_json, "No secrets.")


@secrets_group.command("set")
@click.argument("name")
@click.argument("value")
@click.option("--scope", type=click.Choice(["global", "namespace"]), help="Default: namespace with --namespace.")
@namespace_option
@click.option("--description", help="What the secret is for.")
@click.option("--expires", type=ExpiresIn(), help="Expire after this long: 30d, 12h, 90m, 2w, 1y.")
@json_option
@pass_client(SecretsClient)
def secrets_set(
    secrets: SecretsClient,
    name: str,
    value: str,
    scope: str | None,
    namespace: str | None,
    description: str | None,
    expires: str | None,
    as_json: bool,
) -> None:
    """Create a secret, or give an existing one a new version. VALUE `-` reads it from stdin."""
    if scope == "namespace" and not namespace:
        raise click.ClickException("--scope namespace needs --namespace NAME")
    metadata, created = secrets.set_secret(name, read_value(value), scope, namespace, description, expires)
    label = _secret_label(name, namespace)
    report(metadata, as_json, f"{'Created' if created else 'Updated'} {label} (version {metadata.get('version')}).")


@secrets_group.command("get")
@click.argument("name")
@namespace_option
@json_option
@pass_client(SecretsClient)
def secrets_get(secrets: SecretsClient, name: str, namespace: str | None, as_json: bool) -> None:
    """Show a secret's metadata (never its value)."""
    show_record(secrets.get_secret(name, namespace), as_json)


@secrets_group.command("delete")
@click.argument("name")
@namespace_option
@pass_client(SecretsClient)
def secrets_delete(secrets: SecretsClient, name: str, namespace: str | None) -> None:
    """Delete a secret with all its versions."""
    secrets.delete_secret(name, namespace)
    click.echo(f"Deleted {_secret_label(name, namespace)}.")


@secrets_group.command("history")
@click.argument("name")
@namespace_option
@json_option
@pass_client(SecretsClient)
def secrets_history(secrets: SecretsClient, name: str, namespace: str | None, as_json: bool) -> None:
    """List a secret's versions, newest first."""
    show_table(secrets.secret_versions(name, namespace), VERSION_COLUMNS, as_json, "No versions.")


@secrets_group.command("rollback")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@namespace_option
@json_option
@pass_client(SecretsClient)
def secrets_rollback(secrets: SecretsClient, name: str, version: int, namespace: str | None, as_json: bool) -> None:
    """Make an earlier version's value current again (stored as a new version)."""
    metadata = secrets.rollback_secret(name, version, namespace)
    label = _secret_label(name, namespace)
    report(metadata, as_json, f"Rolled back {label} to version {version}; it is now version {metadata.get('version')}.")
