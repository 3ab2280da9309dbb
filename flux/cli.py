"""The `fluxbase` command line: serve, database, keys and plugins; plugins add their own."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask

from flux.config import INSTANCE_PATH_VARIABLE, ConfigError, default_instance_path, load_layers
from flux.db import db as database
from flux.remote_cli import REMOTE_COMMANDS
from flux.version import __version__


def _use_instance(path: str | None) -> None:
    """Point this process and its children (gunicorn workers) at an instance folder."""
    if path:
        os.environ[INSTANCE_PATH_VARIABLE] = str(Path(path).resolve())


class FluxGroup(click.Group):
    """A group that also offers the commands plugins add through `register_commands`."""

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        if "plugin_commands" not in ctx.meta:
            from flux.plugins import build_plugin_manager

            _use_instance(ctx.params.get("instance"))
            config = load_layers(default_instance_path())
            extra = click.Group()
            try:
                build_plugin_manager(config["DISABLED_PLUGINS"], config["PLUGINS"]).hook.register_commands(cli=extra)
            except ConfigError:
                pass  # the failing command reports it properly when it builds the app
            ctx.meta["plugin_commands"] = extra.commands
        return ctx.meta["plugin_commands"]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_commands(ctx)})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self._plugin_commands(ctx).get(name)


def pass_app(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the app as its first argument; configuration errors become one clean line."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from flux.app import create_app

        try:
            app = create_app()
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
        try:
            return command(app, *args, **kwargs)
        finally:
            with app.app_context():
                database.engine.dispose()

    return wrapper


@click.group(cls=FluxGroup)
@click.option(
    "--instance",
    type=click.Path(file_okay=False),
    help="Instance folder (config.py, flux.sqlite, keys). Default: $FLUXBASE_INSTANCE_PATH or ./instance.",
)
@click.version_option(__version__, "--version", prog_name="fluxbase")
def cli(instance: str | None) -> None:
    """Fluxbase: a self-hosted backend server."""
    _use_instance(instance)


@cli.command()
def version() -> None:
    """Print the Fluxbase version."""
    click.echo(__version__)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=32, show_default=True, type=click.IntRange(1, 256), help="Threads per worker.")
@click.option("--instance", type=click.Path(file_okay=False), help="Instance folder (overrides the global option).")
@click.option("--dev", is_flag=True, help="Flask's development server with the reloader, instead of gunicorn.")
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def serve(host: str, port: int, workers: int, threads: int, instance: str | None, dev: bool, access_log: bool) -> None:
    """Apply pending migrations, then serve the API and dashboard."""
    _use_instance(instance)
    app = pass_app(_prepare_to_serve)()
    if dev:
        app.run(host=host, port=port, debug=True, use_reloader=True)
        return
    from flux.server import GunicornServer

    # gunicorn's control socket defaults to one path per user; two servers would fight over it.
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "errorlog": "-",
        "control_socket_disable": True,
        # gunicorn restarts a worker silent for `timeout` seconds; plugins raise it for long calls.
        "timeout": app.config["WORKER_TIMEOUT_SECONDS"],
    }
    if access_log:
        options["accesslog"] = "-"
    click.echo(f"Fluxbase {__version__} on http://{host}:{port} ({workers} workers), instance {app.instance_path}")
    GunicornServer(options).run()


def _refuse_mismatched_keys(app: Flask) -> None:
    """Stop before serving when this server's keys cannot open the key canary.

    Such a server would fail every read of a secret the others wrote, and seal new
    ones that they cannot open. Rather than serve that, it names the problem.
    """
    from flux.crypto import canary

    problem = canary.app_problem(app)
    if problem is not None:
        raise click.ClickException(
            f"encryption keys: {problem}. Give this server the keys the others use "
            "(FLUXBASE_ENCRYPTION_KEY and FLUXBASE_ENCRYPTION_PREVIOUS_KEYS, or the instance's encryption.keys); "
            "see the README's 'Encryption keys'."
        )


def _prepare_to_serve(app: Flask) -> Flask:
    """Apply pending migrations, store the key canary where there is none, then check the keys."""
    from flux import migrate
    from flux.crypto import canary

    pending = migrate.pending_heads(app)
    if pending:
        click.echo(f"Applying migrations ({', '.join(pending)})…")
        migrate.upgrade(app)
    canary.store_if_absent(app)  # a database migrated before the canary existed
    _refuse_mismatched_keys(app)
    for lines in app.extensions["flux"].plugins.hook.before_serving(app=app):
        for line in lines or []:
            click.echo(line)
    return app


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: Flask) -> None:
    """Apply every plugin's pending migrations."""
    from flux import migrate

    migrate.upgrade(app)
    click.echo("Database is up to date.")


@db.command("status")
@pass_app
def db_status(app: Flask) -> None:
    """List migration heads not yet applied; exit 1 when there are any."""
    from flux import migrate

    pending = migrate.pending_heads(app)
    click.echo("\n".join(pending) if pending else "Database is up to date.")
    sys.exit(1 if pending else 0)


@cli.group()
def keys() -> None:
    """Encryption keys."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new random key for FLUXBASE_ENCRYPTION_KEY (base64 of 32 bytes)."""
    from flux.crypto.keyring import encode_key, generate_key

    click.echo(encode_key(generate_key()))


@keys.command("rotate")
@click.option("--no-new-key", is_flag=True, help="Only re-encrypt values still under older keys.")
@pass_app
def keys_rotate(app: Flask, no_new_key: bool) -> None:
    """Make a new master key primary and re-encrypt every stored value under it.

    With a key file in the instance folder a new key is added to it; running servers
    pick it up by themselves. With FLUXBASE_ENCRYPTION_KEY, set the new key there and
    the old one in FLUXBASE_ENCRYPTION_PREVIOUS_KEYS, restart, then run this.
    """
    from flux.crypto import canary, count_pending, rotate_columns
    from flux.crypto.keyring import KEY_FILE_NAME, add_primary_key

    encryptor = app.extensions["flux"].encryptor
    if encryptor.keyring.from_file and not no_new_key:
        added = add_primary_key(encryptor.keyring, Path(app.instance_path) / KEY_FILE_NAME)
        click.echo(f"Added key {added.id}; it is now the primary key.")
    columns = [
        column
        for found in app.extensions["flux"].plugins.hook.register_encrypted_columns(app=app)
        for column in found or []
    ]
    with app.app_context():
        engine = database.engine
    total = count_pending(engine, columns, encryptor)
    click.echo(f"{total} value(s) in {len(columns)} column(s) to re-encrypt under key {encryptor.keyring.primary.id}.")
    with click.progressbar(length=total, label="Re-encrypting", show_pos=True) as bar:
        report = rotate_columns(engine, columns, encryptor, advance=bar.update)
    click.echo(f"Re-encrypted {report.rotated} value(s).")
    with engine.begin() as connection:
        if not canary.reseal(connection, encryptor):
            click.echo("the key canary does not open with these keys; it was left as it is", err=True)
    for where, reason in report.failed.items():
        click.echo(f"could not open {where}: {reason}", err=True)
    if report.failed or report.remaining:
        raise click.ClickException(
            f"{len(report.failed)} value(s) failed, {report.remaining} remain; "
            "run `fluxbase keys rotate --no-new-key` again"
        )


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def plugins_command(app: Flask, as_json: bool) -> None:
    """List loaded plugins, their kind, version and hooks."""
    described = app.extensions["flux"].plugins.describe()
    if as_json:
        click.echo(json.dumps([info.model_dump() for info in described], indent=2))
        return
    width = max(len(info.name) for info in described)
    for info in described:
        click.echo(f"{info.name:<{width}}  {info.kind:<11}  {info.version:<8}  {', '.join(info.hooks)}")


for remote_command in REMOTE_COMMANDS:
    cli.add_command(remote_command)


def main() -> None:
    cli(prog_name="fluxbase")
