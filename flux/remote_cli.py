"""`fluxbase login` and `logout`, and what plugins' remote commands share: manage a running server from a shell.

These commands talk HTTP to a server (`flux.client`) and never open a database, so they
work from any machine. Plugins add theirs through `register_commands` (`fluxbase
secrets`, `fluxbase settings secrets`) with the helpers below: `pass_client`, tables,
records and `read_value`. Secret values go one way only: from an argument or stdin
(`-`, which keeps them out of shell history) to the server. No command prints a value;
the server never returns one.
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


def pass_client(api: Callable[[FluxClient], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command `api(client)` for a connected `FluxClient` (with `--tenant`).

    `api` is a plugin's client class (`SecretsClient`); any `ClientError` becomes one line.
    """

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @tenant_option
        @functools.wraps(command)
        def wrapper(*args: Any, tenant: str | None, **kwargs: Any) -> Any:
            try:
                return command(api(connect(tenant)), *args, **kwargs)
            except ClientError as error:
                raise _one_line(error) from None

        return wrapper

    return decorate


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


def read_value(argument: str) -> str:
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


REMOTE_COMMANDS = (login, logout)
