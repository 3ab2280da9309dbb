"""`fluxbase functions deploy|list|invoke|logs` against a real `fluxbase serve` process that runs the code in Deno.

What each command did is checked through the API (`FunctionsClient`), not only by what
it printed; no output may hold a function's env value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from flux.cli import cli
from flux.client import FluxClient
from plugins.functions.client import FunctionsClient
from tests.conftest import ADMIN_EMAIL, PASSWORD, SETUP_TOKEN
from tests.functions.conftest import HELLO
from tests.live_server import LiveServer
from tests.test_remote_cli import NOT_LOGGED_IN

ENV_VALUE = "env-value-never-printed-0123456789"
ECHO = """async function handler(req) {
  console.log(`got ${req.method}`)
  console.warn("body", req.body)
  const status = Number(req.headers["x-status"] || 200)
  return { status, headers: { "X-Seen": req.headers["content-type"] || "none" }, body: req.body }
}"""
THROWS = """async function handler(req) {
  console.error("about to fail")
  throw new Error("card declined")
}"""
GREET = "export const greet = (name: string): string => `Hello ${name}`;\n"
DIRECTORY = """import { greet } from "_shared/greet.ts";
import { shout } from "./helpers.ts";
async function handler(req) {
  return { status: 200, body: shout(greet("folder")) }
}"""
HELPERS = "export const shout = (text: string): string => text.toUpperCase();\n"


@pytest.fixture
def live_server(start_live_server, deno_dir: Path) -> LiveServer:
    """The live server with one Deno cache for the session, so the same code type-checks once."""
    return start_live_server(FUNCTIONS_DENO_DIR=str(deno_dir))


@pytest.fixture
def functions(live_server: LiveServer, live_admin: dict) -> FunctionsClient:
    """The server as the signed-in administrator sees it, to check what the commands did."""
    return FunctionsClient(FluxClient(live_server.url, token=live_admin["access_token"]))


def write(root: Path, files: dict[str, str | None]) -> Path:
    """Write (or, for None, delete) files under `root`; `root`."""
    for name, text in files.items():
        path = root / name
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def versions(functions: FunctionsClient, namespace: str | None = None) -> dict[str, int]:
    return {row["name"]: row["version"] for row in functions.list_functions(namespace)}


@pytest.mark.usefixtures("npm_reachable")
def test_deploy_creates_then_leaves_unchanged_updates_and_deletes(admin_terminal, functions, tmp_path):
    fluxbase = admin_terminal
    folder = write(
        tmp_path / "functions",
        {
            "hello.ts": HELLO,
            "complex/index.ts": DIRECTORY,
            "complex/helpers.ts": HELPERS,
            "_shared/greet.ts": GREET,
            "notes.md": "not a function",
        },
    )
    result = fluxbase("functions", "deploy", str(folder))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Created 2, updated 0, deleted 0, unchanged 0 in namespace default.\n"
        "  created: complex, hello\n"
        "Shared modules: _shared/greet.ts created.\n"
    )
    assert "Warning: skipped notes.md: not a function" in result.stderr
    assert functions.invoke("complex").text == "HELLO FOLDER"
    assert versions(functions) == {"complex": 1, "hello": 1}

    result = fluxbase("functions", "deploy", str(folder))
    assert result.stdout.splitlines()[0] == "Created 0, updated 0, deleted 0, unchanged 2 in namespace default."
    assert result.stdout.splitlines()[-1] == "Shared modules: _shared/greet.ts unchanged."

    write(folder, {"complex/helpers.ts": HELPERS.replace("toUpperCase", "toLowerCase")})
    result = fluxbase("functions", "deploy", str(folder))
    assert result.stdout.splitlines()[:3] == [
        "Created 0, updated 1, deleted 0, unchanged 1 in namespace default.",
        "  updated: complex",
        "  unchanged: hello",
    ]
    assert functions.invoke("complex").text == "hello folder"

    write(folder, {"hello.ts": None, "new.ts": HELLO, "_shared/greet.ts": GREET.replace("Hello", "Hi")})
    result = fluxbase("functions", "deploy", str(folder), "--delete-missing", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Created 1, updated 0, deleted 1, unchanged 1 in namespace default."
    assert "Shared modules: _shared/greet.ts updated." in result.stdout
    assert result.stdout.endswith("Dry run: that is what a deploy would do; nothing was changed.\n")
    assert versions(functions) == {"complex": 2, "hello": 1}
    assert functions.shared_module("_shared/greet.ts")["content"] == GREET

    answer = json.loads(fluxbase("functions", "deploy", str(folder), "--delete-missing", "--json").stdout)
    assert answer["summary"] == {"created": 1, "updated": 1, "deleted": 1, "unchanged": 0}
    assert (answer["details"]["deleted"], answer["dry_run"]) == (["hello"], False)
    assert answer["shared_modules"] == {"_shared/greet.ts": "updated"}
    assert set(versions(functions)) == {"complex", "new"}
    assert functions.invoke("complex").text == "hi folder"


def test_deploy_into_a_namespace_and_a_function_that_does_not_compile(admin_terminal, functions, tmp_path):
    fluxbase = admin_terminal
    folder = write(tmp_path / "functions", {"hello.ts": HELLO})
    result = fluxbase("functions", "deploy", str(folder), "--namespace", "payments")
    assert result.stdout.startswith("Created 1, updated 0, deleted 0, unchanged 0 in namespace payments.\n")
    assert versions(functions, "payments") == {"hello": 1}

    write(folder, {"broken.ts": "async function handler(req) { return { status: 'two hundred' as number } }"})
    result = fluxbase("functions", "deploy", str(folder), "--namespace", "payments")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: functions[0] (broken): ")
    assert versions(functions, "payments") == {"hello": 1}  # one transaction: nothing was created


def test_deploy_refuses_what_is_not_a_folder_and_an_empty_one_with_delete_missing(admin_terminal, tmp_path):
    fluxbase = admin_terminal
    result = fluxbase("functions", "deploy", str(tmp_path / "missing"))
    assert (result.exit_code, result.stdout) == (1, "")
    assert (
        result.stderr
        == f"Error: {tmp_path / 'missing'} is not a folder: give the functions folder (hello.ts, _shared/, …)\n"
    )
    (tmp_path / "empty").mkdir()
    result = fluxbase("functions", "deploy", str(tmp_path / "empty"), "--delete-missing")
    assert result.exit_code == 1
    assert "--delete-missing would delete the whole namespace" in result.stderr
    write(tmp_path / "empty", {"ok.ts": "async function handler() { return {} }", "half/helpers.ts": "export {}"})
    (tmp_path / "empty" / "latin.ts").write_bytes(b"// caf\xe9")
    result = fluxbase("functions", "deploy", str(tmp_path / "empty"), "--delete-missing")
    assert result.exit_code == 1
    refused = "Error: half, latin could not be read (see the warnings): --delete-missing would delete them"
    assert refused in result.stderr


def test_invoke_prints_the_answer_and_fails_on_an_error_status(admin_terminal, tmp_path):
    fluxbase = admin_terminal
    folder = write(tmp_path / "functions", {"echo.ts": ECHO, "throws.ts": THROWS})
    assert fluxbase("functions", "deploy", str(folder), "--namespace", "tools").exit_code == 0

    result = fluxbase("functions", "invoke", "tools/echo", "--data", '{"amount": 12}')
    assert (result.exit_code, result.stdout) == (0, '{"amount": 12}')
    assert result.stderr.startswith("HTTP 200 OK (execution ")
    result = fluxbase("functions", "invoke", "echo", "--namespace", "tools", "--data", "-", input='{"n": 1}\n')
    assert result.stdout == '{"n": 1}'

    result = fluxbase("functions", "invoke", "tools/echo", "-d", "not json")
    assert result.exit_code == 2
    assert "Invalid value for --data: not JSON" in result.stderr
    result = fluxbase("functions", "invoke", "tools/echo", "-d", "plain", "-H", "Content-Type: text/plain", "-i")
    assert result.exit_code == 0
    assert result.stdout.startswith("HTTP 200 OK\n")
    assert "\nX-Seen: text/plain\n" in result.stdout
    assert result.stdout.endswith("\n\nplain")

    result = fluxbase("functions", "invoke", "tools/echo", "-d", '"short and stout"', "-H", "X-Status: 418")
    assert (result.exit_code, result.stdout) == (1, '"short and stout"')
    assert result.stderr.startswith("HTTP 418 ")
    result = fluxbase("functions", "invoke", "tools/throws", "--json")
    assert result.exit_code == 1
    shown = json.loads(result.stdout)
    assert shown["status"] == 500
    assert "card declined" in shown["body"]

    result = fluxbase("functions", "invoke", "tools/missing")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: ") and "(404 NOT_FOUND)" in result.stderr


def test_logs_show_each_execution_with_its_console_lines(admin_terminal, tmp_path):
    fluxbase = admin_terminal
    folder = write(tmp_path / "functions", {"echo.ts": ECHO, "throws.ts": THROWS})
    assert fluxbase("functions", "deploy", str(folder)).exit_code == 0
    assert fluxbase("functions", "logs", "echo").stdout == "No executions.\n"
    fluxbase("functions", "invoke", "echo", "-X", "PUT", "-d", '"first"')
    fluxbase("functions", "invoke", "echo", "-d", '"second"')

    heading, *lines = fluxbase("functions", "logs", "echo", "--limit", "1").stdout.splitlines()
    assert heading.split()[1:4] == ["success", "200", heading.split()[3]]
    assert [line.split(maxsplit=2)[1:] for line in lines] == [["info", "got POST"], ["warn", 'body "second"']]
    printed = fluxbase("functions", "logs", "echo").stdout
    assert printed.index("got PUT") < printed.index("got POST")  # oldest first

    fluxbase("functions", "invoke", "throws")
    printed = fluxbase("functions", "logs", "throws").stdout
    assert " error 500 " in printed.splitlines()[0]
    assert "about to fail" in printed and "card declined" in printed
    (execution,) = json.loads(fluxbase("functions", "logs", "throws", "--json").stdout)
    assert (execution["status"], execution["logs"][0]["message"]) == ("error", "about to fail")

    result = fluxbase("functions", "logs", "missing")
    assert result.exit_code == 1 and "(404 NOT_FOUND)" in result.stderr


def test_list_shows_functions_but_never_an_env_value(admin_terminal, functions):
    fluxbase = admin_terminal
    assert fluxbase("functions", "list").stdout == "No functions.\n"
    body = {"name": "hello", "code": HELLO, "env": {"API_KEY": ENV_VALUE}}
    functions.client.request("POST", "/api/v1/functions", json=body)
    functions.client.request("POST", "/api/v1/functions", json={**body, "name": "other", "namespace": "tools"})
    functions.invoke("hello")

    header, *rows = fluxbase("functions", "list").stdout.splitlines()
    assert header.split() == [
        "NAME",
        "NAMESPACE",
        "VERSION",
        "ENABLED",
        "LAST_EXECUTION_STATUS",
        "IS_BUNDLED",
        "UPDATED_AT",
    ]
    assert [row.split()[:6] for row in rows] == [
        ["hello", "default", "1", "yes", "success", "no"],
        ["other", "tools", "1", "yes", "-", "no"],
    ]
    assert [
        row["name"] for row in json.loads(fluxbase("functions", "list", "--namespace", "tools", "--json").stdout)
    ] == ["other"]
    listed = json.loads(fluxbase("functions", "list", "--json").stdout)
    assert listed[0]["env"] == ["API_KEY"]
    fluxbase("functions", "logs", "hello")
    assert not any(ENV_VALUE in text for text in fluxbase.printed)


def test_not_signed_in_is_the_house_hint(fluxbase, tmp_path):
    for command in (["list"], ["invoke", "hello"], ["logs", "hello"], ["deploy", str(tmp_path)]):
        result = fluxbase("functions", *command)
        assert (result.exit_code, result.stdout, result.stderr) == (1, "", NOT_LOGGED_IN)


def test_a_folder_too_large_for_one_request_says_what_to_do(start_live_server, fluxbase, deno_dir, tmp_path):
    server = start_live_server(MAX_BODY_BYTES="100000", FUNCTIONS_DENO_DIR=str(deno_dir))
    body = {"email": ADMIN_EMAIL, "password": PASSWORD, "name": "Ada", "setup_token": SETUP_TOKEN}
    admin = server.api("POST", "/api/v1/admin/setup", json=body).json()
    padded = HELLO + "\n// " + "x" * 60_000
    folder = write(tmp_path / "functions", {"one.ts": padded, "two.ts": padded})
    result = fluxbase(
        "functions", "deploy", str(folder), env={"FLUXBASE_URL": server.url, "FLUXBASE_TOKEN": admin["access_token"]}
    )
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: the folder is 0.1 MB in one sync request and the server refused it: ")
    assert "FLUXBASE_MAX_BODY_BYTES" in result.stderr


def test_the_commands_go_with_the_plugin(tmp_path):
    env = {"FLUXBASE_INSTANCE_PATH": str(tmp_path)}
    assert "  functions " in CliRunner().invoke(cli, ["--help"], env=env).output
    disabled = CliRunner().invoke(cli, ["functions", "list"], env={**env, "FLUXBASE_DISABLED_PLUGINS": "functions"})
    assert disabled.exit_code == 2
    assert "No such command 'functions'" in disabled.output
