"""Attacks on shared-module bundling, npm/jsr packages, IMPORT_BLOCKED and sync (commits 48c759f, 60287ad, f536cc2).

Each test states what should hold. Most failed on f536cc2, each a finding since fixed: Deno's cache
shared by every tenant's builds (one tenant read another's code through it), files outside the
function inlined into a bundle, 500s (a module path that is also a folder, a long path, a sync
racing a delete), one broken function stopping a rebundle, IMPORT_BLOCKED evaded, bundled_modules
missing what the regex did not see.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from flux.db import db
from plugins.functions import builds
from plugins.functions.invoke import runtime
from tests.conftest import create_tenant
from tests.functions.conftest import BASE, HELLO, call, deploy, stored_bundle
from tests.functions.test_shared_modules import SHARED
from tests.functions.test_shared_modules import create as create_module

SYNC = "/api/v1/admin/functions/sync"
PAD_V2 = "export const pad = (t: string) => `<${t}>`;"
HANDLER = 'async function handler(req) { return { status: 200, body: "ok" } }'

pytestmark = pytest.mark.usefixtures("npm_reachable")


# --- a module path that is both a file and a folder ------------------------------------------------------------


def test_a_module_path_that_is_also_a_folder_is_no_500(client, admin_headers):
    """`_shared/a.ts` and `_shared/a.ts/b.ts` cannot both be: the build folder cannot hold both (it was a 500)."""
    create_module(client, admin_headers, "_shared/a.ts", "export const a = 1;")
    second = client.post(
        SHARED, json={"module_path": "_shared/a.ts/b.ts", "content": "export const b = 2;"}, headers=admin_headers
    )
    assert second.status_code == 409
    code = 'import { a } from "_shared/a.ts";\n' + HANDLER
    saved = client.post(BASE, json={"name": "f", "code": code}, headers=admin_headers)
    assert saved.status_code == 201, saved.get_data(as_text=True)[:500]


def test_a_module_that_is_a_prefix_folder_of_another_is_refused_at_creation(client, admin_headers):
    """Better still: the second of the two paths is refused when it is created, as a conflict."""
    create_module(client, admin_headers, "_shared/a.ts", "export const a = 1;")
    refused = client.post(
        SHARED, json={"module_path": "_shared/a.ts/b.ts", "content": "export const b = 2;"}, headers=admin_headers
    )
    assert refused.status_code in (400, 409)


# --- IMPORT_BLOCKED evasions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        'import { readFileSync } from /* a comment */ "node:fs";\n',
        "const cp = await import(`node:child_process`);\n",
    ],
    ids=["comment-before-specifier", "template-literal"],
)
def test_blocked_modules_are_refused_however_the_import_is_written(client, admin_headers, code):
    refused = client.post(BASE, json={"name": "f", "code": code + HANDLER}, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "IMPORT_BLOCKED", refused.json


def test_a_module_loaded_by_a_name_no_save_can_read_is_still_denied_when_it_runs(client, admin_headers):
    """A computed name (`createRequire`, concatenation) passes the save; the sandbox refuses what it would do."""
    code = """import { createRequire } from "node:module";
const load = createRequire(import.meta.url);
async function handler(req) {
  return { status: 200, body: String(load("child_" + "process").execSync("id")) };
}"""
    created = client.post(BASE, json={"name": "runner", "code": code}, headers=admin_headers)
    assert created.status_code == 201, created.json
    ran = client.post(f"{BASE}/runner/invoke", headers=admin_headers)
    assert ran.status_code == 500 and "uid=" not in ran.get_data(as_text=True), ran.json  # no process ran


def test_a_blocked_module_in_a_shared_module_bundle_is_refused(app, client, admin_headers):
    """Bundles of shared modules only (no packages) are never read for blocked imports."""
    create_module(client, admin_headers, "_shared/files.ts", 'export { readFileSync } from /* x */ "node:fs";')
    code = 'import { readFileSync } from "_shared/files.ts";\n' + HANDLER
    refused = client.post(BASE, json={"name": "f", "code": code}, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "IMPORT_BLOCKED", stored_bundle(app, "f")


def test_a_shared_module_the_regex_misses_is_still_read_for_blocked_imports(app, client, admin_headers):
    """`import … from/**/"_shared/x.ts"`: the module is bundled but never read (nor listed in bundled_modules)."""
    create_module(client, admin_headers, "_shared/files.ts", 'export { readFileSync } from "node:fs";')
    code = 'import { readFileSync } from/**/"_shared/files.ts";\nconsole.log(readFileSync);\n' + HANDLER
    refused = client.post(BASE, json={"name": "f", "code": code}, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "IMPORT_BLOCKED", stored_bundle(app, "f")


def test_bundled_modules_lists_every_module_in_the_bundle(app, client, admin_headers):
    create_module(client, admin_headers, "_shared/pad.ts", "export const pad = (t: string) => `[${t}]`;")
    code = 'import { pad } from/**/"_shared/pad.ts";\n' + HANDLER.replace('"ok"', 'pad("ok")')
    created = deploy(client, admin_headers, "f", code)
    assert "[${t}]" in stored_bundle(app, "f") or "`[" in stored_bundle(app, "f")
    assert created["bundled_modules"] == {"_shared/pad.ts": 1}


# --- server files in a bundle ---------------------------------------------------------------------------------


def test_a_bundle_cannot_inline_a_json_file_of_the_server(app, client, admin_headers):
    """The check's compiler options are mounted in the sandbox; a JSON import by absolute path inlines them."""
    create_module(client, admin_headers, "_shared/m.ts", "export const m = 1;")
    target = runtime(app).checker.config
    code = f'import {{ m }} from "_shared/m.ts";\nimport leaked from "{target}" with {{ type: "json" }};\n'
    code += "async function handler() { return { status: 200, body: JSON.stringify(leaked) } }"
    saved = client.post(BASE, json={"name": "f", "code": code}, headers=admin_headers)
    bundle = stored_bundle(app, "f") or ""
    assert "compilerOptions" not in bundle, f"the server's {target} is in the bundle"
    assert saved.status_code == 400 and saved.json["code"] == "CODE_INVALID"


def test_a_package_bundle_cannot_inline_a_host_file(app, client, admin_headers):
    """With packages the sandbox sees /etc/hosts; a text import must not bring it into the bundle."""
    code = 'import isNumber from "npm:is-number@7";\nimport hosts from "/etc/hosts" with { type: "text" };\n'
    code += "async function handler() { return { status: 200, body: String(isNumber(1)) + hosts } }"
    client.post(BASE, json={"name": "f", "code": code}, headers=admin_headers)
    bundle = stored_bundle(app, "f") or ""
    lines = Path("/etc/hosts").read_text().splitlines()
    hosts = next(line for line in lines if line.strip() and not line.startswith("#"))
    assert hosts not in bundle, f"/etc/hosts is in the bundle: {hosts!r}"


# --- another tenant's code, through Deno's shared, writable cache ------------------------------------------------

SECRET = "sk_live_other_tenant_7c1e"


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_a_bundle_cannot_read_another_tenants_modules_from_denos_cache(app, client, admin_headers, relative):
    """Every build's sandbox mounts one Deno cache (read-write) for all tenants; Deno writes there the transpiled
    code of each build (`gen/file/<build folder>/function.ts.js`, `_shared/….ts.js`) and, in its analysis cache,
    the paths of every build folder. A text import by absolute path (relative: `../../deno_dir/typecheck/…` with the
    default layout) inlines both into the attacker's bundle."""
    create_tenant(app, "victim")
    victim = {**admin_headers, "X-FB-Tenant": "victim"}
    create_module(client, victim, "_shared/secret.ts", f'export const key = "{SECRET}";')
    deploy(client, victim, "pay", 'import { key } from "_shared/secret.ts";\n' + HANDLER.replace('"ok"', "key"))

    cache = runtime(app).checker.confinement.cache
    if relative:  # as the build folder reaches it: `../../deno_dir/typecheck` with the default layout
        cache = os.path.relpath(cache, runtime(app).bundler.builds / "digest")
    create_module(client, admin_headers, "_shared/m.ts", "export const m = 1;")
    spy = 'import { m } from "_shared/m.ts";\n'
    spy += f'import index from "{cache}/dep_analysis_cache_v2" with {{ type: "text" }};\n'
    spy += "async function handler() { return { status: 200, body: index } }"
    client.post(BASE, json={"name": "index", "code": spy}, headers=admin_headers)
    index = (stored_bundle(app, "index") or "") + call(client, "index", headers=admin_headers).get_data(as_text=True)
    paths = sorted(set(re.findall(r"file://(/[^\s\"'\x00-\x1f]*?/builds/[0-9a-f]{64}/_shared/secret\.ts)", index)))
    leaked = index
    for path in paths:
        steal = 'import { m } from "_shared/m.ts";\n'
        steal += f'import code from "{cache}/gen/file{path}.js" with {{ type: "text" }};\n'
        steal += "async function handler() { return { status: 200, body: code } }"
        client.post(BASE, json={"name": "steal", "code": steal}, headers=admin_headers)
        leaked += (stored_bundle(app, "steal") or "") + call(client, "steal", headers=admin_headers).get_data(
            as_text=True
        )
    assert SECRET not in leaked, f"another tenant's shared module was read (through {paths})"
    assert "/builds/" not in index, "the build folders of every tenant are listed"


# --- the build folder's digest ---------------------------------------------------------------------------------


def test_another_tenant_cannot_poison_a_build_folder_by_its_digest(app, client, admin_headers):
    """The folder's digest hashes code, then NUL, path, NUL, content: code holding `\\0_shared/x.ts\\0<content>`
    hashes as another tenant's code with its module, and the first to build fills the folder (`write_once`)."""
    create_tenant(app, "victim")
    victim = {**admin_headers, "X-FB-Tenant": "victim"}
    module = "export const x = 1;"
    code = 'import { x } from "_shared/x.ts";\n' + HANDLER
    poisoned = code + "\0_shared/x.ts\0" + module  # the attacker, in the default tenant, with no modules
    client.post(BASE, json={"name": "poison", "code": poisoned}, headers=admin_headers)  # held: NUL_CHARACTER
    create_module(client, victim, "_shared/x.ts", module)
    saved = client.post(BASE, json={"name": "f", "code": code}, headers=victim)
    assert saved.status_code == 201, saved.json


# --- sync ------------------------------------------------------------------------------------------------------


def test_a_sync_racing_with_a_delete_is_no_500(app, client, admin_headers, monkeypatch):
    """`a` is unchanged (no build), and is deleted by another request while `b` is built: `built['a']` is a KeyError."""
    deploy(client, admin_headers, "a", HANDLER)
    build = builds.build

    def deleting_meanwhile(code, files=None):
        with db.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM functions WHERE name = 'a'"))
        return build(code, files)

    monkeypatch.setattr(builds, "build", deleting_meanwhile)
    answer = client.post(
        SYNC, json={"functions": [{"name": "a", "code": HANDLER}, {"name": "b", "code": HELLO}]}, headers=admin_headers
    )
    assert answer.status_code in (200, 409), answer.get_data(as_text=True)[:300]


# --- rebundle --------------------------------------------------------------------------------------------------


def test_one_function_that_no_longer_builds_does_not_stop_the_rebundle_of_the_others(app, client, admin_headers):
    create_module(client, admin_headers, "_shared/gone.ts", "export const g = 1;")
    create_module(client, admin_headers, "_shared/pad.ts", "export const pad = (t: string) => `[${t}]`;")
    deploy(client, admin_headers, "a", 'import { g } from "_shared/gone.ts";\n' + HANDLER)
    deploy(client, admin_headers, "b", 'import { pad } from "_shared/pad.ts";\n' + HANDLER.replace('"ok"', 'pad("v")'))
    assert client.delete(f"{SHARED}/gone.ts", headers=admin_headers).status_code == 204
    client.put(f"{SHARED}/pad.ts", json={"content": PAD_V2}, headers=admin_headers)
    rebundled = client.post(f"{SHARED}/rebundle", json={}, headers=admin_headers)
    assert rebundled.status_code == 200, rebundled.json
    assert call(client, "b", headers=admin_headers).data == b"<v>"


def test_rebundle_of_one_module_reaches_every_function_bundled_with_it(app, client, admin_headers):
    """bundled_modules is read off the sources by a regex: an import it misses is never rebundled."""
    create_module(client, admin_headers, "_shared/pad.ts", "export const pad = (t: string) => `[${t}]`;")
    code = 'import { pad } from/**/"_shared/pad.ts";\n' + HANDLER.replace('"ok"', 'pad("v")')
    deploy(client, admin_headers, "b", code)
    client.put(f"{SHARED}/pad.ts", json={"content": PAD_V2}, headers=admin_headers)
    client.post(f"{SHARED}/rebundle", json={"module_path": "pad.ts"}, headers=admin_headers)
    assert call(client, "b", headers=admin_headers).data == b"<v>"


# --- module paths ----------------------------------------------------------------------------------------------


def test_a_module_path_without_its_prefix_fits_the_column_once_prefixed(app, client, admin_headers):
    """The 255-character limit is checked before `_shared/` is added: 250 characters become 258 (PostgreSQL: 500)."""
    path = "a" * 247 + ".ts"
    created = client.post(SHARED, json={"module_path": path, "content": "export const a = 1;"}, headers=admin_headers)
    assert created.status_code in (201, 400), created.get_data(as_text=True)[:300]
    if created.status_code == 201:
        assert len(created.json["module_path"]) <= 255


# --- what held -------------------------------------------------------------------------------------------------


def test_proc_is_not_in_the_package_sandbox(app, client, admin_headers):
    code = 'import isNumber from "npm:is-number@7";\nimport env from "/proc/self/environ" with { type: "text" };\n'
    code += "async function handler() { return { status: 200, body: String(isNumber(1)) + env } }"
    saved = client.post(BASE, json={"name": "f", "code": code}, headers=admin_headers)
    assert "PATH=" not in (stored_bundle(app, "f") or "") and saved.status_code in (201, 400)


def test_rollback_to_code_whose_module_was_deleted_is_a_400(client, admin_headers):
    create_module(client, admin_headers, "_shared/gone.ts", "export const g = 1;")
    deploy(client, admin_headers, "a", 'import { g } from "_shared/gone.ts";\n' + HANDLER)
    client.put(f"{BASE}/a", json={"code": HANDLER}, headers=admin_headers)
    client.delete(f"{SHARED}/gone.ts", headers=admin_headers)
    rolled = client.post(f"{BASE}/a/rollback/1", headers=admin_headers)
    assert rolled.status_code == 400 and rolled.json["code"] == "CODE_INVALID"
    assert call(client, "a", headers=admin_headers).data == b"ok"


def test_rebundle_touches_only_the_callers_tenant(app, client, admin_headers):
    create_tenant(app, "other")
    other = {**admin_headers, "X-FB-Tenant": "other"}
    create_module(client, other, "_shared/m.ts", "export const m = 1;")
    deploy(client, other, "theirs", 'import { m } from "_shared/m.ts";\n' + HANDLER)
    create_module(client, admin_headers, "_shared/m.ts", "export const m = 2;")
    deploy(client, admin_headers, "mine", 'import { m } from "_shared/m.ts";\n' + HANDLER)
    rebundled = client.post(f"{SHARED}/rebundle", json={}, headers=admin_headers).json["rebundled"]
    assert [entry["name"] for entry in rebundled] == ["mine"]
