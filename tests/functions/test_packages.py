"""`npm:` and `jsr:` imports: fetched and bundled once at save, blocked Node modules refused, failures stored."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.functions.conftest import BASE, call, deploy, stored_bundle
from tests.functions.test_shared_modules import create as create_module

LODASH = """import { camelCase } from "npm:lodash-es@4";
import isNumber from "npm:is-number@7";
async function handler(req) {
  return { status: 200, body: camelCase("hello world") + " " + String(isNumber(5)) };
}"""


pytestmark = pytest.mark.usefixtures("npm_reachable")


def test_npm_packages_are_bundled_at_save_and_run_from_the_bundle(app, client, admin_headers):
    created = deploy(client, admin_headers, "words", LODASH)
    assert created["is_bundled"] is True and created["bundle_error"] is None and created["bundled_modules"] == {}
    bundle = stored_bundle(app, "words")
    assert "camelCase" in bundle and '"npm:' not in bundle  # nothing left to fetch when it runs
    answer = call(client, "words", headers=admin_headers)
    assert (answer.status_code, answer.data) == (200, b"helloWorld true")


def test_a_second_build_of_the_same_imports_needs_no_registry(client, admin_headers, monkeypatch):
    deploy(client, admin_headers, "words", LODASH)
    for name in ("HTTPS_PROXY", "https_proxy"):  # every fetch would fail: nothing listens there
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    again = deploy(client, admin_headers, "again", LODASH + "\n// another function, the same packages")
    assert again["is_bundled"] is True, again["bundle_error"]
    assert call(client, "again", headers=admin_headers).data == b"helloWorld true"


@pytest.mark.parametrize(
    ("code", "named"),
    [
        ('import { readFileSync } from "node:fs";', "'node:fs'"),
        ('import { readFile } from "fs/promises";', "'fs/promises'"),
        ('import cp from "child_process";', "'child_process'"),
        ('const vm = await import("node:vm");', "'node:vm'"),
        ('import process from "node:process";', "'node:process'"),
    ],
)
def test_blocked_node_modules_are_refused_naming_the_import(client, admin_headers, code, named):
    refused = client.post(BASE, json={"name": "f", "code": f"{code}\n{LODASH}"}, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "IMPORT_BLOCKED"
    assert refused.json["error"].startswith(f"the code imports {named}: functions may not use")
    assert client.get(f"{BASE}/f", headers=admin_headers).status_code == 404


def test_a_blocked_module_reached_through_a_package_is_refused(client, admin_headers):
    code = 'import fse from "npm:fs-extra@11";\nasync function handler() { return { status: 200, body: typeof fse } }'
    refused = client.post(BASE, json={"name": "f", "code": code}, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "IMPORT_BLOCKED"
    assert refused.json["error"].startswith("the bundle (a module or package the code imports) reaches 'node:")


def test_a_blocked_module_in_a_shared_module_is_refused(client, admin_headers):
    create_module(client, admin_headers, "_shared/files.ts", 'export { readFileSync } from "node:fs";')
    code = 'import { readFileSync } from "_shared/files.ts";\nasync function handler() { return { status: 200 } }'
    refused = client.post(BASE, json={"name": "f", "code": code}, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "IMPORT_BLOCKED"
    assert "the shared module _shared/files.ts imports 'node:fs'" in refused.json["error"]


def test_a_package_that_cannot_be_had_is_stored_with_its_error(client, admin_headers):
    code = 'import x from "npm:no-such-package-fluxbase-test-7f3a@1";\n'
    code += "async function handler() { return { status: 200, body: String(x) } }"
    created = deploy(client, admin_headers, "broken", code)
    assert created["is_bundled"] is False and created["code"] == code
    assert "npm package no-such-package-fluxbase-test-7f3a@1 could not be had" in created["bundle_error"]
    failed = call(client, "broken", headers=admin_headers)
    assert failed.status_code == 500 and failed.json["code"] == "BUNDLE_FAILED"
    assert "no-such-package-fluxbase-test-7f3a@1" in failed.json["error"]


def jsr_reachable() -> bool:
    try:
        urllib.request.urlopen("https://jsr.io/@std/assert/meta.json", timeout=5).close()
    except (urllib.error.URLError, OSError):
        return False
    return True


def test_jsr_packages_are_bundled_or_their_failure_is_named(client, admin_headers):
    """jsr.io is not reachable from every machine: there the stored error must say which package and why."""
    code = 'import { assert } from "jsr:@std/assert@1";\n'
    code += 'async function handler() { assert(true); return { status: 200, body: "jsr" } }'
    created = deploy(client, admin_headers, "checks", code)
    if jsr_reachable():
        assert created["is_bundled"] is True, created["bundle_error"]
        assert call(client, "checks", headers=admin_headers).data == b"jsr"
    else:
        assert created["is_bundled"] is False
        assert "package jsr:@std/assert@1 could not be had" in created["bundle_error"]
        assert "jsr registry cannot be reached" in created["bundle_error"]
