"""`fluxbase functions …`: deploy a functions folder, and list, invoke and read the logs of functions, over HTTP.

Registered through `register_commands`, so disabling the plugin removes the commands.
A function's env values are write-only on the server: no answer these commands print
holds one. `deploy` sends a folder laid out as seed 003 says (`folder.py`): its shared
modules one by one, then its functions in one sync, one transaction.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import click
import requests

from flux.api import ClientError, json_option, pass_client, read_value, show_table
from plugins.functions.client import EXECUTION_HEADER, FunctionsClient
from plugins.functions.dashboard import log_text
from plugins.functions.folder import FolderError, FunctionsFolder, read_folder
from plugins.functions.schemas import MAX_SYNCED_FUNCTIONS

FUNCTION_COLUMNS = ("name", "namespace", "version", "enabled", "last_execution_status", "is_bundled", "updated_at")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_EXECUTIONS = 1000  # the most the executions list answers at once
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # FLUXBASE_MAX_BODY_BYTES unless the server sets it
SYNC_KINDS = ("created", "updated", "deleted", "unchanged")
namespace_option = click.option("--namespace", help="The namespace; `default` when not given.")


@click.group("functions")
def functions_group() -> None:
    """Edge functions: deploy a folder, list, invoke, read their logs."""


@functions_group.command("list")
@click.option("--namespace", help="Only this namespace's functions; all when not given.")
@json_option
@pass_client(FunctionsClient)
def functions_list(functions: FunctionsClient, namespace: str | None, as_json: bool) -> None:
    """List functions (no code; env by name only, never its values)."""
    show_table(functions.list_functions(namespace), FUNCTION_COLUMNS, as_json, "No functions.")


# -- invoke ----------------------------------------------------------------------------------


def _headers(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    """`Name: value` options as a dict (as curl's -H takes them)."""
    headers = {}
    for value in values:
        name, colon, text = value.partition(":")
        if not colon or not name.strip():
            raise click.BadParameter(f"{value!r} is not `Name: value`")
        headers[name.strip()] = text.strip()
    return headers


def _body(data: str | None, headers: dict[str, str]) -> bytes | None:
    """`--data` as sent: JSON unless a Content-Type header says otherwise, so a typo is not sent as text.

    Checked JSON gets its Content-Type added to `headers`.
    """
    if data is None:
        return None
    text = read_value(data)
    if not any(name.lower() == "content-type" for name in headers):
        try:
            json.loads(text)
        except ValueError as error:
            raise click.BadParameter(
                f"not JSON ({error}); to send it as it is, give its type: --header 'Content-Type: text/plain'",
                param_hint="--data",
            ) from None
        headers["Content-Type"] = "application/json"
    return text.encode()


def _show_answer(response: requests.Response, include: bool, as_json: bool) -> None:
    """The function's answer: the body on stdout; the status on stderr, or before the body with `--include`."""
    status = f"HTTP {response.status_code} {response.reason}"
    if as_json:
        shown = {"status": response.status_code, "headers": dict(response.headers), "body": response.text}
        click.echo(json.dumps(shown, indent=2))
        return
    if include:
        click.echo("\n".join([status, *(f"{name}: {value}" for name, value in response.headers.items()), ""]))
    else:
        click.echo(f"{status} (execution {response.headers[EXECUTION_HEADER]})", err=True)
    body = response.content  # bytes, written as they came
    click.echo(body, nl=bool(body) and not body.endswith(b"\n") and sys.stdout.isatty())  # the prompt on a new line


@functions_group.command("invoke")
@click.argument("name")
@namespace_option
@click.option("--data", "-d", help="The body: JSON, or `-` to read it from stdin (the function gets it as it is).")
@click.option("--method", "-X", type=click.Choice(METHODS, case_sensitive=False), default="POST", show_default=True)
@click.option("--header", "-H", "headers", multiple=True, callback=_headers, help="`Name: value`; may be repeated.")
@click.option("--include", "-i", is_flag=True, help="Print the status line and headers before the body, as curl -i.")
@json_option
@pass_client(FunctionsClient)
def functions_invoke(
    functions: FunctionsClient,
    name: str,
    namespace: str | None,
    data: str | None,
    method: str,
    headers: dict[str, str],
    include: bool,
    as_json: bool,
) -> None:
    """Call a function (NAME, or NAMESPACE/NAME) and print its answer; exit 1 when its status is 400 or above."""
    if namespace and "/" in name:
        raise click.UsageError("give the namespace once: NAMESPACE/NAME or --namespace, not both")
    reference = f"{namespace}/{name}" if namespace else name
    response = functions.invoke(reference, method.upper(), _body(data, headers), headers)
    _show_answer(response, include, as_json)
    if response.status_code >= 400:
        sys.exit(1)


# -- logs ------------------------------------------------------------------------------------


def _show_execution(execution: dict[str, Any]) -> None:
    """One execution: a heading line, then its console lines and error, indented."""
    click.echo(
        f"{execution['started_at']}  {execution['status']} {execution['status_code']}"
        f"  {execution['duration_ms']:.0f} ms  version {execution['version']}  {execution['id']}"
    )
    lines = log_text(execution["logs"])
    if execution["logs_truncated"]:
        lines += "\n(later lines were not kept)"
    if execution["error"]:
        lines += f"\n{execution['error']}"
    if lines.strip():
        click.echo(textwrap.indent(lines.strip("\n"), "  "))


@functions_group.command("logs")
@click.argument("name")
@namespace_option
@click.option("--limit", type=click.IntRange(1, MAX_EXECUTIONS), default=20, show_default=True, help="Executions.")
@json_option
@pass_client(FunctionsClient)
def functions_logs(functions: FunctionsClient, name: str, namespace: str | None, limit: int, as_json: bool) -> None:
    """Show a function's last executions, oldest first, with their console lines (time UTC, level, message)."""
    executions = functions.executions(name, namespace, limit)
    if as_json:
        click.echo(json.dumps(executions, indent=2))
        return
    if not executions:
        click.echo("No executions.")
    for execution in reversed(executions):
        _show_execution(execution)


# -- deploy ----------------------------------------------------------------------------------


def _read(root: Path) -> FunctionsFolder:
    if not root.is_dir():
        raise click.ClickException(f"{root} is not a folder: give the functions folder (hello.ts, _shared/, …)")
    try:
        folder = read_folder(root)
    except FolderError as error:
        raise click.ClickException(str(error)) from None
    for line in folder.skipped:
        click.echo(f"Warning: skipped {line}", err=True)
    if len(folder.functions) > MAX_SYNCED_FUNCTIONS:
        raise click.ClickException(
            f"{root} has {len(folder.functions)} functions; one deploy takes at most {MAX_SYNCED_FUNCTIONS}: "
            "split it into folders and deploy each into a namespace of its own"
        )
    return folder


def _too_large(error: ClientError, size: int) -> click.ClickException | None:
    """What to do when the server refuses a sync request for its size (413), or drops one larger than the default."""
    if error.status != 413 and not (error.status is None and size > DEFAULT_MAX_BODY_BYTES):
        return None
    why = "the server refused it" if error.status == 413 else f"the server may have refused it ({error})"
    return click.ClickException(
        f"the folder is {size / 1024 / 1024:.1f} MB in one sync request and {why}: the server takes bodies "
        "up to FLUXBASE_MAX_BODY_BYTES (10 MB unless set); raise it on the server, or split the folder "
        "and deploy each part into a namespace of its own"
    )


def _summary(answer: dict[str, Any], modules: dict[str, str]) -> str:
    """`Created 2, updated 1, deleted 0, unchanged 3 in namespace default`, then the names of each kind."""
    counts = ", ".join(f"{kind} {answer['summary'][kind]}" for kind in SYNC_KINDS)
    lines = [f"{counts[0].upper()}{counts[1:]} in namespace {answer['namespace']}."]
    lines += [f"  {kind}: {', '.join(names)}" for kind, names in answer["details"].items() if names]
    if modules:
        lines.append("Shared modules: " + ", ".join(f"{path} {change}" for path, change in modules.items()) + ".")
    if answer["dry_run"]:
        lines.append("Dry run: that is what a deploy would do; nothing was changed.")
    return "\n".join(lines)


@functions_group.command("deploy")
@click.argument("folder", type=click.Path(path_type=Path))
@namespace_option
@click.option("--delete-missing", is_flag=True, help="Delete the namespace's functions the folder does not have.")
@click.option("--dry-run", is_flag=True, help="Say what would change, and change nothing.")
@json_option
@pass_client(FunctionsClient)
def functions_deploy(
    functions: FunctionsClient,
    folder: Path,
    namespace: str | None,
    delete_missing: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Deploy a functions folder: its `_shared/` modules, then all its functions in one transaction.

    A function that does not compile stops the deploy, and nothing of the sync is changed.
    """
    contents = _read(folder)
    if delete_missing and not contents.functions:
        raise click.ClickException(f"{folder} has no functions: --delete-missing would delete the whole namespace")
    if delete_missing and contents.unread:
        unread = ", ".join(contents.unread)
        raise click.ClickException(
            f"{unread} could not be read (see the warnings): --delete-missing would delete them; mend them first"
        )
    items = [function.as_sync_item() for function in contents.functions]
    size = len(json.dumps(items).encode())
    modules: dict[str, str] = {}
    hidden = not sys.stderr.isatty()
    steps = len(contents.modules) + 1
    with click.progressbar(length=steps, label=f"Deploying {folder}", file=sys.stderr, hidden=hidden) as bar:
        for path, content in contents.modules.items():
            bar.label = f"Shared module {path}"
            modules[path] = functions.put_shared_module(path, content, dry_run)
            bar.update(1)
        bar.label = f"Checking and bundling {len(items)} functions"
        bar.render_progress()
        try:
            answer = functions.sync(namespace, items, delete_missing, dry_run)
        except ClientError as error:
            raise (_too_large(error, size) or error) from None
        bar.update(1)
    if as_json:
        click.echo(json.dumps({**answer, "shared_modules": modules}, indent=2))
    else:
        click.echo(_summary(answer, modules))
