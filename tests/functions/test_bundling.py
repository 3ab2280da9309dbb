"""Functions that import shared modules: checked and bundled at save, run from the bundle, rebundled on demand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from flux.db import db
from plugins.functions.runtime import bundler
from tests.conftest import create_tenant
from tests.functions.conftest import BASE, HELLO, call, deploy
from tests.functions.test_shared_modules import SHARED
from tests.functions.test_shared_modules import create as create_module

PAD_V1 = "export const pad = (text: string): string => `[${text}]`;"
PAD_V2 = "export const pad = (text: string): string => `<${text}>`;"
CORS = """import { pad } from "./utils/pad.ts";
export function corsHeaders(origin?: string) {
  return { "Access-Control-Allow-Origin": origin || "*", "X-Pad": pad("v") };
}"""
USES_CORS = """import { corsHeaders } from "_shared/cors.ts";
async function handler(req) {
  return { status: 200, headers: corsHeaders(), body: "ok" };
}"""


pytestmark = pytest.mark.usefixtures("npm_reachable")


@pytest.fixture
def modules(client, admin_headers):
    create_module(client, admin_headers, "_shared/utils/pad.ts", PAD_V1)
    create_module(client, admin_headers, "_shared/cors.ts", CORS)
    create_module(client, admin_headers, "_shared/unused.ts", "export const unused = 1;")


def test_a_function_runs_its_bundle_with_the_modules_it_imports(client, admin_headers, modules):
    created = deploy(client, admin_headers, "api", USES_CORS)
    assert created["is_bundled"] is True and created["bundle_error"] is None
    assert created["bundled_modules"] == {"_shared/cors.ts": 1, "_shared/utils/pad.ts": 1}  # not the unused one
    assert "bundle" not in created  # the bundle is the server's, not part of the answer
    answer = call(client, "api", headers=admin_headers)
    assert (answer.status_code, answer.data, answer.headers["X-Pad"]) == (200, b"ok", "[v]")


def test_code_that_imports_nothing_is_not_bundled(client, admin_headers):
    created = deploy(client, admin_headers, "plain")
    assert (created["is_bundled"], created["bundle_error"], created["bundled_modules"]) == (False, None, {})
    assert call(client, "plain", headers=admin_headers, json={"name": "B"}).json == {"message": "Hello B!"}


def test_a_module_update_reaches_a_function_only_when_it_is_bundled_again(client, admin_headers, modules):
    deploy(client, admin_headers, "api", USES_CORS)
    deploy(client, admin_headers, "other", 'import { unused } from "_shared/unused.ts";\n' + HELLO)
    assert client.put(f"{SHARED}/utils/pad.ts", json={"content": PAD_V2}, headers=admin_headers).json["version"] == 2
    assert call(client, "api", headers=admin_headers).headers["X-Pad"] == "[v]"  # as deployed
    rebundled = client.post(f"{SHARED}/rebundle", json={"module_path": "utils/pad.ts"}, headers=admin_headers)
    assert rebundled.status_code == 200
    assert rebundled.json == {
        "rebundled": [
            {
                "name": "api",
                "namespace": "default",
                "version": 1,
                "changed": True,
                "error": None,
                "is_bundled": True,
                "bundle_error": None,
                "bundled_modules": {"_shared/cors.ts": 1, "_shared/utils/pad.ts": 2},
            }
        ]
    }
    assert call(client, "api", headers=admin_headers).headers["X-Pad"] == "<v>"  # the warm process was replaced
    again = client.post(f"{SHARED}/rebundle", json={}, headers=admin_headers).json["rebundled"]
    assert [(entry["name"], entry["changed"]) for entry in again] == [("api", False), ("other", False)]


def test_saving_the_same_code_again_bundles_it_with_the_current_modules(client, admin_headers, modules):
    deploy(client, admin_headers, "api", USES_CORS)
    client.put(f"{SHARED}/utils/pad.ts", json={"content": PAD_V2}, headers=admin_headers)
    saved = client.put(f"{BASE}/api", json={"code": USES_CORS}, headers=admin_headers).json
    assert saved["version"] == 1 and saved["bundled_modules"]["_shared/utils/pad.ts"] == 2  # no new version
    assert call(client, "api", headers=admin_headers).headers["X-Pad"] == "<v>"


def test_a_missing_or_broken_module_is_a_400_naming_it(client, admin_headers, modules):
    missing = client.post(
        BASE, json={"name": "f", "code": 'import "_shared/nope.ts";\n' + HELLO}, headers=admin_headers
    )
    assert missing.status_code == 400 and missing.json["code"] == "CODE_INVALID"
    assert "_shared/nope.ts" in missing.json["error"]
    create_module(client, admin_headers, "_shared/broken.ts", "export const n: number = 'text';")
    broken = client.post(
        BASE, json={"name": "f", "code": 'import "_shared/broken.ts";\n' + HELLO}, headers=admin_headers
    )
    assert broken.status_code == 400 and "_shared/broken.ts" in broken.json["error"]
    assert client.get(f"{BASE}/f", headers=admin_headers).status_code == 404


def test_a_module_cannot_bring_a_server_file_into_a_bundle(app, client, admin_headers):
    secret = "jwt-secret-marker-5d1c"
    Path(app.instance_path, "leak.ts").write_text(f'export const leaked = "{secret}";')
    create_module(client, admin_headers, "_shared/thief.ts", 'export { leaked } from "../../../../leak.ts";')
    code = (
        'import { leaked } from "_shared/thief.ts";\nasync function handler() { return { status: 200, body: leaked } }'
    )
    refused = client.post(BASE, json={"name": "thief", "code": code}, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "CODE_INVALID"
    assert secret not in refused.get_data(as_text=True) and app.instance_path not in refused.get_data(as_text=True)


def test_rollback_bundles_the_old_code_with_todays_modules(client, admin_headers, modules):
    deploy(client, admin_headers, "api", USES_CORS)
    client.put(f"{BASE}/api", json={"code": HELLO}, headers=admin_headers)
    client.put(f"{SHARED}/utils/pad.ts", json={"content": PAD_V2}, headers=admin_headers)
    rolled = client.post(f"{BASE}/api/rollback/1", headers=admin_headers).json
    assert rolled["version"] == 3 and rolled["bundled_modules"] == {"_shared/cors.ts": 1, "_shared/utils/pad.ts": 2}
    assert call(client, "api", headers=admin_headers).headers["X-Pad"] == "<v>"


def test_a_bundle_that_fails_is_stored_with_its_error_and_invoking_it_says_so(
    client, admin_headers, modules, monkeypatch
):
    monkeypatch.setattr(bundler, "MAX_BUNDLE_BYTES", 200)
    created = deploy(client, admin_headers, "api", USES_CORS)
    assert created["is_bundled"] is False and "at most 200" in created["bundle_error"]
    assert created["code"] == USES_CORS  # the code is kept
    failed = call(client, "api", headers=admin_headers)
    assert failed.status_code == 500 and failed.json["code"] == "BUNDLE_FAILED"
    assert failed.json["error"].startswith("Function bundling failed: the bundle is ")
    monkeypatch.undo()
    fixed = client.post(f"{SHARED}/rebundle", json={}, headers=admin_headers).json["rebundled"]
    assert [(entry["name"], entry["is_bundled"], entry["bundle_error"]) for entry in fixed] == [("api", True, None)]
    assert call(client, "api", headers=admin_headers).status_code == 200


def test_a_function_imports_only_its_own_tenants_modules(app, client, admin_headers):
    create_tenant(app, "other")
    create_module(client, {**admin_headers, "X-FB-Tenant": "other"}, "_shared/theirs.ts", "export const t = 1;")
    code = 'import { t } from "_shared/theirs.ts";\n' + HELLO
    refused = client.post(BASE, json={"name": "f", "code": code}, headers=admin_headers)
    assert refused.status_code == 400 and "_shared/theirs.ts" in refused.json["error"]


def test_a_call_reads_the_bundles_digest_and_the_bundle_only_when_the_node_lacks_its_module(
    app, client, admin_headers, modules
):
    deploy(client, admin_headers, "api", USES_CORS)
    statements: list[str] = []

    def record(connection, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert call(client, "api", headers=admin_headers).status_code == 200  # this node has no module of it yet
        first, statements[:] = list(statements), []
        assert call(client, "api", headers=admin_headers).status_code == 200
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", record)
    reads_bundle = re.compile(r"function_bundles\.bundle\b")
    assert [statement for statement in first if reads_bundle.search(statement)] != []
    assert [statement for statement in statements if reads_bundle.search(statement)] == []
