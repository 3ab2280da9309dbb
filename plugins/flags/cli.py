"""`fluxbase flags …` and `fluxbase settings get|set|reset`: feature flags and tenant settings, over HTTP.

Registered through `register_commands`, so disabling the plugin removes the commands.
Values are printed and given as JSON (`12`, `true`, `"text"`, `["a"]`), so what
`settings get` prints can be given back to `settings set`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import IO, Any

import click

from flux.api import json_option, pass_client, report, show_record, show_table
from plugins.flags.client import FlagsClient

FLAG_COLUMNS = ("key", "kind", "enabled", "type", "description")


def _json_object(ctx: click.Context, param: click.Parameter, value: str | IO[str] | None) -> dict[str, Any] | None:
    """An option's JSON object, from its text or, for a file option, the file's."""
    if value is None:
        return None
    try:
        parsed = json.loads(value if isinstance(value, str) else value.read())
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("not a JSON object")
    return parsed


def _json_or_text(text: str) -> Any:
    """`12`, `true`, `null`, `["a"]` as JSON; anything that does not parse (`Acme`) as the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- flags -------------------------------------------------------------------------------


@click.group("flags")
def flags_group() -> None:
    """Feature flags: the ones the code declares, and the tenant's custom flags."""


def _flag_row(flag: dict[str, Any], kind: str, flag_type: str, description: str) -> dict[str, Any]:
    return {"key": flag["key"], "kind": kind, "enabled": flag["enabled"], "type": flag_type, "description": description}


@flags_group.command("list")
@json_option
@pass_client(FlagsClient)
def flags_list(flags: FlagsClient, as_json: bool) -> None:
    """List declared and custom flags together, by key."""
    rows = [_flag_row(flag, "declared", "boolean", flag["description"]) for flag in flags.feature_flags()]
    rows += [
        _flag_row(flag, "custom", flag["type"], flag["description"] or flag["display_name"])
        for flag in flags.list_flags()
    ]
    rows.sort(key=lambda row: row["key"])
    show_table(rows, FLAG_COLUMNS, as_json, "No flags.")


def _switch_command(name: str, enabled: bool) -> None:
    """`enable` or `disable`: a declared flag is switched in the settings API, a custom one patched."""

    @flags_group.command(name, help=f"Turn a flag {'on' if enabled else 'off'} for the tenant (declared or custom).")
    @click.argument("key")
    @json_option
    @pass_client(FlagsClient)
    def switch(flags: FlagsClient, key: str, as_json: bool) -> None:
        declared = any(flag["key"] == key for flag in flags.feature_flags())
        answer = flags.switch_feature_flag(key, enabled) if declared else flags.change_flag(key, {"enabled": enabled})
        kind = "declared" if declared else "custom"
        report(answer, as_json, f"{name.capitalize()}d {kind} flag {key!r}.")


_switch_command("enable", True)
_switch_command("disable", False)


@flags_group.command("evaluate")
@click.argument("key")
@click.option("--context", callback=_json_object, help='The evaluation context, e.g. \'{"targetingKey": "u1"}\'.')
@json_option
@pass_client(FlagsClient)
def flags_evaluate(flags: FlagsClient, key: str, context: dict[str, Any] | None, as_json: bool) -> None:
    """Evaluate a flag as OpenFeature SDKs do (OFREP): value, variant and reason."""
    answer = flags.evaluate(key, context)
    shown = {"value": json.dumps(answer["value"]), "variant": answer["variant"], "reason": answer["reason"]}
    show_record(answer if as_json else shown, as_json)


# -- settings by category -------------------------------------------------------------------


def _dotted(values: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Each leaf of nested values with its dotted path (`password_policy.min_length`)."""
    for name, value in values.items():
        if isinstance(value, dict) and value:
            yield from _dotted(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def _nested(assignments: tuple[str, ...]) -> dict[str, Any]:
    """`PATH=VALUE` arguments as the body they mean: `a.b=12 a.c=x` is `{"a": {"b": 12, "c": "x"}}`."""
    body: dict[str, Any] = {}
    for assignment in assignments:
        path, equals, text = assignment.partition("=")
        if not equals or not path:
            raise click.UsageError(f"{assignment!r} is not PATH=VALUE")
        *groups, leaf = path.split(".")
        node = body
        for group in groups:
            node = node.setdefault(group, {})
            if not isinstance(node, dict):
                raise click.UsageError(f"{path!r} goes inside a value given by another PATH=VALUE")
        if leaf in node:
            raise click.UsageError(f"{path!r} is given twice, or inside another PATH=VALUE")
        node[leaf] = _json_or_text(text)
    return body


@click.command("get")
@click.argument("category", required=False)
@json_option
@pass_client(FlagsClient)
def settings_get(flags: FlagsClient, category: str | None, as_json: bool) -> None:
    """Show the settings of every category, or of CATEGORY, as `path = value` lines."""
    values = flags.get_settings(category) if category else flags.all_settings()
    lines = (f"{path} = {json.dumps(value)}" for path, value in _dotted(values))
    report(values, as_json, "\n".join(lines))


@click.command("set")
@click.argument("category")
@click.argument("assignments", metavar="PATH=VALUE...", nargs=-1)
@click.option(
    "--file",
    "body",
    type=click.File(),
    callback=_json_object,
    help="Send this file's JSON object instead (- for stdin).",
)
@json_option
@pass_client(FlagsClient)
def settings_set(
    flags: FlagsClient, category: str, assignments: tuple[str, ...], body: dict[str, Any] | None, as_json: bool
) -> None:
    """Change some settings of CATEGORY and print what changed.

    VALUE is JSON when it parses (12, true, null to forget a stored value, '["a"]'),
    else the text itself; quote text that would parse ('"123"').
    """
    if (body is None) == (not assignments):
        raise click.UsageError("give PATH=VALUE arguments or --file, one of the two")
    answer = flags.update_settings(category, body if body is not None else _nested(assignments))
    changes = [
        f"{path}: {json.dumps(change['old'])} -> {json.dumps(change['new'])}"
        for path, change in answer["changes"].items()
    ]
    report(answer, as_json, "\n".join(changes) or "Nothing changed.")


@click.command("reset")
@click.argument("category")
@click.option("--yes", is_flag=True, help="Do not ask to confirm.")
@json_option
@pass_client(FlagsClient)
def settings_reset(flags: FlagsClient, category: str, yes: bool, as_json: bool) -> None:
    """Forget CATEGORY's stored values: the environment's or the defaults apply."""
    if not yes:
        click.confirm(f"Forget the tenant's stored {category} settings?", abort=True, err=True)
    answer = flags.reset_settings(category)
    report(answer, as_json, f"Reset the {category} settings.")


def add_settings_commands(cli: click.Group) -> None:
    """Give `fluxbase settings` `get`, `set` and `reset`; the group is made here when no plugin made it.

    Plugins do not import each other, so the settings plugin's group (with `secrets`) is
    found by name. It is copied, not changed: its own object keeps only its commands.
    """
    existing = cli.commands.get("settings")
    group = (
        copy.copy(existing) if existing is not None else click.Group("settings", help="Settings kept on the server.")
    )
    group.commands = {**group.commands, "get": settings_get, "set": settings_set, "reset": settings_reset}
    cli.add_command(group)
