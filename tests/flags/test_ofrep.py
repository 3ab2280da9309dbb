"""OFREP (`/ofrep/v1/evaluate/flags…`), and the OpenFeature project's own Python SDK and provider against it."""

from __future__ import annotations

import pytest
from openfeature import api as openfeature
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import ErrorCode, Reason

from tests.conftest import create_tenant

FLAGS, SEGMENTS = "/api/v1/admin/flags", "/api/v1/admin/segments"
ONE, BULK = "/ofrep/v1/evaluate/flags/{}", "/ofrep/v1/evaluate/flags"
THEME = {
    "key": "theme",
    "type": "string",
    "variants": {"light": "light", "dark": "dark", "blue": "blue"},
    "default_variant": "light",
    "rules": [
        {"conditions": [{"attribute": "email", "operator": "ends_with", "value": "@acme.com"}], "variant": "dark"},
        {"conditions": [{"attribute": "app.version", "operator": "semver_gte", "value": "2.0.0"}], "variant": "blue"},
    ],
}
ROLLOUT = {"key": "rollout", "rollout": [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}]}
LIMITS = {"key": "limits", "type": "object", "variants": {"basic": {"rps": 10}}, "default_variant": "basic"}
RATE = {"key": "rate", "type": "number", "variants": {"low": 0.5, "high": 2.5}, "default_variant": "high"}


@pytest.fixture
def flags(client, admin_headers):
    for body in (THEME, ROLLOUT, LIMITS, RATE, {"key": "off-switch", "enabled": False}):
        assert client.post(FLAGS, json=body, headers=admin_headers).status_code == 201
    return admin_headers


def evaluate(client, headers, key: str, context: dict | None = None, **extra):
    return client.post(ONE.format(key), json={"context": context or {}}, headers={**headers, **extra})


def test_a_custom_flag_answers_value_variant_and_reason(client, flags):
    matched = evaluate(client, flags, "theme", {"targetingKey": "u1", "email": "ann@acme.com"})
    assert matched.status_code == 200
    assert matched.json == {
        "key": "theme",
        "value": "dark",
        "reason": "TARGETING_MATCH",
        "variant": "dark",
        "metadata": {"kind": "custom"},
    }
    nested = evaluate(client, flags, "theme", {"targetingKey": "u1", "app": {"version": "2.1.0-rc.1"}})
    assert (nested.json["value"], nested.json["reason"]) == ("blue", "TARGETING_MATCH")
    default = evaluate(client, flags, "theme", {"targetingKey": "u1", "app": {"version": "1.9.9"}})
    assert (default.json["value"], default.json["reason"]) == ("light", "DEFAULT")
    assert evaluate(client, flags, "limits").json["value"] == {"rps": 10}
    assert evaluate(client, flags, "rate").json == {
        "key": "rate",
        "value": 2.5,
        "reason": "STATIC",
        "variant": "high",
        "metadata": {"kind": "custom"},
    }
    disabled = evaluate(client, flags, "off-switch")
    assert (disabled.json["value"], disabled.json["reason"], disabled.json["variant"]) == (False, "DISABLED", "off")


def test_a_declared_flag_is_a_static_boolean_that_follows_its_switch(client, admin_headers):
    on = evaluate(client, admin_headers, "advanced_mfa")
    assert on.json == {
        "key": "advanced_mfa",
        "value": True,
        "reason": "STATIC",
        "variant": "on",
        "metadata": {"kind": "declared"},
    }
    client.put("/api/v1/admin/settings/feature-flags/advanced_mfa", json={"enabled": False}, headers=admin_headers)
    off = evaluate(client, admin_headers, "advanced_mfa")
    assert (off.json["value"], off.json["reason"]) == (False, "DISABLED")


def test_a_rollout_is_sticky_per_targeting_key(client, flags):
    served = {
        key: evaluate(client, flags, "rollout", {"targetingKey": key}).json["value"] for key in map(str, range(40))
    }
    assert set(served.values()) == {True, False}
    again = {key: evaluate(client, flags, "rollout", {"targetingKey": key}).json["value"] for key in served}
    assert again == served
    assert evaluate(client, flags, "rollout", {"targetingKey": "7"}).json["reason"] == "SPLIT"


def test_errors_take_the_protocols_shape(client, flags):
    missing = evaluate(client, flags, "nope")
    assert missing.status_code == 404
    assert missing.json == {
        "key": "nope",
        "errorCode": "FLAG_NOT_FOUND",
        "errorDetails": "no flag 'nope' in this tenant",
    }
    no_key = evaluate(client, flags, "rollout", {"plan": "pro"})
    assert (no_key.status_code, no_key.json["errorCode"]) == (400, "TARGETING_KEY_MISSING")
    for body in ({"context": [1]}, {"context": "x"}, [1], {"context": {"targetingKey": 7}}):
        response = client.post(ONE.format("theme"), json=body, headers=flags)
        assert (response.status_code, response.json["errorCode"]) == (400, "INVALID_CONTEXT"), body
    huge = evaluate(client, flags, "theme", {"blob": "x" * 70_000})
    assert (huge.status_code, huge.json["errorCode"]) == (400, "INVALID_CONTEXT")
    garbled = client.post(ONE.format("theme"), data="{nope", headers={**flags, "Content-Type": "application/json"})
    assert (garbled.status_code, garbled.json["errorCode"]) == (400, "PARSE_ERROR")
    empty = client.post(ONE.format("theme"), headers=flags)
    assert (empty.status_code, empty.json["value"]) == (200, "light")


def test_an_app_user_is_the_targeting_key_when_none_is_given(client, auth, flags):
    user = auth.bearer(auth.signup("user@example.com"))
    mine = evaluate(client, user, "rollout")
    assert (mine.status_code, mine.json["reason"]) == (200, "SPLIT")
    user_id = client.get("/api/v1/auth/user", headers=user).json["id"]
    assert mine.json["value"] == evaluate(client, flags, "rollout", {"targetingKey": user_id}).json["value"]


def test_bulk_evaluates_every_flag_with_an_etag(client, flags):
    response = client.post(BULK, json={"context": {"targetingKey": "u1", "email": "a@acme.com"}}, headers=flags)
    assert response.status_code == 200
    by_key = {flag["key"]: flag for flag in response.json["flags"]}
    assert {"theme", "rollout", "limits", "rate", "off-switch", "passwordless_enabled", "advanced_mfa"} <= set(by_key)
    assert by_key["theme"]["value"] == "dark"
    tag = response.headers["ETag"]
    same = client.post(
        BULK, json={"context": {"targetingKey": "u1", "email": "a@acme.com"}}, headers={**flags, "If-None-Match": tag}
    )
    assert (same.status_code, same.get_data(), same.headers["ETag"]) == (304, b"", tag)
    other = client.post(BULK, json={"context": {"targetingKey": "u2"}}, headers={**flags, "If-None-Match": tag})
    assert other.status_code == 200
    star = client.post(BULK, json={"context": {"targetingKey": "u1"}}, headers={**flags, "If-None-Match": "*"})
    assert star.status_code == 200  # `*` names no evaluation: only the tag of this one may skip it
    client.patch(f"{FLAGS}/theme", json={"enabled": False}, headers=flags)
    changed = client.post(
        BULK, json={"context": {"targetingKey": "u1", "email": "a@acme.com"}}, headers={**flags, "If-None-Match": tag}
    )
    assert changed.status_code == 200
    assert {flag["key"]: flag for flag in changed.json["flags"]}["theme"]["reason"] == "DISABLED"
    no_key = client.post(BULK, json={"context": {}}, headers=flags).json["flags"]
    assert {flag["key"]: flag for flag in no_key}["rollout"]["errorCode"] == "TARGETING_KEY_MISSING"
    bad = client.post(BULK, json={"context": 3}, headers=flags)
    assert (bad.status_code, bad.json["errorCode"]) == (400, "INVALID_CONTEXT")


def test_a_change_made_through_another_process_is_evaluated_at_once(make_app, client, flags):
    """Two apps on one database, as two gunicorn workers: the other's compiled copy follows every change."""
    other = make_app(migrated=False).test_client()
    context = {"targetingKey": "u1", "email": "ann@acme.com"}
    assert evaluate(other, flags, "theme", context).json["value"] == "dark"  # compiled and kept by `other`
    client.patch(f"{FLAGS}/theme", json={"enabled": False}, headers=flags)
    assert evaluate(other, flags, "theme", context).json["reason"] == "DISABLED"
    client.put("/api/v1/admin/settings/feature-flags/advanced_mfa", json={"enabled": False}, headers=flags)
    assert evaluate(other, flags, "advanced_mfa").json["value"] is False
    client.post(
        SEGMENTS,
        json={"key": "vip", "conditions": [{"attribute": "vip", "operator": "equals", "value": True}]},
        headers=flags,
    )
    rule = {"conditions": [{"operator": "in_segment", "value": "vip"}], "variant": "blue"}
    client.patch(f"{FLAGS}/theme", json={"enabled": True, "rules": [rule]}, headers=flags)
    assert evaluate(other, flags, "theme", {"vip": True}).json["value"] == "blue"
    client.delete(f"{FLAGS}/rate", headers=flags)
    assert evaluate(other, flags, "rate").status_code == 404


def test_credentials_and_tenant_as_for_every_call(app, client, admin_headers, service_key, flags):
    assert client.post(ONE.format("theme"), json={}).status_code == 401
    assert evaluate(client, service_key(["flags:read"]), "theme").status_code == 200
    assert evaluate(client, service_key(["secrets:read"]), "theme").status_code == 403
    create_tenant(app, "acme")
    elsewhere = evaluate(client, admin_headers, "theme", **{"X-FB-Tenant": "acme"})
    assert (elsewhere.status_code, elsewhere.json["errorCode"]) == (404, "FLAG_NOT_FOUND")


# --- the OpenFeature SDK, over HTTP ----------------------------------------------------------------


def test_the_openfeature_sdk_evaluates_our_flags(live_server, live_admin):
    headers = {"Authorization": f"Bearer {live_admin['access_token']}"}
    for body in (THEME, RATE, LIMITS, {"key": "off-switch", "enabled": False}):
        assert live_server.api("POST", FLAGS, json=body, headers=headers).status_code == 201
    openfeature.set_provider(OFREPProvider(live_server.url, headers_factory=lambda: headers))
    try:
        client = openfeature.get_client()
        acme = EvaluationContext(targeting_key="u1", attributes={"email": "ann@acme.com"})
        details = client.get_string_details("theme", "fallback", acme)
        assert (details.value, details.variant, details.reason) == ("dark", "dark", Reason.TARGETING_MATCH)
        assert client.get_string_value("theme", "fallback", EvaluationContext(targeting_key="u2")) == "light"
        assert client.get_float_value("rate", 0.0) == 2.5
        assert client.get_object_value("limits", {}) == {"rps": 10}
        assert client.get_boolean_value("advanced_mfa", False) is True
        assert client.get_boolean_details("off-switch", True).reason == Reason.DISABLED
        missing = client.get_boolean_details("nope", True)
        assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
        wrong_type = client.get_boolean_details("theme", False, acme)
        assert (wrong_type.value, wrong_type.error_code) == (False, ErrorCode.TYPE_MISMATCH)
    finally:
        openfeature.shutdown()
