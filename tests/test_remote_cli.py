"""`fluxbase login`, `logout` and the plugins' `secrets` and `settings secrets` against a real `fluxbase serve` process.

Most commands run in-process through click's runner (the server is still a real
process); the ones about stdin, exit codes and the environment also run as real
`fluxbase` processes. Every test checks that no secret value is ever printed or saved.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from flux.cli import cli
from flux.tenancy import default_tenant_id
from plugins.functions.secret_layers import invocation_secret
from tests.conftest import ADMIN_EMAIL, PASSWORD, free_port
from tests.live_server import FLUXBASE

VALUE = "sk_live_never-shown-0123456789"
OTHER_VALUE = "whsec_also-never-shown-9876543210"
NOT_LOGGED_IN = "Error: not logged in: run `fluxbase login --url URL` (or set FLUXBASE_URL and FLUXBASE_TOKEN)\n"


def run_fluxbase(*args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """`fluxbase` as a real process, with this test's environment (and XDG_CONFIG_HOME) plus `env`."""
    return subprocess.run(
        [FLUXBASE, *args], input=input, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


def assert_never_shown(printed: list[str], config_file: Path, *values: str) -> None:
    saved = config_file.read_text() if config_file.exists() else ""
    for value in values or (VALUE, OTHER_VALUE):
        assert not any(value in text for text in printed)
        assert value not in saved


def stored_secret(live_app, name: str, user_id: str | None = None, namespace: str = "") -> dict[str, str]:
    """The values the server holds of `name`, by layer, as a function invocation would read them."""
    with live_app.app_context():
        return invocation_secret(default_tenant_id(), namespace, user_id, name)


def test_login_prompts_stores_the_session_0600_and_logout_ends_it(fluxbase, live_server, live_admin, config_file):
    result = fluxbase.login(live_server.url + "/")
    assert result.output.startswith(f"E-mail: {ADMIN_EMAIL}\nPassword: \n")
    assert result.stdout.endswith(f"Logged in to {live_server.url} as {ADMIN_EMAIL} (saved in {config_file}).\n")
    assert PASSWORD not in result.output
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_file.parent.stat().st_mode) == 0o700
    saved = json.loads(config_file.read_text())
    assert saved.keys() == {"url", "tenant", "account", "email", "access_token", "refresh_token"}
    assert (saved["url"], saved["account"], saved["email"]) == (live_server.url, "admin", ADMIN_EMAIL)
    assert PASSWORD not in config_file.read_text()

    assert fluxbase("settings", "secrets", "list").stdout == "No secrets.\n"
    assert fluxbase("settings", "secrets", "list", "--json").stdout == "[]\n"

    result = fluxbase("logout")
    assert (result.exit_code, result.stdout) == (0, f"Logged out of {live_server.url}.\n")
    assert not config_file.exists()
    refresh = live_server.api("POST", "/api/v1/admin/refresh", json={"refresh_token": saved["refresh_token"]})
    assert refresh.status_code == 401  # the session is over on the server
    result = fluxbase("settings", "secrets", "list")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", NOT_LOGGED_IN)
    assert fluxbase("logout").stdout == "Not logged in.\n"


def test_a_wrong_password_is_one_line_and_saves_nothing(fluxbase, live_server, live_admin, config_file):
    result = fluxbase("login", "--url", live_server.url, "--email", ADMIN_EMAIL, input="not the password\n")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert "(401 " in result.stderr
    assert "not the password" not in result.output
    assert not config_file.exists()


def test_system_secrets_set_from_stdin_list_get_delete(admin_terminal, live_app, config_file):
    fluxbase = admin_terminal
    result = fluxbase("settings", "secrets", "set", "stripe", "-", input=VALUE + "\n")
    assert (result.exit_code, result.stdout) == (0, "Created system secret 'stripe'.\n")
    assert stored_secret(live_app, "stripe") == {"system": VALUE}  # one trailing newline stripped

    result = fluxbase("settings", "secrets", "set", "stripe", OTHER_VALUE, "--description", "Stripe live key")
    assert result.stdout == "Updated system secret 'stripe'.\n"
    assert stored_secret(live_app, "stripe") == {"system": OTHER_VALUE}

    header, row = fluxbase("settings", "secrets", "list").stdout.splitlines()
    assert header.split() == ["KEY", "DESCRIPTION", "UPDATED_AT"]
    assert row.startswith("stripe  Stripe live key  20")
    (listed,) = json.loads(fluxbase("settings", "secrets", "list", "--json").stdout)
    assert (listed["key"], listed["description"], listed["user_id"]) == ("stripe", "Stripe live key", None)
    assert json.loads(fluxbase("settings", "secrets", "get", "stripe", "--json").stdout) == listed
    lines = fluxbase("settings", "secrets", "get", "stripe").stdout.splitlines()
    assert "key          stripe" in lines
    assert "description  Stripe live key" in lines
    assert "user_id      -" in lines

    assert fluxbase("settings", "secrets", "delete", "stripe").stdout == "Deleted system secret 'stripe'.\n"
    result = fluxbase("settings", "secrets", "get", "stripe")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "Error: secret 'stripe' not found (404 NOT_FOUND)\n"
    assert stored_secret(live_app, "stripe") == {}
    assert_never_shown(fluxbase.printed, config_file)


def test_user_secrets_need_an_app_user_signed_in(admin_terminal, live_server, live_app, config_file):
    fluxbase = admin_terminal
    result = fluxbase("settings", "secrets", "list", "--user")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: this belongs to app users")
    assert result.stderr.endswith(
        "(403 APP_USER_REQUIRED); your own secrets need an app user: `fluxbase login --app-user`\n"
    )

    ann = live_server.signup("ann@example.com")
    fluxbase.login(live_server.url, "--app-user", email="ann@example.com")
    assert json.loads(config_file.read_text())["account"] == "user"
    result = fluxbase("settings", "secrets", "set", "openai", "-", "--user", "--description", "mine", input=VALUE)
    assert result.stdout == "Created your secret 'openai'.\n"
    assert stored_secret(live_app, "openai", ann["user"]["id"]) == {"user": VALUE}
    (listed,) = json.loads(fluxbase("settings", "secrets", "list", "--user", "--json").stdout)
    assert (listed["key"], listed["user_id"], listed["description"]) == ("openai", ann["user"]["id"], "mine")
    assert (
        fluxbase("settings", "secrets", "get", "openai", "--user", "--json").stdout
        == json.dumps(listed, indent=2) + "\n"
    )
    result = fluxbase("settings", "secrets", "list")  # system secrets are for administrators
    assert (result.exit_code, "(403 FORBIDDEN)" in result.stderr) == (1, True)
    assert fluxbase("settings", "secrets", "delete", "openai", "--user").stdout == "Deleted your secret 'openai'.\n"
    assert fluxbase("settings", "secrets", "list", "--user").stdout == "No secrets.\n"
    assert_never_shown(fluxbase.printed, config_file)


def test_function_secrets_set_list_get_history_rollback_delete(admin_terminal, live_app, config_file):
    fluxbase = admin_terminal
    result = fluxbase("secrets", "set", "API_KEY", "-", "--description", "Payments", input=VALUE + "\n")
    assert (result.exit_code, result.stdout) == (0, "Created secret 'API_KEY' (version 1).\n")
    assert stored_secret(live_app, "API_KEY") == {"function": VALUE}

    result = fluxbase("secrets", "set", "API_KEY", OTHER_VALUE, "--expires", "30d", "--json")
    updated = json.loads(result.stdout)
    assert (updated["name"], updated["version"], updated["description"]) == ("API_KEY", 2, "Payments")
    expires_in = datetime.fromisoformat(updated["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=30, minutes=-2) < expires_in <= timedelta(days=30)
    result = fluxbase("secrets", "set", "DB_URL", VALUE, "--namespace", "production")
    assert result.stdout == "Created secret 'DB_URL' in namespace 'production' (version 1).\n"

    header, *rows = fluxbase("secrets", "list").stdout.splitlines()
    assert header.split() == [
        "NAME", "SCOPE", "NAMESPACE", "VERSION", "EXPIRES_AT", "IS_EXPIRED", "UPDATED_AT", "DESCRIPTION"
    ]  # fmt: skip
    assert sorted(row.split()[:4] for row in rows) == [
        ["API_KEY", "global", "-", "2"],
        ["DB_URL", "namespace", "production", "1"],
    ]
    production = json.loads(fluxbase("secrets", "list", "--namespace", "production", "--json").stdout)
    assert [(row["name"], row["scope"]) for row in production] == [("DB_URL", "namespace")]
    assert [row["name"] for row in json.loads(fluxbase("secrets", "list", "--scope", "global", "--json").stdout)] == [
        "API_KEY"
    ]
    lines = fluxbase("secrets", "get", "API_KEY").stdout.splitlines()
    assert {"name         API_KEY", "version      2", "is_expired   no", "description  Payments"} <= set(lines)
    assert (
        json.loads(fluxbase("secrets", "get", "DB_URL", "--namespace", "production", "--json").stdout)["version"] == 1
    )

    history = json.loads(fluxbase("secrets", "history", "API_KEY", "--json").stdout)
    assert [(entry["version"], entry["is_current"]) for entry in history] == [(2, True), (1, False)]
    header, newest, oldest = fluxbase("secrets", "history", "API_KEY").stdout.splitlines()
    assert header.split() == ["VERSION", "IS_CURRENT", "CREATED_AT", "CREATED_BY"]
    assert (newest.split()[:2], oldest.split()[:2]) == (["2", "yes"], ["1", "no"])
    result = fluxbase("secrets", "rollback", "API_KEY", "1")
    assert result.stdout == "Rolled back secret 'API_KEY' to version 1; it is now version 3.\n"
    assert stored_secret(live_app, "API_KEY") == {"function": VALUE}

    assert fluxbase("secrets", "delete", "API_KEY").stdout == "Deleted secret 'API_KEY'.\n"
    result = fluxbase("secrets", "get", "API_KEY")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: secret 'API_KEY' not found in global scope (404 NOT_FOUND)\n",
    )
    result = fluxbase("secrets", "delete", "DB_URL", "--namespace", "production")
    assert result.stdout == "Deleted secret 'DB_URL' in namespace 'production'.\n"
    assert (
        stored_secret(live_app, "API_KEY", namespace="production")
        == stored_secret(live_app, "DB_URL", namespace="production")
        == {}
    )
    assert_never_shown(fluxbase.printed, config_file)


def test_secrets_set_refuses_bad_options_before_reading_the_value(admin_terminal):
    result = admin_terminal("secrets", "set", "API_KEY", "-", "--scope", "namespace", input=VALUE)
    assert (result.exit_code, result.stderr) == (1, "Error: --scope namespace needs --namespace NAME\n")
    result = admin_terminal("secrets", "set", "API_KEY", "-", "--expires", "30x", input=VALUE)
    assert result.exit_code == 2
    assert "Invalid value for '--expires': '30x' is not a duration such as 90m, 12h, 30d, 2w or 1y" in result.stderr
    result = admin_terminal("secrets", "set", "API_KEY", "x", "--scope", "global", "--namespace", "production")
    assert result.exit_code == 1
    assert result.stderr.endswith("(400 INVALID_FIELD)\n")
    assert_never_shown(admin_terminal.printed, Path("/nonexistent"), VALUE)


def test_environment_overrides_the_config_file(fluxbase, live_server, live_admin, config_file):
    key = live_server.create_service_key(live_admin, ["settings:write"])
    by_key = {"FLUXBASE_URL": live_server.url, "FLUXBASE_TOKEN": key}
    result = fluxbase("settings", "secrets", "set", "smtp", "-", input=VALUE, env=by_key)
    assert (result.exit_code, result.stdout) == (0, "Created system secret 'smtp'.\n")
    assert not config_file.exists()
    by_token = {"FLUXBASE_URL": live_server.url, "FLUXBASE_TOKEN": live_admin["access_token"]}
    assert [
        row["key"] for row in json.loads(fluxbase("settings", "secrets", "list", "--json", env=by_token).stdout)
    ] == ["smtp"]
    result = fluxbase("settings", "secrets", "list", env={**by_key, "FLUXBASE_TOKEN": "fbk_wrong_key"})
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Invalid, expired or revoked service key (401 INVALID_SERVICE_KEY); "
        "sign in again with `fluxbase login --url URL`\n",
    )
    result = fluxbase("settings", "secrets", "list", env={**by_token, "FLUXBASE_TENANT": "nowhere"})
    assert (result.exit_code, result.stderr) == (1, "Error: tenant 'nowhere' not found (404 TENANT_NOT_FOUND)\n")
    result = fluxbase("settings", "secrets", "list", "--tenant", "elsewhere", env=by_token)
    assert result.stderr == "Error: tenant 'elsewhere' not found (404 TENANT_NOT_FOUND)\n"

    # The saved session is only ever sent to the server it came from.
    fluxbase.login(live_server.url)
    elsewhere = f"http://127.0.0.1:{free_port()}"
    result = fluxbase("settings", "secrets", "list", env={"FLUXBASE_URL": elsewhere})
    assert (result.exit_code, result.stderr) == (1, NOT_LOGGED_IN.replace("logged in", f"logged in at {elsewhere}"))
    assert fluxbase("settings", "secrets", "list", env={"FLUXBASE_TOKEN": key}).exit_code == 0
    assert_never_shown(fluxbase.printed, config_file)


def test_an_expired_session_is_refreshed_and_saved(fluxbase, start_live_server, config_file):
    server = start_live_server(SETTINGS_TOKENS_ACCESS_TOKEN_LIFETIME="1")
    server.signup("ann@example.com")
    fluxbase.login(server.url, "--app-user", email="ann@example.com")
    before = json.loads(config_file.read_text())
    time.sleep(2.1)
    assert fluxbase("settings", "secrets", "list", "--user").stdout == "No secrets.\n"
    after = json.loads(config_file.read_text())
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert fluxbase("logout").stdout == f"Logged out of {server.url}.\n"


def test_service_key_login_from_stdin_as_a_real_process(live_server, live_admin, live_app, config_file):
    key = live_server.create_service_key(live_admin, ["settings:write"])
    result = run_fluxbase("login", "--url", live_server.url, "--service-key-stdin", input=key + "\n")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"Logged in to {live_server.url} as a service key (saved in {config_file}).\n"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert json.loads(config_file.read_text()) == {"url": live_server.url, "tenant": None, "service_key": key}

    result = run_fluxbase("settings", "secrets", "set", "smtp", "-", input=VALUE + "\n")
    assert (result.returncode, result.stdout) == (0, "Created system secret 'smtp'.\n")
    assert stored_secret(live_app, "smtp") == {"system": VALUE}
    listed = json.loads(run_fluxbase("settings", "secrets", "list", "--json").stdout)
    assert [row["key"] for row in listed] == ["smtp"]

    result = run_fluxbase("login", "--url", live_server.url, "--service-key-stdin", input="fbk_wrong_key\n")
    assert result.returncode == 1
    assert result.stderr == "Error: Invalid, expired or revoked service key (401 INVALID_SERVICE_KEY)\n"
    assert json.loads(config_file.read_text())["service_key"] == key  # the working login is kept
    assert VALUE not in result.stdout + result.stderr + config_file.read_text()


def test_failures_are_one_line_with_exit_code_1_as_a_real_process(config_file):
    result = run_fluxbase("secrets", "list")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", NOT_LOGGED_IN)
    url = f"http://127.0.0.1:{free_port()}"
    result = run_fluxbase("secrets", "set", "API_KEY", VALUE, FLUXBASE_URL=url, FLUXBASE_TOKEN="fbk_some_key")
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: cannot reach the Fluxbase server at {url}: check the URL and that the server is running\n"
    )
    assert VALUE not in result.stdout + result.stderr
    assert not config_file.exists()


def test_logout_forgets_the_session_even_when_the_server_is_gone(fluxbase, config_file):
    url = f"http://127.0.0.1:{free_port()}"
    config_file.parent.mkdir(parents=True)
    config_file.write_text(json.dumps({"url": url, "account": "admin", "access_token": "a", "refresh_token": "r"}))
    result = fluxbase("logout")
    assert (result.exit_code, result.stdout) == (0, f"Logged out of {url}.\n")
    assert result.stderr == (
        "Warning: the session may still be open on the server: cannot reach the Fluxbase server at "
        f"{url}: check the URL and that the server is running\n"
    )
    assert not config_file.exists()


def test_an_unreadable_config_file_is_one_line(fluxbase, config_file):
    config_file.parent.mkdir(parents=True)
    config_file.write_text("{not json")
    result = fluxbase("secrets", "list")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: cannot read {config_file} (JSONDecodeError): fix or delete it, then log in again\n",
    )


def test_secrets_commands_are_the_plugins_and_go_with_them(tmp_path):
    def commands(**env: str) -> set[str]:
        result = CliRunner().invoke(cli, ["--help"], env={"FLUXBASE_INSTANCE_PATH": str(tmp_path), **env})
        assert result.exit_code == 0, result.output
        return set(re.findall(r"^  (\S+)", result.output.split("Commands:")[1], re.MULTILINE))

    assert {"login", "logout", "secrets", "settings"} <= commands()
    without = commands(FLUXBASE_DISABLED_PLUGINS="secrets")
    assert "secrets" not in without and {"login", "settings"} <= without
    assert "settings" not in commands(FLUXBASE_DISABLED_PLUGINS="settings,flags")  # the flags plugin adds to it too
    missing = CliRunner().invoke(
        cli, ["secrets", "list"], env={"FLUXBASE_INSTANCE_PATH": str(tmp_path), "FLUXBASE_DISABLED_PLUGINS": "secrets"}
    )
    assert missing.exit_code == 2
    assert "No such command 'secrets'" in missing.output
