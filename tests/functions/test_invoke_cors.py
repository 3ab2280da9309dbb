"""CORS of invoke routes: preflights answered by the server from each function's settings, never by the function."""

from __future__ import annotations

import sqlalchemy as sa

from flux.db import db
from tests.flags.test_governing import put
from tests.functions.conftest import HELLO, call, deploy

APP, OTHER = "https://app.example.com", "https://other.example.com"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key"}
# A function that would answer a preflight itself, with a wider policy than its settings give.
OWN_CORS = """// @fluxbase:allow-unauthenticated
// @fluxbase:cors-origins https://app.example.com
// @fluxbase:cors-methods POST,OPTIONS
// @fluxbase:cors-headers Content-Type,X-API-Key
// @fluxbase:cors-max-age 300
async function handler(req) {
  console.log("ran for " + req.method)
  return { status: 200, headers: { "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "true" },
           body: "ok" }
}"""


def executions(app) -> int:
    with app.app_context(), db.engine.connect() as connection:
        return connection.execute(sa.text("SELECT count(*) FROM function_executions")).scalar_one()


def test_a_preflight_gets_exactly_the_functions_allowances_and_never_runs_it(app, client, admin_headers):
    deploy(client, admin_headers, "hook", OWN_CORS)
    answer = call(client, "hook", method="OPTIONS", headers={"Origin": APP, **PREFLIGHT})
    assert answer.status_code == 204 and answer.data == b""
    assert answer.headers["Access-Control-Allow-Origin"] == APP
    assert answer.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert answer.headers["Access-Control-Allow-Headers"] == "Content-Type, X-API-Key"
    assert answer.headers["Access-Control-Max-Age"] == "300"
    assert "Access-Control-Allow-Credentials" not in answer.headers
    assert "Origin" in answer.headers["Vary"]
    assert executions(app) == 0


def test_a_disallowed_origin_gets_no_allowance(app, client, admin_headers):
    deploy(client, admin_headers, "hook", OWN_CORS)
    refused = call(client, "hook", method="OPTIONS", headers={"Origin": OTHER, **PREFLIGHT})
    assert refused.status_code == 204
    assert not [name for name in refused.headers.keys() if name.startswith("Access-Control-")]
    real = call(client, "hook", headers={"Origin": OTHER})
    assert real.status_code == 200 and real.data == b"ok"  # it ran; the browser keeps the answer from the page
    assert not [name for name in real.headers.keys() if name.startswith("Access-Control-")]  # its own `*` dropped
    assert "Origin" in real.headers["Vary"]


def test_a_real_answer_names_an_allowed_origin(app, client, admin_headers):
    deploy(client, admin_headers, "hook", OWN_CORS)
    real = call(client, "hook", headers={"Origin": APP})
    assert real.status_code == 200
    assert real.headers["Access-Control-Allow-Origin"] == APP
    assert "X-Fluxbase-Execution-Id" in real.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in real.headers  # the function's own claim is not passed on
    assert "Origin" in real.headers["Vary"]
    assert executions(app) == 1


def test_credentials_are_allowed_only_when_set(client, admin_headers):
    code = "// @fluxbase:cors-origins https://app.example.com\n// @fluxbase:cors-credentials true\n" + HELLO
    deploy(client, admin_headers, "with-cookies", code)
    preflight = call(client, "with-cookies", method="OPTIONS", headers={"Origin": APP, **PREFLIGHT})
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    real = call(client, "with-cookies", headers={"Origin": APP, **admin_headers}, json={})
    assert real.status_code == 200 and real.headers["Access-Control-Allow-Credentials"] == "true"


def test_the_api_wins_over_the_code_for_cors(client, admin_headers):
    deploy(client, admin_headers, "hook", OWN_CORS, cors_origins=[OTHER])
    assert (
        call(client, "hook", method="OPTIONS", headers={"Origin": OTHER, **PREFLIGHT}).headers[
            "Access-Control-Allow-Origin"
        ]
        == OTHER
    )
    refused = call(client, "hook", method="OPTIONS", headers={"Origin": APP, **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_the_tenants_origins_do_not_reach_invoke_routes(client, admin_headers):
    """The tenant allows OTHER for its API; the function allows only APP, and decides alone."""
    put(client, admin_headers, "security", {"allowed_origins": [OTHER]})
    deploy(client, admin_headers, "hook", OWN_CORS)
    assert "Access-Control-Allow-Origin" not in call(client, "hook", headers={"Origin": OTHER}).headers
    preflight = call(client, "hook", method="OPTIONS", headers={"Origin": OTHER, **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    # The rest of the API still follows the tenant.
    assert client.get("/api/v1/auth/config", headers={"Origin": OTHER}).headers["Access-Control-Allow-Origin"] == OTHER


def test_errors_of_an_invoke_route_carry_its_cors(client, admin_headers):
    """A browser may read why its call failed: a 401 of the function, a 404 with the defaults (any origin)."""
    deploy(client, admin_headers, "private", "// @fluxbase:cors-origins https://app.example.com\n" + HELLO)
    refused = call(client, "private", headers={"Origin": APP})
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == APP
    missing = call(client, "nothing-here", headers={"Origin": OTHER})
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == OTHER
    preflight = call(client, "nothing-here", method="OPTIONS", headers={"Origin": OTHER, **PREFLIGHT})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == OTHER


def test_a_request_without_an_origin_gets_no_cors_headers(client, admin_headers):
    deploy(client, admin_headers, "hook", OWN_CORS)
    answer = call(client, "hook")
    assert answer.status_code == 200
    assert not [name for name in answer.headers.keys() if name.startswith("Access-Control-")]
