"""Invoking functions: seed 003's example handlers, the request and response contract, secrets, roles."""

from __future__ import annotations

import pytest

from plugins.functions import invoke
from tests.functions.conftest import BASE, HELLO, call, deploy

VALIDATE = """async function handler(req) {
  const { email } = JSON.parse(req.body || "{}");
  if (!email || !email.includes("@")) {
    return { status: 400, body: JSON.stringify({ error: "Invalid email" }) };
  }
  return { status: 200, body: JSON.stringify({ valid: true }) };
}"""
HANDLED = """async function handler(req) {
  try {
    const data = JSON.parse(req.body || "{}");
    if (data.fail) throw new Error("bad input");
    return { status: 200, body: JSON.stringify({ result: data }) };
  } catch (error) {
    return { status: 500, body: JSON.stringify({ error: "Processing failed", message: error.message }) };
  }
}"""
USER_CONTEXT = """async function handler(req) {
  const userId = req.user_id;
  if (!userId) {
    return { status: 401, body: JSON.stringify({ error: "Unauthorized" }) };
  }
  return { status: 200, body: JSON.stringify({ userId, userEmail: req.user_email, userRole: req.user_role,
                                               session: req.session_id }) };
}"""
SECRETS = """export default async function handler(req: Request) {
  const found = {
    get: secrets.get("shared"),
    user: secrets.getUser("shared"),
    system: secrets.getSystem("shared"),
    fn: secrets.get("FN_ONLY"),
    env: Deno.env.get("FLUXBASE_SECRET_FN_ONLY"),
    missing: secrets.get("missing") ?? null,
  };
  console.log("function secret is", found.fn);
  if (new URL(req.url).searchParams.get("require")) secrets.getRequired("missing");
  return new Response(JSON.stringify(found), { status: 200, headers: { "content-type": "application/json" } });
}"""
ECHO = """async function handler(req) {
  return { status: 202, headers: { "X-Echo": "yes", "Content-Type": "application/json" },
           body: JSON.stringify({ method: req.method, params: req.params, body: req.body, headers: req.headers,
                                  url: req.url, user_id: req.user_id ?? null }) };
}"""


def test_hello_world(client, admin_headers):
    deploy(client, admin_headers, "hello-world")
    response = call(client, "hello-world", admin_headers, json={"name": "Alice"})
    assert response.status_code == 200 and response.json == {"message": "Hello Alice!"}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Fluxbase-Execution-Id"]
    assert call(client, "hello-world", admin_headers, method="GET").json == {"message": "Hello World!"}


def test_validation_returns_the_functions_400(client, admin_headers):
    deploy(client, admin_headers, "validate", code=VALIDATE)
    assert call(client, "validate", admin_headers, json={"email": "nope"}).status_code == 400
    assert call(client, "validate", admin_headers, json={"email": "nope"}).get_json(force=True) == {
        "error": "Invalid email"
    }
    assert call(client, "validate", admin_headers, json={"email": "a@b.c"}).get_json(force=True) == {"valid": True}


def test_handled_errors_are_the_functions_own_500(client, admin_headers):
    deploy(client, admin_headers, "process", code=HANDLED)
    response = call(client, "process", admin_headers, json={"fail": True})
    assert response.status_code == 500
    assert response.get_json(force=True) == {"error": "Processing failed", "message": "bad input"}
    executions = client.get(f"{BASE}/process/executions", headers=admin_headers).json
    assert executions[0]["status"] == "success" and executions[0]["status_code"] == 500


def test_a_thrown_error_is_500_with_its_message_and_the_stack_in_the_execution(client, admin_headers):
    code = "async function handler(req) {\n  throw new Error('database unreachable')\n}"
    deploy(client, admin_headers, "throws", code=code)
    response = call(client, "throws", admin_headers)
    assert response.status_code == 500
    assert response.json == {"error": "Function error", "message": "database unreachable"}
    execution = client.get(f"{BASE}/throws/executions", headers=admin_headers).json[0]
    assert execution["status"] == "error" and execution["status_code"] == 500
    assert "database unreachable" in execution["error"] and "function.ts:2" in execution["error"]


def test_user_context_comes_from_the_jwt(client, auth, admin_headers):
    deploy(client, admin_headers, "whoami", code=USER_CONTEXT, allow_unauthenticated=True)
    tokens = auth.signup("ada@example.com")
    answer = call(client, "whoami", auth.bearer(tokens)).get_json(force=True)
    assert answer["userEmail"] == "ada@example.com" and answer["userRole"] == "authenticated"
    assert answer["userId"] == tokens["user"]["id"] and answer["session"]
    anonymous = call(client, "whoami")
    assert anonymous.status_code == 401 and anonymous.get_json(force=True) == {"error": "Unauthorized"}


def test_the_request_object_and_a_passed_through_response(client, auth, admin_headers):
    deploy(client, admin_headers, "echo", code=ECHO)
    user = auth.bearer(auth.signup("ada@example.com"))
    response = call(
        client, "echo", {**user, "X-Custom": "1", "Cookie": "a=b"}, data="raw body", query_string={"q": "x"}
    )
    assert response.status_code == 202 and response.headers["X-Echo"] == "yes"
    seen = response.json
    assert (seen["method"], seen["params"], seen["body"]) == ("POST", {"q": "x"}, "raw body")
    assert seen["url"].endswith("/api/v1/functions/echo/invoke?q=x") and seen["user_id"]
    assert seen["headers"]["x-custom"] == "1"
    # The caller's credentials are not the function's to reuse.
    assert not {"authorization", "cookie", "x-service-key"} & set(seen["headers"])


def test_plain_values_and_response_objects(client, admin_headers):
    deploy(client, admin_headers, "plain", code="async function handler(req) { return { list: [1, 2] } }")
    deploy(client, admin_headers, "number", code="async function handler(req) { return 42 }")
    deploy(
        client,
        admin_headers,
        "native",
        code="export default async () => new Response('made', { status: 201, headers: { 'x-made': '1' } })",
    )
    assert call(client, "plain", admin_headers).json == {"list": [1, 2]}
    assert call(client, "number", admin_headers).json == 42
    native = call(client, "native", admin_headers)
    assert (native.status_code, native.get_data(as_text=True), native.headers["x-made"]) == (201, "made", "1")


@pytest.mark.parametrize("status", [999, 101, 100, 199])
def test_invalid_answers_are_502_and_recorded(client, admin_headers, status):
    """1xx too, as the Fetch standard's Response refuses: a 101 behind a proxy would open a tunnel to the server."""
    code = f"async function handler(req) {{ return {{ status: {status} }} }}"
    deploy(client, admin_headers, "badstatus", code=code)
    response = call(client, "badstatus", admin_headers)
    assert response.status_code == 502 and "invalid status" in response.json["error"]
    execution = client.get(f"{BASE}/badstatus/executions", headers=admin_headers).json[0]
    assert (execution["status"], execution["status_code"]) == ("error", 502)


def test_secrets_object_and_env(app, client, auth, admin_headers):
    deploy(client, admin_headers, "secrets", code=SECRETS)
    add = [
        client.post(
            "/api/v1/admin/settings/custom/secret",
            json={"key": "shared", "value": "system-value"},
            headers=admin_headers,
        ),
        client.post("/api/v1/secrets", json={"name": "FN_ONLY", "value": "function-global"}, headers=admin_headers),
        client.post(
            "/api/v1/secrets",
            json={"name": "FN_ONLY", "value": "function-default-ns", "namespace": "default"},
            headers=admin_headers,
        ),
    ]
    assert [response.status_code for response in add] == [201, 201, 201]
    user = auth.bearer(auth.signup("ada@example.com"))
    assert (
        client.post("/api/v1/settings/secret", json={"key": "shared", "value": "user-value"}, headers=user).status_code
        == 201
    )
    as_user = call(client, "secrets", user).json
    assert as_user == {
        "get": "user-value",
        "user": "user-value",
        "system": "system-value",
        "fn": "function-default-ns",
        "env": "function-default-ns",
        "missing": None,
    }
    as_admin = call(client, "secrets", admin_headers).json
    assert as_admin["get"] == "system-value" and "user" not in as_admin  # undefined: no user secrets
    required = call(client, "secrets", admin_headers, query_string={"require": "1"})
    assert required.status_code == 500 and 'Secret "missing" is not set' in required.json["message"]
    logs = client.get(f"{BASE}/secrets/logs", headers=admin_headers).json
    assert [line["message"] for line in logs][:2] == ["function secret is ***", "function secret is ***"]


def test_who_may_invoke(client, auth, admin_headers, service_key):
    deploy(client, admin_headers, "private")
    deploy(client, admin_headers, "open", allow_unauthenticated=True)
    deploy(client, admin_headers, "off", enabled=False)
    user = auth.bearer(auth.signup("ada@example.com"))
    assert call(client, "private").status_code == 401
    assert call(client, "private", user).status_code == 200
    assert call(client, "open").status_code == 200
    disabled = call(client, "off", admin_headers)
    assert (disabled.status_code, disabled.json["code"]) == (403, "FUNCTION_DISABLED")
    assert call(client, "private", service_key(["functions:execute"])).status_code == 200
    refused = call(client, "private", service_key(["functions:read"]))
    assert (refused.status_code, refused.json["code"]) == (403, "FORBIDDEN")


@pytest.mark.parametrize("path", ["ops/hello", "hello?namespace=ops"])
def test_namespaced_invoke(client, admin_headers, path):
    deploy(client, admin_headers, "hello", namespace="ops")
    name, _, query = path.partition("?")
    response = call(client, name, admin_headers, query_string=query)
    assert response.status_code == 200 and response.json == {"message": "Hello World!"}
    assert call(client, "hello", admin_headers).status_code == 404


def test_the_exact_version_is_recorded(client, admin_headers):
    deploy(client, admin_headers, "v")
    call(client, "v", admin_headers)
    client.put(f"{BASE}/v", json={"code": HELLO.replace("Hello", "Hi")}, headers=admin_headers)
    assert call(client, "v", admin_headers, json={"name": "Bo"}).json == {"message": "Hi Bo!"}
    executions = client.get(f"{BASE}/v/executions", headers=admin_headers).json
    assert [execution["version"] for execution in executions] == [2, 1]


READS_TWICE = """async function handler(req) {
  const first = secrets.get("TOKEN");
  const found = { first, again: secrets.getRequired("TOKEN"), env: Deno.env.get("FLUXBASE_SECRET_TOKEN") };
  return { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify(found) };
}"""


def test_secrets_are_fetched_only_when_the_function_reads_them_once_per_name(client, admin_headers, monkeypatch):
    asked = []
    ask = invoke.invocation_secret
    monkeypatch.setattr(invoke, "invocation_secret", lambda *args: asked.append(args[3:]) or ask(*args))
    added = client.post("/api/v1/secrets", json={"name": "TOKEN", "value": "token-value"}, headers=admin_headers)
    assert added.status_code == 201
    deploy(client, admin_headers, "plain")
    deploy(client, admin_headers, "reader", code=READS_TWICE, permissions={"env": True})
    assert call(client, "plain", admin_headers).json == {"message": "Hello World!"}
    assert asked == []  # nothing read: nothing fetched, opened or sent to the worker
    answer = call(client, "reader", admin_headers)
    assert answer.json == {"first": "token-value", "again": "token-value", "env": "token-value"}
    once = [("TOKEN",), ("FLUXBASE_SECRET_TOKEN", ("env",))]
    assert asked == once  # a name read twice is fetched once per call
    assert call(client, "reader", admin_headers).json["first"] == "token-value"
    assert asked == once * 2  # and again by the next call: nothing crosses calls
