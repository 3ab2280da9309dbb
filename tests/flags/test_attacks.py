"""An attacker's, an operator's and a real client's pass over tenant settings, feature flags, OFREP and CORS.

Each test is one attempt: a passing test shows the defence holds; a hole found is a
failing test with its fix, or `xfail(strict=True)` with the reason it stays open.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ADMIN_EMAIL, PASSWORD, AuthActions, create_tenant, login, tenant_admin
from tests.flags.test_settings_api import V1, default_tenant, stored

BRANDING = f"{V1}/branding"
TENANTS = "/api/v1/admin/tenants"
FLAGS, SEGMENTS = "/api/v1/admin/flags", "/api/v1/admin/segments"


# --- check-and-set ------------------------------------------------------------------------------


@pytest.mark.parametrize("if_match", ['W/"{tag}"', 'W/"stale"', ""])
def test_an_if_match_that_names_no_strong_tag_changes_nothing(client, admin_headers, if_match):
    """If-Match compares strongly (RFC 9110): a weak tag, even the current one's, or an empty list never matches."""
    tag = client.get(BRANDING, headers=admin_headers).headers["ETag"].strip('"')
    changed = client.put(
        BRANDING, json={"company_name": "Acme"}, headers={**admin_headers, "If-Match": if_match.format(tag=tag)}
    )
    assert (changed.status_code, changed.json["code"]) == (412, "PRECONDITION_FAILED")
    assert client.get(BRANDING, headers=admin_headers).json["company_name"] == ""
    reset = client.post(f"{V1}/reset/branding", headers={**admin_headers, "If-Match": 'W/"stale"'})
    assert reset.status_code == 412


@pytest.mark.parametrize("if_match", ['"{tag}"', '"stale", "{tag}"', "*"])
def test_an_if_match_naming_the_current_tag_or_star_changes(client, admin_headers, if_match):
    tag = client.get(BRANDING, headers=admin_headers).headers["ETag"].strip('"')
    changed = client.put(
        BRANDING, json={"company_name": "Acme"}, headers={**admin_headers, "If-Match": if_match.format(tag=tag)}
    )
    assert changed.status_code == 200, changed.json


# --- settings that govern the server ------------------------------------------------------------

ADMIN_LOGIN = "/api/v1/admin/login"


def admin_sign_in(client, password: str = PASSWORD):
    return client.post(ADMIN_LOGIN, json={"email": ADMIN_EMAIL, "password": password})


def test_the_default_tenants_admin_cannot_lock_the_instance_admins_out(app, client, admin_headers):
    """The default tenant's lockout governed platform accounts: its tenant admin set one attempt and 400 days,
    and one anonymous wrong password locked every instance admin out for 400 days."""
    tenant_admin(app, "ta@example.com", default_tenant(app))
    mine = login(client, "ta@example.com")
    weaponised = {"lockout": {"max_attempts": 1, "lockout_duration": 400 * 86400}}
    assert client.put(f"{V1}/authentication", json=weaponised, headers=mine).status_code == 200
    assert admin_sign_in(client, "wrong").status_code == 401
    assert admin_sign_in(client).status_code == 200


def test_the_default_tenants_admin_cannot_turn_the_instance_admins_lockout_off(app, client, admin_headers):
    tenant_admin(app, "ta@example.com", default_tenant(app))
    mine = login(client, "ta@example.com")
    assert client.put(f"{V1}/authentication", json={"lockout": {"enabled": False}}, headers=mine).status_code == 200
    assert [admin_sign_in(client, "wrong").status_code for _ in range(5)] == [401] * 5
    assert admin_sign_in(client).status_code == 429


def test_platform_accounts_follow_the_servers_lockout(make_app, monkeypatch):
    monkeypatch.setenv("FLUXBASE_SETTINGS_AUTHENTICATION_LOCKOUT_MAX_ATTEMPTS", "2")
    client = make_app().test_client()
    AuthActions(client).setup_admin()
    assert [admin_sign_in(client, "wrong").status_code for _ in range(2)] == [401, 401]
    assert admin_sign_in(client).status_code == 429


# --- a refused change changes nothing, on every storage backend -----------------------------------


@pytest.mark.parametrize("backend", ["sql", "memory"])
def test_a_change_of_several_categories_with_one_bad_value_changes_none(make_app, backend):
    """The memory store is outside the transaction: the first category was written before the second was refused."""
    client = make_app(STORAGE_BACKEND=backend).test_client()
    auth = AuthActions(client)
    headers = auth.bearer(auth.setup_admin())
    change = {"settings": {"branding.company_name": "Acme", "security.allowed_origins": ["not an origin"]}}
    refused = client.patch(f"{TENANTS}/default/settings", json=change, headers=headers)
    assert (refused.status_code, refused.json["code"]) == (400, "INVALID_FIELD")
    assert client.get(BRANDING, headers=headers).json["company_name"] == ""
    assert client.get(f"{TENANTS}/default/settings", headers=headers).json["settings"] == {}


# --- OFREP: every 400 in the protocol's shape ---------------------------------------------------

OFREP_ONE, OFREP_BULK = "/ofrep/v1/evaluate/flags/{}", "/ofrep/v1/evaluate/flags"


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        (OFREP_ONE.format("k" * 300), "{}", "FLAG_NOT_FOUND"),
        (OFREP_ONE.format("advanced_mfa"), '{"context": {"a": "\\u0000"}}', "INVALID_CONTEXT"),
        (OFREP_BULK, '{"context": {"a": "\\u0000"}}', "INVALID_CONTEXT"),
    ],
    ids=["long key", "NUL", "NUL in bulk"],
)
def test_an_ofrep_refusal_takes_the_protocols_shape(client, admin_headers, path, body, code):
    """The house body (`code`, `error`) made the OpenFeature provider fail with `GENERAL` "'errorCode'"."""
    headers = {**admin_headers, "Content-Type": "application/json"}
    response = client.post(path, data=body, headers=headers)
    assert response.status_code in (400, 404)
    assert response.json["errorCode"] == code, response.json
    assert response.json["errorDetails"]


# --- CORS ---------------------------------------------------------------------------------------

SECURITY = f"{V1}/security"


def test_an_origin_with_a_trailing_newline_is_refused(client, admin_headers):
    refused = client.put(SECURITY, json={"allowed_origins": ["https://app.example.com\n"]}, headers=admin_headers)
    assert (refused.status_code, refused.json["code"]) == (400, "INVALID_FIELD")
    assert client.get(SECURITY, headers=admin_headers).json["allowed_origins"] == []


@pytest.mark.parametrize("written", ["https://App.Example.com", "https://app.example.com:443"])
def test_an_origin_is_kept_as_a_browser_sends_it(client, admin_headers, written):
    """A browser's Origin has its host in lower case and no default port: written otherwise, it never matched."""
    changed = client.put(SECURITY, json={"allowed_origins": [written]}, headers=admin_headers)
    assert changed.status_code == 200, changed.json
    assert client.get(SECURITY, headers=admin_headers).json["allowed_origins"] == ["https://app.example.com"]
    answer = client.get(SECURITY, headers={**admin_headers, "Origin": "https://app.example.com"})
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


@pytest.mark.parametrize(
    "origin",
    ["https://app.example.com/", "https://APP.example.com", "http://app.example.com", "https://app.example.com:8443",
     "null", "https://app.example.com.evil.com", "https://evil.com", " https://app.example.com"],
)  # fmt: skip
def test_an_origin_that_differs_in_any_way_is_not_allowed(client, admin_headers, origin):
    client.put(SECURITY, json={"allowed_origins": ["https://app.example.com"]}, headers=admin_headers)
    answer = client.get(SECURITY, headers={**admin_headers, "Origin": origin})
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Origin" in answer.headers["Vary"]
    preflight = client.options(SECURITY, headers={"Origin": origin, "Access-Control-Request-Method": "PUT"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Credentials" not in {**answer.headers, **preflight.headers}


# --- regexes ------------------------------------------------------------------------------------

EVALUATE_IN_A_CHILD = """
import json, sys
from plugins.flags.definitions import FlagDefinition
from plugins.flags.evaluation import compile_flag
flag = compile_flag(FlagDefinition.model_validate(json.loads(sys.argv[1])), {})
flag.evaluate({"s": "a" * 4000 + "b"})
"""


@pytest.mark.parametrize("pattern", ["(a|a)*$", "(?:a|aa)*$", "(a+)+$", "(x*y)*$"])
def test_a_regex_cannot_hold_a_worker_for_long(client, admin_headers, pattern):
    """RE2 matches in linear time: patterns that take a backtracking engine 2^n steps are allowed and quick."""
    condition = {"attribute": "s", "operator": "regex", "value": pattern}
    flag = {"key": "slow", "rules": [{"conditions": [condition], "variant": "off"}]}
    saved = client.post(FLAGS, json=flag, headers=admin_headers)
    assert saved.status_code == 201, saved.json
    definition = json.dumps({**flag, "rules": saved.json["rules"]})
    subprocess.run([sys.executable, "-c", EVALUATE_IN_A_CHILD, definition], timeout=5, check=True)


# --- what held -----------------------------------------------------------------------------------


def test_a_tenant_admin_and_a_service_key_reach_nothing_of_another_tenant(app, client, admin_headers, service_key):
    other = create_tenant(app, "globex")
    acme = create_tenant(app, "acme")
    tenant_admin(app, "ta@example.com", acme)
    callers = [login(client, "ta@example.com"), service_key(["flags:read", "flags:write", "tenant_settings:write"])]
    for caller in callers:
        for tenant in ("globex", other, "GLOBEX", "globex "):
            headers = {**caller, "X-FB-Tenant": tenant}
            attempts = [
                client.get(f"{V1}/security", headers=headers),
                client.put(BRANDING, json={"company_name": "pwned"}, headers=headers),
                client.post(FLAGS, json={"key": "pwned"}, headers=headers),
                client.post(SEGMENTS, json={"key": "s", "conditions": [SOME_CONDITION]}, headers=headers),
                client.post(OFREP_BULK, json={}, headers=headers),
                client.put(f"{V1}/feature-flags/advanced_mfa", json={"enabled": False}, headers=headers),
            ]
            assert {response.status_code for response in attempts} <= {403, 404}, tenant
    assert stored(app, other) == {} and stored(app, other, "flags") == {}


SOME_CONDITION = {"attribute": "plan", "operator": "equals", "value": "pro"}


@pytest.mark.parametrize(
    "body",
    [
        {"key": "a:b"}, {"key": "a%"}, {"key": "a/b"}, {"key": "A"}, {"key": "x" * 129}, {"key": "é"},
        {"key": "k", "rules": [{"conditions": [{**SOME_CONDITION, "operator": "in", "value": list(range(1001))}],
                                "variant": "on"}]},
        {"key": "k", "rules": [{"conditions": [SOME_CONDITION], "variant": "on"}] * 51},
        {"key": "k", "rules": [{"conditions": [{**SOME_CONDITION, "operator": "semver_gt", "value": "1.0"}],
                                "variant": "on"}]},
        {"key": "k", "rules": [{"conditions": [{**SOME_CONDITION, "operator": "regex", "value": r"(a)\1"}],
                                "variant": "on"}]},
        {"key": "k", "rules": [{"conditions": [{**SOME_CONDITION, "operator": "lt", "value": True}],
                                "variant": "on"}]},
        {"key": "k", "type": "object", "variants": {"a": {"x": "y" * 20_000}}, "default_variant": "a"},
        {"key": "k", "type": "number", "variants": {"a": "1"}, "default_variant": "a"},
        {"key": "k", "rollout": [{"variant": "on", "weight": 60}, {"variant": "on", "weight": 40}]},
        {"key": "k", "rules": [{"conditions": [{"operator": "in_segment", "value": "nope"}], "variant": "on"}]},
        {"key": "advanced_mfa"}, [], "k",
    ],
)  # fmt: skip
def test_a_malformed_flag_is_a_4xx_and_stores_nothing(app, client, admin_headers, body):
    response = client.post(FLAGS, json=body, headers=admin_headers)
    assert response.status_code in (400, 404, 409, 413), response.json
    assert response.json["code"]
    assert stored(app, default_tenant(app), "flags") == {}


def test_keys_that_look_like_like_wildcards_stay_apart(client, admin_headers):
    for key in ("s_1", "s.1", "sx1"):
        body = {"key": key, "conditions": [{**SOME_CONDITION, "value": key}]}
        assert client.post(SEGMENTS, json=body, headers=admin_headers).status_code == 201
    for key in ("segment", "meta", "segment.x"):
        assert client.post(FLAGS, json={"key": key}, headers=admin_headers).status_code == 201
    assert [doc["key"] for doc in client.get(SEGMENTS, headers=admin_headers).json] == ["s.1", "s_1", "sx1"]
    assert [doc["key"] for doc in client.get(FLAGS, headers=admin_headers).json] == ["meta", "segment", "segment.x"]
    assert client.delete(f"{SEGMENTS}/s_1", headers=admin_headers).status_code == 204
    assert [doc["key"] for doc in client.get(SEGMENTS, headers=admin_headers).json] == ["s.1", "sx1"]


def test_extreme_but_valid_security_settings_answer_no_500(client, auth, admin_headers):
    extreme = {
        "password_policy": {"min_length": 1024, "require_symbols": True, "history_count": 100},
        "lockout": {"max_attempts": 1, "lockout_duration": 400 * 86400, "reset_after": 400 * 86400},
        "session": {"lifetime": 400 * 86400},
    }
    assert client.put(f"{V1}/authentication", json=extreme, headers=admin_headers).status_code == 200
    assert client.put(f"{V1}/tokens", json={"access_token_lifetime": 86400}, headers=admin_headers).status_code == 200
    password = "Aa1!" + "x" * 1020
    tokens = auth.signup("user@example.com", password)
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 200
    wrong = client.post("/api/v1/auth/signin", json={"email": "user@example.com", "password": "nope"})
    assert wrong.status_code == 401
    locked = client.post("/api/v1/auth/signin", json={"email": "user@example.com", "password": password})
    assert (locked.status_code, int(locked.headers["Retry-After"]) > 399 * 86400) == (429, True)
    for too_far in ({"password_policy": {"min_length": 1025}}, {"lockout": {"lockout_duration": 10**20}}):
        assert client.put(f"{V1}/authentication", json=too_far, headers=admin_headers).status_code == 400


def test_a_patch_over_http_reaches_no_other_tenant_and_stores_no_bad_value(live_server, live_admin):
    """Against a running server: the partial change of a custom flag (`PATCH`), as another tenant's key would try it."""
    admin = {"Authorization": f"Bearer {live_admin['access_token']}"}
    assert live_server.api("POST", TENANTS, json={"slug": "globex", "name": "Globex"}, headers=admin).status_code == 201
    made = live_server.api("POST", FLAGS, json={"key": "beta", "enabled": False}, headers=admin)
    assert made.status_code == 201
    body = {"name": "globex-key", "scopes": ["flags:write"]}
    key = live_server.api("POST", "/api/v1/admin/service-keys", json=body, headers={**admin, "X-FB-Tenant": "globex"})
    globex = {"X-Service-Key": key.json()["key"]}
    for tenant in ({}, {"X-FB-Tenant": "default"}):
        reached = live_server.api("PATCH", f"{FLAGS}/beta", json={"enabled": True}, headers={**globex, **tenant})
        assert reached.status_code in (403, 404), reached.text
    for bad in ({"enabled": "yes"}, {"default_variant": "nope"}, {"rules": "all"}, ["enabled"]):
        refused = live_server.api("PATCH", f"{FLAGS}/beta", json=bad, headers=admin)
        assert refused.status_code == 400, (bad, refused.text)
        assert refused.json()["code"] in ("INVALID_FIELD", "INVALID_BODY"), refused.text
    stored = live_server.api("GET", f"{FLAGS}/beta", headers=admin).json()
    assert (stored["enabled"], stored["version"]) == (False, 1)
