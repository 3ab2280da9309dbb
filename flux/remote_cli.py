"""`fluxbase login`, `logout`, `secrets` and `settings secrets`: manage a running server from a shell.

These commands talk HTTP to a server (`flux.client`) and never open a database, so they
work from any machine. Secret values go one way only: from an argument or stdin (`-`,
which keeps them out of shell history) to the server. No command prints a value; the
server never returns one.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from flux.client import ClientError, FluxClient
from flux.remote_config import (
    TENANT_VARIABLE,
    URL_VARIABLE,
    connect,
    forget_config,
    load_config,
    save_config,
    saved_client,
)

READ_STDIN = "-"
SECRET_COLUMNS = ("name", "scope", "namespace", "version", "expires_at", "is_expired", "updated_at", "description")
VERSION_COLUMNS = ("version", "is_current", "created_at", "created_by")
SETTING_SECRET_COLUMNS = ("key", "description", "updated_at")
DURATION_UNITS = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "y": timedelta(days=365),
}
HINTS = {
    401: "sign in again with `fluxbase login --url URL`",
    "APP_USER_REQUIRED": "your own secrets need an app user: `fluxbase login --app-user`",
}


class ExpiresIn(click.ParamType):
    """`30d` and the like (s, m for minutes, h, d, w, y = 365 d), turned into an RFC 3339 UTC time."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        match = re.fullmatch(r"([1-9][0-9]{0,8})([smhdwy])", str(value).strip())
        if not match:
            self.fail(f"{value!r} is not a duration such as 90m, 12h, 30d, 2w or 1y", param, ctx)
        try:
            return (datetime.now(UTC) + int(match[1]) * DURATION_UNITS[match[2]]).strftime("%Y-%m-%dT%H:%M:%SZ")
        except OverflowError:
            self.fail(f"{value!r} is too far in the future", param, ctx)


def _one_line(error: ClientError) -> click.ClickException:
    """The error as `Error: <message> (<status> <code>)`, with what to do where that is clear."""
    hint = HINTS.get(error.code or "") or HINTS.get(error.status or 0)
    return click.ClickException(f"{error}; {hint}" if hint else str(error))


tenant_option = click.option("--tenant", envvar=TENANT_VARIABLE, help="Tenant slug or id to act in (X-FB-Tenant).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the server's JSON answer.")
namespace_option = click.option("--namespace", help="The namespace; without it, the global secret.")


def pass_client(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command a connected `FluxClient` (with `--tenant`); any `ClientError` becomes one line."""

    @tenant_option
    @functools.wraps(command)
    def wrapper(*args: Any, tenant: str | None, **kwargs: Any) -> Any:
        try:
            return command(connect(tenant), *args, **kwargs)
        except ClientError as error:
            raise _one_line(error) from None

    return wrapper


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def show_table(rows: list[dict[str, Any]], columns: Sequence[str], as_json: bool, empty: str) -> None:
    """Rows as aligned columns for people, or as JSON for scripts."""
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(empty)
        return
    table = [[name.upper() for name in columns]] + [[_cell(row.get(name)) for name in columns] for row in rows]
    widths = [max(len(line[index]) for line in table) for index in range(len(table[0]))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def show_record(record: dict[str, Any], as_json: bool) -> None:
    """One object as `field  value` lines, or as JSON."""
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    width = max(map(len, record), default=0)
    for name, value in record.items():
        click.echo(f"{name:<{width}}  {_cell(value)}")


def report(metadata: dict[str, Any], as_json: bool, sentence: str) -> None:
    """What a change did: the server's JSON with --json, else one sentence."""
    click.echo(json.dumps(metadata, indent=2) if as_json else sentence)


def _value(argument: str) -> str:
    """The VALUE argument, or stdin for `-` (less one trailing newline, as `echo` adds one)."""
    if argument != READ_STDIN:
        return argument
    text = sys.stdin.read()
    return text[:-1] if text.endswith("\n") else text


# -- signing in ----------------------------------------------------------------------------


@click.command()
@click.option("--url", envvar=URL_VARIABLE, required=True, help="The server, e.g. https://flux.example.com.")
@tenant_option
@click.option("--email", help="Sign in as this account (asked for when not given).")
@click.option("--app-user", is_flag=True, help="Sign in as an app user (needed for `settings secrets --user`).")
@click.option("--service-key-stdin", is_flag=True, help="Read a service key from stdin instead of signing in.")
def login(url: str, tenant: str | None, email: str | None, app_user: bool, service_key_stdin: bool) -> None:
    """Sign in to a server; the other remote commands then use it.

    Dashboard administrators sign in by default; `--app-user` signs in an app user. The
    password is always asked for, never taken as an argument.
    """
    if service_key_stdin and (app_user or email):
        raise click.UsageError("--service-key-stdin does not go with --app-user or --email")
    client = FluxClient(url, tenant=tenant, app_user=app_user)
    try:
        if service_key_stdin:
            client.service_key = sys.stdin.readline().strip()
            if not client.service_key:
                raise click.UsageError("no service key on stdin")
            client.check_service_key()
            credentials: dict[str, Any] = {"service_key": client.service_key}
            who = "a service key"
        else:
            email = email or click.prompt("E-mail")
            answer = client.login(email, click.prompt("Password", hide_input=True))
            who = answer["user"].get("email", email)
            credentials = {
                "account": "user" if app_user else "admin",
                "email": who,
                "access_token": answer["access_token"],
                "refresh_token": answer["refresh_token"],
            }
    except ClientError as error:
        raise click.ClickException(str(error)) from None
    path = save_config({"url": client.url, "tenant": tenant, **credentials})
    click.echo(f"Logged in to {client.url} as {who} (saved in {path}).")


@click.command()
def logout() -> None:
    """End the session on the server and forget the saved credentials (even when the server fails)."""
    config: dict[str, Any] = {}
    try:
        config = load_config()
        if config:
            saved_client(config).logout()
    except ClientError as error:
        click.echo(f"Warning: the session may still be open on the server: {error}", err=True)
    forget_config()
    click.echo(f"Logged out of {config['url']}." if config.get("url") else "Not logged in.")


# -- function secrets -------------------------------------------------------------------------


@click.group("secrets")
def secrets_group() -> None:
    """Function secrets (global or per namespace, versioned)."""


def _secret_label(name: str, namespace: str | None) -> str:
    return f"secret {name!r}" + (f" in namespace {namespace!r}" if namespace else "")


@secrets_group.command("list")
@click.option("--scope", type=click.Choice(["global", "namespace"]), help="Only secrets of this scope.")
@click.option("--namespace", help="Only secrets of this namespace.")
@json_option
@pass_client
def secrets_list(client: FluxClient, scope: str | None, namespace: str | None, as_json: bool) -> None:
    """List secrets (names and metadata; values are never shown)."""
    show_table(client.list_secrets(scope, namespace), SECRET_COLUMNS, as_json, "No secrets.")


@secrets_group.command("set")
@click.argument("name")
@click.argument("value")
@click.option("--scope", type=click.Choice(["global", "namespace"]), help="Default: namespace with --namespace.")
@namespace_option
@click.option("--description", help="What the secret is for.")
@click.option("--expires", type=ExpiresIn(), help="Expire after this long: 30d, 12h, 90m, 2w, 1y.")
@json_option
@pass_client
def secrets_set(
    client: FluxClient,
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
    metadata, created = client.set_secret(name, _value(value), scope, namespace, description, expires)
    label = _secret_label(name, namespace)
    report(metadata, as_json, f"{'Created' if created else 'Updated'} {label} (version {metadata.get('version')}).")


@secrets_group.command("get")
@click.argument("name")
@namespace_option
@json_option
@pass_client
def secrets_get(client: FluxClient, name: str, namespace: str | None, as_json: bool) -> None:
    """Show a secret's metadata (never its value)."""
    show_record(client.get_secret(name, namespace), as_json)


@secrets_group.command("delete")
@click.argument("name")
@namespace_option
@pass_client
def secrets_delete(client: FluxClient, name: str, namespace: str | None) -> None:
    """Delete a secret with all its versions."""
    client.delete_secret(name, namespace)
    click.echo(f"Deleted {_secret_label(name, namespace)}.")


@secrets_group.command("history")
@click.argument("name")
@namespace_option
@json_option
@pass_client
def secrets_history(client: FluxClient, name: str, namespace: str | None, as_json: bool) -> None:
    """List a secret's versions, newest first."""
    show_table(client.secret_versions(name, namespace), VERSION_COLUMNS, as_json, "No versions.")


@secrets_group.command("rollback")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@namespace_option
@json_option
@pass_client
def secrets_rollback(client: FluxClient, name: str, version: int, namespace: str | None, as_json: bool) -> None:
    """Make an earlier version's value current again (stored as a new version)."""
    metadata = client.rollback_secret(name, version, namespace)
    label = _secret_label(name, namespace)
    report(metadata, as_json, f"Rolled back {label} to version {version}; it is now version {metadata.get('version')}.")


# -- settings secrets ---------------------------------------------------------------------------


@click.group("settings")
def settings_group() -> None:
    """Settings kept on the server."""


@settings_group.group("secrets")
def setting_secrets() -> None:
    """Write-only settings secrets: the tenant's system secrets, or with --user your own."""


user_option = click.option("--user", is_flag=True, help="Your own secrets (signed in with --app-user).")


def _setting_label(key: str, user: bool) -> str:
    return f"{'your secret' if user else 'system secret'} {key!r}"


@setting_secrets.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--description", help="What the secret is for.")
@user_option
@json_option
@pass_client
def setting_secrets_set(
    client: FluxClient, key: str, value: str, description: str | None, user: bool, as_json: bool
) -> None:
    """Create a secret, or replace an existing one's value. VALUE `-` reads it from stdin."""
    metadata, created = client.set_setting_secret(key, _value(value), description, user)
    report(metadata, as_json, f"{'Created' if created else 'Updated'} {_setting_label(key, user)}.")


@setting_secrets.command("list")
@user_option
@json_option
@pass_client
def setting_secrets_list(client: FluxClient, user: bool, as_json: bool) -> None:
    """List secrets (keys and metadata; values are never shown)."""
    show_table(client.list_setting_secrets(user), SETTING_SECRET_COLUMNS, as_json, "No secrets.")


@setting_secrets.command("get")
@click.argument("key")
@user_option
@json_option
@pass_client
def setting_secrets_get(client: FluxClient, key: str, user: bool, as_json: bool) -> None:
    """Show a secret's metadata (never its value)."""
    show_record(client.get_setting_secret(key, user), as_json)


@setting_secrets.command("delete")
@click.argument("key")
@user_option
@pass_client
def setting_secrets_delete(client: FluxClient, key: str, user: bool) -> None:
    """Delete a secret."""
    client.delete_setting_secret(key, user)
    click.echo(f"Deleted {_setting_label(key, user)}.")


REMOTE_COMMANDS = (login, logout, secrets_group, settings_group)
