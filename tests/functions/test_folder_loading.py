"""The functions folder loaded into the database: on start (create and update only) and on reload (in full)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from plugins.functions import loader
from tests.conftest import ADMIN_EMAIL, PASSWORD, SETUP_TOKEN, create_tenant
from tests.functions.conftest import BASE, HELLO, call, deploy
from tests.functions.test_api import stored
from tests.functions.test_folder import write

RELOAD = "/api/v1/admin/functions/reload"
ADMIN_SETUP = {"email": ADMIN_EMAIL, "password": PASSWORD, "name": "Ada", "setup_token": SETUP_TOKEN}
GREETS = """import { greet } from "./helpers.ts";
async function handler(req) { return { status: 200, body: greet() }; }"""
USES_MODULE = """import { word } from "_shared/word.ts";
async function handler(req) { return { status: 200, body: word }; }"""
FOLDER = {
    "hello.ts": HELLO,
    "complex/index.ts": GREETS,
    "complex/helpers.ts": 'export const greet = (): string => "from a file";',
    "moduled.ts": USES_MODULE,
    "_shared/word.ts": 'export const word = "v1";',
}

pytestmark = pytest.mark.usefixtures("npm_reachable")


@pytest.fixture
def folder(app, tmp_path) -> Path:
    root = write(tmp_path / "functions", FOLDER)
    app.config["FUNCTIONS_FUNCTIONS_DIR"] = str(root)
    return root


def names_and_versions(app) -> list[tuple[str, int]]:
    return sorted((row["name"], row["version"]) for row in stored(app, "functions"))


def test_on_start_the_folder_is_loaded_as_the_server(app, client, admin_headers, folder):
    report = loader.load_on_start(app)
    assert report[0] == (
        f"functions folder {folder}: functions created 3, updated 0, deleted 0, unchanged 0; "
        "shared modules created 1, updated 0, unchanged 0; errors 0"
    )
    assert names_and_versions(app) == [("complex", 1), ("hello", 1), ("moduled", 1)]
    assert call(client, "hello", headers=admin_headers, json={"name": "F"}).json == {"message": "Hello F!"}
    assert call(client, "complex", headers=admin_headers).data == b"from a file"
    assert call(client, "moduled", headers=admin_headers).data == b"v1"
    events = [(row["action"], row["actor_kind"]) for row in stored(app, "audit_events")]
    assert ("functions.synced", "server") in events and ("functions.shared_module_created", "server") in events


def test_loading_again_changes_nothing_and_builds_nothing(app, folder, monkeypatch):
    loader.load_on_start(app)
    monkeypatch.setattr(loader.builds, "build", lambda *args: pytest.fail("an unchanged function was built again"))
    report = loader.load_on_start(app)
    assert "functions created 0, updated 0, deleted 0, unchanged 3" in report[0]
    assert "shared modules created 0, updated 0, unchanged 1" in report[0]
    assert names_and_versions(app) == [("complex", 1), ("hello", 1), ("moduled", 1)]


def test_a_changed_file_or_module_updates_what_uses_it_and_start_never_deletes(app, client, admin_headers, folder):
    loader.load_on_start(app)
    deploy(client, admin_headers, "made-in-the-ui")
    write(
        folder,
        {
            "complex/helpers.ts": 'export const greet = (): string => "changed";',
            "_shared/word.ts": 'export const word = "v2";',
        },
    )
    (folder / "hello.ts").unlink()
    report = loader.load_on_start(app)
    assert "functions created 0, updated 2, deleted 0, unchanged 0" in report[0], report
    assert names_and_versions(app) == [("complex", 2), ("hello", 1), ("made-in-the-ui", 1), ("moduled", 1)]
    assert call(client, "complex", headers=admin_headers).data == b"changed"
    assert call(client, "moduled", headers=admin_headers).data == b"v2"  # same code, rebundled with the new module
    assert client.get(f"{BASE}/moduled", headers=admin_headers).json["bundled_modules"] == {"_shared/word.ts": 2}


def test_a_function_that_does_not_build_stays_as_it_was_and_the_others_load(app, client, admin_headers, folder):
    loader.load_on_start(app)
    write(folder, {"hello.ts": "async function handler(req) { return 1 + ; }", "new.ts": HELLO, "bad name!.ts": HELLO})
    report = loader.load_on_start(app)
    assert "functions created 1, updated 0, deleted 0, unchanged 2; " in report[0] and "errors 1" in report[0]
    assert report[1].startswith("  not loaded: hello: the code does not compile")
    assert "  skipped: bad name!.ts: 'bad name!' is not a function name (letters, digits, '_' and '-')" in report
    assert call(client, "hello", headers=admin_headers, json={}).json == {"message": "Hello World!"}  # version 1 runs
    answer = client.post(RELOAD, headers=admin_headers)  # a reload does not delete it either: the folder has it
    assert answer.status_code == 200, answer.json
    assert answer.json["summary"]["deleted"] == 0 and list(answer.json["errors"]) == ["hello"]
    assert names_and_versions(app) == [("complex", 1), ("hello", 1), ("moduled", 1), ("new", 1)]


def test_reload_deletes_the_default_namespaces_functions_the_folder_lacks(app, client, admin_headers, folder):
    deploy(client, admin_headers, "made-in-the-ui")
    deploy(client, admin_headers, "elsewhere", namespace="other")
    answer = client.post(RELOAD, headers=admin_headers)
    assert answer.status_code == 200, answer.json
    assert answer.json == {
        "folder": str(folder),
        "namespace": "default",
        "summary": {"created": 3, "updated": 0, "deleted": 1, "unchanged": 0},
        "details": {
            "created": ["complex", "hello", "moduled"],
            "updated": [],
            "deleted": ["made-in-the-ui"],
            "unchanged": [],
        },
        "shared_modules": {"created": ["_shared/word.ts"], "updated": [], "unchanged": []},
        "errors": {},
        "skipped": [],
    }
    assert names_and_versions(app) == [("complex", 1), ("elsewhere", 1), ("hello", 1), ("moduled", 1)]


def test_loading_on_start_can_be_turned_off(app, folder):
    app.config["FUNCTIONS_AUTO_LOAD_ON_BOOT"] = False
    assert loader.load_on_start(app) == []
    assert stored(app, "functions") == []


def test_a_missing_folder_is_reported_not_raised(app, tmp_path):
    app.config["FUNCTIONS_FUNCTIONS_DIR"] = str(tmp_path / "nowhere")
    assert loader.load_on_start(app) == [
        f"functions folder not loaded: {tmp_path / 'nowhere'} is not a folder: "
        "create it, or set FLUXBASE_FUNCTIONS_FUNCTIONS_DIR to one"
    ]


def test_reload_without_a_folder_or_from_another_tenant_is_refused(app, client, admin_headers, tmp_path, folder):
    create_tenant(app, "acme")
    other = client.post(RELOAD, headers={**admin_headers, "X-FB-Tenant": "acme"})
    assert (other.status_code, other.json["code"]) == (403, "FORBIDDEN")
    assert "default tenant" in other.json["error"]
    app.config["FUNCTIONS_FUNCTIONS_DIR"] = str(tmp_path / "nowhere")
    missing = client.post(RELOAD, headers=admin_headers)
    assert (missing.status_code, missing.json["code"]) == (409, "FUNCTIONS_FOLDER_UNAVAILABLE")
    app.config["FUNCTIONS_FUNCTIONS_DIR"] = ""
    unset = client.post(RELOAD, headers=admin_headers)
    assert (unset.status_code, unset.json["code"]) == (409, "FUNCTIONS_FOLDER_UNAVAILABLE")
    assert "FLUXBASE_FUNCTIONS_FUNCTIONS_DIR" in unset.json["error"]
    assert stored(app, "functions") == []


def test_reload_needs_an_admin_or_a_key_that_may_write_functions(client, folder, service_key):
    assert client.post(RELOAD).status_code == 401
    reader = service_key(["functions:read"])
    assert client.post(RELOAD, headers=reader).status_code == 403
    writer = service_key(["functions:write"])
    assert client.post(RELOAD, headers=writer).json["summary"]["created"] == 3


def test_two_loaders_at_once_end_as_one(app, folder):
    """As when several nodes start together: one creates, the other finds its functions."""
    reports: list[list[str]] = []
    loaders = [threading.Thread(target=lambda: reports.append(loader.load_on_start(app))) for _ in range(2)]
    for thread in loaders:
        thread.start()
    for thread in loaders:
        thread.join()
    summaries = sorted(report[0] for report in reports)
    assert len(summaries) == 2 and all("errors 0" in summary for summary in summaries), summaries
    created = [int(summary.split("functions created ")[1].split(",")[0]) for summary in summaries]
    assert sum(created) == 3, summaries
    assert names_and_versions(app) == [("complex", 1), ("hello", 1), ("moduled", 1)]
    assert len(stored(app, "function_versions")) == 3 and len(stored(app, "function_shared_module_versions")) == 1


def test_two_servers_started_at_once_load_the_folder_once(app, start_live_server, deno_dir, tmp_path):
    """Two nodes, each `fluxbase serve` with two workers, on one database: the folder loads once, and both serve it."""
    root = write(tmp_path / "functions", FOLDER)
    settings = {"FUNCTIONS_FUNCTIONS_DIR": str(root), "FUNCTIONS_DENO_DIR": str(deno_dir)}
    servers = []
    starting = [threading.Thread(target=lambda: servers.append(start_live_server(**settings))) for _ in range(2)]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    assert len(servers) == 2
    assert names_and_versions(app) == [("complex", 1), ("hello", 1), ("moduled", 1)]
    assert len(stored(app, "function_versions")) == 3
    admin = servers[0].api("POST", "/api/v1/admin/setup", json=ADMIN_SETUP).json()
    headers = {"Authorization": f"Bearer {admin['access_token']}"}
    for server in servers:
        answer = server.api("POST", f"{BASE}/complex/invoke", headers=headers)
        assert (answer.status_code, answer.text) == (200, "from a file")
