"""`fluxbase flags …` and `fluxbase settings get|set|reset` against a real `fluxbase serve` process.

Every command is checked by what it prints, its exit code and what the server then
answers (read through `FlagsClient`, which the last tests check on their own).
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from flux.cli import cli
from flux.client import ClientError, FluxClient
from plugins.flags.client import FlagsClient
from tests.flags.test_flags_api import CHECKOUT as SPLIT_CHECKOUT

CHECKOUT = {
    **{name: value for name, value in SPLIT_CHECKOUT.items() if name != "rollout"},
    "rules": SPLIT_CHECKOUT["rules"][:1],
}
"""A string flag whose one rule serves `new` (v2) to e-mails at acme.com, else `old` (v1)."""
DECLARED = ["advanced_mfa", "audit_log_export", "passwordless_enabled", "rebac_enabled"]


@pytest.fixture
def flags(live_server, live_admin) -> FlagsClient:
    """The server as the signed-in administrator sees it, to check what the commands did."""
    return FlagsClient(FluxClient(live_server.url, token=live_admin["access_token"]))


def enabled(flags: FlagsClient, key: str) -> bool:
    declared = {flag["key"]: flag["enabled"] for flag in flags.feature_flags()}
    return declared[key] if key in declared else flags.get_flag(key)["enabled"]


def test_list_shows_declared_and_custom_flags_by_key(admin_terminal, flags):
    fluxbase = admin_terminal
    flags.create_flag(CHECKOUT)
    header, *rows = fluxbase("flags", "list").stdout.splitlines()
    assert header.split() == ["KEY", "KIND", "ENABLED", "TYPE", "DESCRIPTION"]
    assert [row.split()[0] for row in rows] == sorted([*DECLARED, "new-checkout"])
    assert rows[2].split() == ["new-checkout", "custom", "yes", "string", "New", "checkout"]  # no description
    assert rows[3].split()[:4] == ["passwordless_enabled", "declared", "no", "boolean"]
    assert rows[3].endswith("Enable passwordless authentication with WebAuthn/Passkeys")

    listed = json.loads(fluxbase("flags", "list", "--json").stdout)
    assert listed[2] == {
        "key": "new-checkout",
        "kind": "custom",
        "enabled": True,
        "type": "string",
        "description": "New checkout",
    }
    assert {row["key"]: row["kind"] for row in listed} == {
        **dict.fromkeys(DECLARED, "declared"),
        "new-checkout": "custom",
    }


def test_enable_and_disable_switch_declared_and_custom_flags(admin_terminal, flags):
    fluxbase = admin_terminal
    flags.create_flag(CHECKOUT)
    result = fluxbase("flags", "enable", "passwordless_enabled")
    assert (result.exit_code, result.stdout) == (0, "Enabled declared flag 'passwordless_enabled'.\n")
    assert enabled(flags, "passwordless_enabled") is True
    result = fluxbase("flags", "disable", "new-checkout")
    assert (result.exit_code, result.stdout) == (0, "Disabled custom flag 'new-checkout'.\n")
    assert enabled(flags, "new-checkout") is False
    assert flags.evaluate("new-checkout")["reason"] == "DISABLED"

    switched = json.loads(fluxbase("flags", "disable", "passwordless_enabled", "--json").stdout)
    assert (switched["key"], switched["enabled"]) == ("passwordless_enabled", False)
    assert enabled(flags, "passwordless_enabled") is False
    changed = json.loads(fluxbase("flags", "enable", "new-checkout", "--json").stdout)
    assert (changed["key"], changed["enabled"], changed["version"]) == ("new-checkout", True, 3)
    assert changed["rules"][0]["conditions"] == CHECKOUT["rules"][0]["conditions"]  # only `enabled` changed

    result = fluxbase("flags", "enable", "no-such-flag")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "Error: no flag 'no-such-flag' in this tenant (404 NOT_FOUND)\n"


def test_evaluate_prints_value_variant_and_reason(admin_terminal, flags):
    fluxbase = admin_terminal
    flags.create_flag(CHECKOUT)
    result = fluxbase("flags", "evaluate", "advanced_mfa")
    assert (result.exit_code, result.stdout) == (0, "value    true\nvariant  on\nreason   STATIC\n")
    result = fluxbase("flags", "evaluate", "new-checkout", "--context", '{"email": "ann@acme.com"}')
    assert result.stdout == 'value    "v2"\nvariant  new\nreason   TARGETING_MATCH\n'
    answer = json.loads(fluxbase("flags", "evaluate", "new-checkout", "--json").stdout)
    assert answer == {
        "key": "new-checkout",
        "value": "v1",
        "reason": "DEFAULT",
        "variant": "old",
        "metadata": {"kind": "custom"},
    }

    result = fluxbase("flags", "evaluate", "no-such-flag")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: no flag 'no-such-flag' in this tenant (404 FLAG_NOT_FOUND)\n",
    )
    for context, problem in (("{oops", "not JSON"), ("[1]", "not a JSON object")):
        result = fluxbase("flags", "evaluate", "advanced_mfa", "--context", context)
        assert result.exit_code == 2
        assert f"Invalid value for '--context': {problem}" in result.stderr


def test_settings_get_set_and_reset_round_trip(admin_terminal, flags):
    fluxbase = admin_terminal
    lines = fluxbase("settings", "get", "authentication").stdout.splitlines()
    assert {"password_policy.min_length = 8", 'mfa.methods = ["totp", "sms", "email"]'} <= set(lines)
    everything = fluxbase("settings", "get").stdout.splitlines()
    assert {"authentication.password_policy.min_length = 8", 'branding.primary_color = "#0066CC"'} <= set(everything)
    assert json.loads(fluxbase("settings", "get", "--json").stdout) == flags.all_settings()

    result = fluxbase(
        "settings", "set", "authentication", "password_policy.min_length=12", "password_policy.require_symbols=true"
    )
    assert (result.exit_code, result.stdout) == (
        0,
        "password_policy.min_length: 8 -> 12\npassword_policy.require_symbols: false -> true\n",
    )
    assert flags.get_settings("authentication")["password_policy"]["min_length"] == 12
    assert "password_policy.min_length = 12" in fluxbase("settings", "get", "authentication").stdout.splitlines()
    result = fluxbase("settings", "set", "authentication", "password_policy.min_length=12")
    assert (result.exit_code, result.stdout) == (0, "Nothing changed.\n")

    result = fluxbase("settings", "set", "branding", "company_name=Acme Inc.", "--json")
    answer = json.loads(result.stdout)
    assert (answer["category"], answer["changes"]) == ("branding", {"company_name": {"old": "", "new": "Acme Inc."}})
    result = fluxbase("settings", "set", "compliance", "--file", "-", input='{"export_formats": ["csv"]}')
    assert result.stdout == 'export_formats: ["csv", "json"] -> ["csv"]\n'
    assert flags.get_settings("compliance")["export_formats"] == ["csv"]

    result = fluxbase("settings", "reset", "authentication", input="n\n")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Forget the tenant's stored authentication settings? [y/N]: n\nAborted!")
    assert flags.get_settings("authentication")["password_policy"]["min_length"] == 12
    result = fluxbase("settings", "reset", "authentication", input="y\n")
    assert (result.exit_code, result.stdout) == (0, "Reset the authentication settings.\n")
    assert flags.get_settings("authentication")["password_policy"]["min_length"] == 8
    reset = json.loads(fluxbase("settings", "reset", "branding", "--yes", "--json").stdout)
    assert (reset["reset"], reset["category"]) == (True, "branding")
    assert flags.get_settings("branding")["company_name"] == ""


def test_settings_refusals_name_the_field_and_change_nothing(admin_terminal, flags):
    fluxbase = admin_terminal
    result = fluxbase("settings", "set", "authentication", "password_policy.min_length=abc")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: password_policy.min_length")
    assert result.stderr.endswith("(400 INVALID_FIELD)\n")
    result = fluxbase("settings", "set", "authentication", "password_policy.min_lenght=12")
    assert (result.exit_code, result.stderr.endswith("(400 UNKNOWN_SETTING)\n")) == (1, True)
    assert "password_policy.min_lenght" in result.stderr
    for command in (("get", "nope"), ("set", "nope", "a=1"), ("reset", "nope", "--yes")):
        result = fluxbase("settings", *command)
        assert (result.exit_code, result.stderr.endswith("(404 NOT_FOUND)\n")) == (1, True), command
        assert "'nope'" in result.stderr
    assert flags.get_settings("authentication")["password_policy"]["min_length"] == 8

    usage = [
        (("authentication",), "give PATH=VALUE arguments or --file, one of the two"),
        (("authentication", "a=1", "--file", "-"), "give PATH=VALUE arguments or --file, one of the two"),
        (("authentication", "min_length"), "'min_length' is not PATH=VALUE"),
        (("authentication", "lockout=1", "lockout.enabled=true"), "'lockout.enabled' goes inside a value given"),
        (("authentication", "lockout.enabled=true", "lockout=1"), "'lockout' is given twice"),
    ]
    for arguments, message in usage:
        result = fluxbase("settings", "set", *arguments, input="{}")
        assert (result.exit_code, message in result.stderr) == (2, True), (arguments, result.stderr)
    result = fluxbase("settings", "set", "authentication", "--file", "-", input="[1]")
    assert (result.exit_code, "Invalid value for '--file': not a JSON object" in result.stderr) == (2, True)


def test_settings_commands_work_with_the_settings_plugin_disabled(admin_terminal, flags):
    without = {"FLUXBASE_DISABLED_PLUGINS": "settings"}
    result = admin_terminal("settings", "set", "branding", "company_name=Acme", env=without)
    assert (result.exit_code, result.stdout) == (0, 'company_name: "" -> "Acme"\n')
    assert admin_terminal("settings", "get", "branding", "--json", env=without).stdout.count('"Acme"') == 1
    assert flags.get_settings("branding")["company_name"] == "Acme"


def test_the_commands_are_the_plugins_and_share_the_settings_group(tmp_path):
    def commands(*words: str, disabled: str = "") -> set[str]:
        env = {"FLUXBASE_INSTANCE_PATH": str(tmp_path), "FLUXBASE_DISABLED_PLUGINS": disabled}
        result = CliRunner().invoke(cli, [*words, "--help"], env=env)
        if result.exit_code:
            return set()
        return set(re.findall(r"^  (\S+)", result.output.split("Commands:")[1], re.MULTILINE))

    assert commands("flags") == {"list", "enable", "disable", "evaluate"}
    assert commands("settings") == {"get", "set", "reset", "secrets"}
    assert commands("settings", disabled="settings") == {"get", "set", "reset"}
    assert commands("settings", disabled="flags") == {"secrets"}  # the settings plugin's own group is unchanged
    assert commands("settings", disabled="settings,flags") == set()
    assert "flags" not in commands(disabled="flags")


# -- the Python client ---------------------------------------------------------------------


def test_the_client_sends_if_match_and_reads_ofreps_errors(flags):
    with pytest.raises(ClientError) as stale:
        flags.update_settings("branding", {"company_name": "Acme"}, if_match='"not-the-tag"')
    assert (stale.value.status, stale.value.code) == (412, "PRECONDITION_FAILED")
    assert flags.get_settings("branding")["company_name"] == ""
    answer = flags.update_settings("branding", {"company_name": "Acme"}, if_match="*")
    assert answer["changes"] == {"company_name": {"old": "", "new": "Acme"}}

    with pytest.raises(ClientError) as missing:
        flags.evaluate("no-such-flag")
    assert (missing.value.status, missing.value.code) == (404, "FLAG_NOT_FOUND")
    assert str(missing.value) == "no flag 'no-such-flag' in this tenant (404 FLAG_NOT_FOUND)"


def test_the_client_manages_custom_flags_and_evaluates_them_all(flags):
    flags.client.page_size = 2
    for index in range(3):
        flags.create_flag({"key": f"flag-{index}"})
    assert [flag["key"] for flag in flags.list_flags()] == ["flag-0", "flag-1", "flag-2"]
    replaced = flags.replace_flag("flag-0", {"type": "number", "variants": {"one": 1}, "default_variant": "one"})
    assert (replaced["type"], replaced["version"]) == ("number", 2)
    flags.delete_flag("flag-1")
    with pytest.raises(ClientError) as gone:
        flags.get_flag("flag-1")
    assert gone.value.status == 404
    values = {answer["key"]: answer["value"] for answer in flags.evaluate_all()}
    assert values == {"flag-0": 1, "flag-2": True, "advanced_mfa": True, "audit_log_export": True} | {
        "passwordless_enabled": False,
        "rebac_enabled": True,
    }
