"""Directory functions: an entry with files of its own beside it (`./helpers.ts`), stored with each version."""

from __future__ import annotations

import json

import pytest

from tests.functions.conftest import BASE, call, deploy
from tests.functions.test_api import stored
from tests.functions.test_shared_modules import create as create_module

ENTRY = """import { greet } from "./helpers.ts";
import type { Greeting } from "./lib/types.ts";
async function handler(req) {
  const greeting: Greeting = { text: greet("files") };
  return { status: 200, body: greeting.text };
}"""
HELPERS_V1 = (
    'import { shout } from "./lib/shout.ts";\nexport const greet = (name: string): string => shout(`hi ${name}`);'
)
HELPERS_V2 = (
    'import { shout } from "./lib/shout.ts";\nexport const greet = (name: string): string => shout(`bye ${name}`);'
)
FILES = {
    "helpers.ts": HELPERS_V1,
    "lib/shout.ts": "export const shout = (text: string): string => text.toUpperCase();",
    "lib/types.ts": "export interface Greeting { text: string }",
}

pytestmark = pytest.mark.usefixtures("npm_reachable")


def test_a_directory_function_runs_with_its_own_files(app, client, admin_headers):
    created = deploy(client, admin_headers, "complex", ENTRY, files=FILES)
    assert (created["files"], created["is_bundled"], created["bundle_error"]) == (FILES, True, None)
    answer = call(client, "complex", headers=admin_headers)
    assert (answer.status_code, answer.data) == (200, b"HI FILES")
    [version] = stored(app, "function_versions")
    files = version["files"]  # JSON: text on SQLite, a dict on PostgreSQL
    assert (json.loads(files) if isinstance(files, str) else files) == FILES


def test_changing_only_a_file_is_a_new_version_and_rollback_brings_the_old_files_back(client, admin_headers):
    deploy(client, admin_headers, "complex", ENTRY, files=FILES)
    changed = client.put(f"{BASE}/complex", json={"files": {**FILES, "helpers.ts": HELPERS_V2}}, headers=admin_headers)
    assert (changed.status_code, changed.json["version"]) == (200, 2), changed.json
    assert call(client, "complex", headers=admin_headers).data == b"BYE FILES"
    same = client.put(f"{BASE}/complex", json={"files": {**FILES, "helpers.ts": HELPERS_V2}}, headers=admin_headers)
    assert same.json["version"] == 2  # the same files: no new version
    versions = client.get(f"{BASE}/complex/versions?code=true", headers=admin_headers).json
    assert [version["files"]["helpers.ts"] for version in versions] == [HELPERS_V2, HELPERS_V1]
    rolled = client.post(f"{BASE}/complex/rollback/1", headers=admin_headers)
    assert (rolled.status_code, rolled.json["version"], rolled.json["files"]) == (200, 3, FILES)
    assert call(client, "complex", headers=admin_headers).data == b"HI FILES"


def test_a_compile_error_in_a_file_names_the_file(app, client, admin_headers):
    broken = {**FILES, "lib/shout.ts": "export const shout = (text: string): number => text.toUpperCase();"}
    answer = client.post(BASE, json={"name": "complex", "code": ENTRY, "files": broken}, headers=admin_headers)
    assert (answer.status_code, answer.json["code"]) == (400, "CODE_INVALID")
    assert "lib/shout.ts" in answer.json["error"] and "not assignable" in answer.json["error"]
    assert stored(app, "functions") == []


def test_a_relative_import_of_a_file_it_does_not_have_is_refused(app, client, admin_headers):
    answer = client.post(BASE, json={"name": "complex", "code": ENTRY, "files": {}}, headers=admin_headers)
    assert (answer.status_code, answer.json["code"]) == (400, "CODE_INVALID")
    assert "./helpers.ts" in answer.json["error"]
    assert stored(app, "functions") == []


@pytest.mark.parametrize(
    "path",
    [
        "../escape.ts",
        "/etc/passwd.ts",
        "lib/../../x.ts",
        "function.ts",
        "bundle.js",
        "_shared/cors.ts",
        ".hidden.ts",
        "notes.txt",
        "a//b.ts",
        "",
    ],
)
def test_file_paths_outside_the_function_or_the_servers_own_names_are_refused(app, client, admin_headers, path):
    answer = client.post(
        BASE,
        json={"name": "complex", "code": ENTRY, "files": {**FILES, path: "export const x = 1;"}},
        headers=admin_headers,
    )
    assert (answer.status_code, answer.json["code"]) == (400, "INVALID_FIELD"), answer.json
    assert stored(app, "functions") == []


def test_a_file_that_imports_a_blocked_module_is_refused_naming_it(app, client, admin_headers):
    files = {**FILES, "lib/shout.ts": 'import { readFileSync } from "node:fs";\nexport const shout = (t: string) => t;'}
    answer = client.post(BASE, json={"name": "complex", "code": ENTRY, "files": files}, headers=admin_headers)
    assert (answer.status_code, answer.json["code"]) == (400, "IMPORT_BLOCKED")
    assert "lib/shout.ts" in answer.json["error"] and "node:fs" in answer.json["error"]


def test_a_file_may_import_shared_modules(client, admin_headers):
    create_module(client, admin_headers, "_shared/prefix.ts", 'export const prefix = "shared:";')
    files = {
        **FILES,
        "helpers.ts": 'import { prefix } from "_shared/prefix.ts";\nexport const greet = (n: string) => prefix + n;',
    }
    created = deploy(client, admin_headers, "complex", ENTRY, files=files)
    assert created["bundled_modules"] == {"_shared/prefix.ts": 1}
    assert call(client, "complex", headers=admin_headers).data == b"shared:files"
