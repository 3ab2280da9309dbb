"""The dashboard's Feature flags page (flags plugin) through the Flask test client: switches, custom flags, segments."""

from __future__ import annotations

import html
import json

import pytest

from tests.conftest import ADMIN_EMAIL, login
from tests.flags.test_dashboard_settings_page import acme_admin_and_member, secrets_shown
from tests.flags.test_flags_api import FLAGS, SEGMENTS, stored, tenant_id
from tests.flags.test_settings_api import V1, audits

PAGE = "/dashboard/flags/"
RULE = {"conditions": [{"attribute": "email", "operator": "ends_with", "value": "@acme.com"}], "variant": "on"}
BETA = {"key": "beta", "conditions": json.dumps([{"attribute": "beta", "operator": "equals", "value": True}])}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def flag_form(key: str = "checkout", rollout: dict[str, str] | None = None, **fields) -> dict:
    """What the new-flag form posts: a boolean flag with one rule, and `rollout` as `{variant: weight}`."""
    rows = rollout or {"on": "", "off": ""}
    return {
        "key": key,
        "type": "boolean",
        "enabled": "y",
        "rules": json.dumps([RULE]),
        "rollout_variant": [*rows, "", ""],
        "rollout_weight": [*rows.values(), "", ""],
        **fields,
    }


@pytest.fixture
def headers(client, dashboard) -> dict:
    return login(client, ADMIN_EMAIL)


def actions(app, action: str) -> list[dict]:
    return [record.details for record in audits(app, tenant_id(app), action)]


def test_a_declared_flag_is_switched_as_through_the_api(app, client, dashboard, headers):
    page = text(client.get(PAGE))
    assert '<tr data-key="passwordless_enabled" data-enabled="false">' in page
    assert "Enable passwordless authentication with WebAuthn/Passkeys" in page
    switched = dashboard.post(f"{PAGE}declared/passwordless_enabled/on")
    assert (switched.status_code, switched.headers["Location"]) == (302, PAGE)
    flags = client.get(f"{V1}/feature-flags", headers=headers).json["flags"]
    assert {flag["key"]: flag["enabled"] for flag in flags}["passwordless_enabled"] is True
    assert '<tr data-key="passwordless_enabled" data-enabled="true">' in text(client.get(PAGE))
    assert actions(app, "settings.update")[-1]["changes"] == {"passwordless_enabled": {"old": False, "new": True}}
    assert dashboard.post(f"{PAGE}declared/nope/on").status_code == 404


def test_a_custom_flag_with_a_rule_and_a_rollout_is_created_and_evaluated(app, client, dashboard, headers):
    created = dashboard.post(f"{PAGE}custom", flag_form(rollout={"on": "30", "off": "70"}, display_name="Checkout"))
    assert (created.status_code, created.headers["Location"]) == (302, f"{PAGE}custom/checkout")
    definition = client.get(f"{FLAGS}/checkout", headers=headers).json
    assert definition["rules"] == [{**RULE, "name": None, "rollout": None}]
    assert definition["rollout"] == [{"variant": "on", "weight": 30}, {"variant": "off", "weight": 70}]
    assert (definition["variants"], definition["default_variant"], definition["display_name"]) == (
        {"on": True, "off": False},
        "on",
        "Checkout",
    )
    assert actions(app, "flag.create") == [{"key": "checkout", "version": 1}]
    context = {"targetingKey": "u1", "email": "a@acme.com"}
    evaluated = client.post("/ofrep/v1/evaluate/flags/checkout", json={"context": context}, headers=headers)
    assert (evaluated.json["value"], evaluated.json["reason"]) == (True, "TARGETING_MATCH")
    listed = text(client.get(PAGE))
    assert secrets_shown(app, client, headers, client.get(PAGE), client.get(f"{PAGE}custom/checkout")) == []
    assert '<tr data-key="checkout" data-enabled="true">' in listed
    assert "<code>on</code> 30%, <code>off</code> 70%" in listed


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rules": "[{"}, "Rules (JSON list): not JSON: Expecting"),
        ({"rules": json.dumps([{**RULE, "variant": "blue"}])}, "rules.0.variant: 'blue' is not a variant of this flag"),
        ({"rules": json.dumps([{"conditions": [], "variant": "on"}])}, "rules.0.conditions: List should have"),
        ({"rollout": {"on": "30", "off": "60"}}, "rollout: weights sum to 90; they must sum to 100"),
        ({"rollout": {"on": "x", "off": "100"}}, "rollout.0.weight: Input should be a valid integer"),
        ({"variants": '{"on": 1}', "default_variant": "on"}, "variants.on: must be true or false for a boolean flag"),
        ({"key": "Not A Key"}, "key: 'Not A Key' is not 1 to 128 lowercase letters"),
        ({"key": "advanced_mfa"}, "'advanced_mfa' is a declared flag"),
    ],
)
def test_a_refused_flag_names_the_field_and_keeps_what_was_typed(app, client, dashboard, fields, message):
    form = flag_form(**{name: value for name, value in fields.items() if name != "rollout"})
    if "rollout" in fields:
        form = flag_form(rollout=fields["rollout"])
    refused = dashboard.post(f"{PAGE}custom", form)
    assert refused.status_code in (400, 409)
    assert message in text(refused)
    assert form["rules"] in text(refused)  # what was typed is shown again
    assert stored(app, tenant_id(app)) == {} and actions(app, "flag.create") == []


def test_a_flag_is_edited_switched_and_deleted(app, client, dashboard, headers):
    dashboard.post(f"{PAGE}custom", flag_form())
    edit = text(client.get(f"{PAGE}custom/checkout"))
    assert json.dumps(client.get(f"{FLAGS}/checkout", headers=headers).json["rules"], indent=2) in edit
    assert 'name="rollout_weight" value="" min="0" max="100" aria-label="Weight of on"' in edit
    changed = flag_form(rules="[]", rollout={"on": "50", "off": "50"}, description="half")
    saved = dashboard.post(f"{PAGE}custom/checkout", {**changed, "key": "ignored"})
    assert (saved.status_code, saved.headers["Location"]) == (302, f"{PAGE}custom/checkout")
    definition = client.get(f"{FLAGS}/checkout", headers=headers).json
    assert (definition["version"], definition["rules"], definition["description"]) == (2, [], "half")
    assert definition["rollout"] == [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}]
    refused = dashboard.post(f"{PAGE}custom/checkout", {**changed, "default_variant": "maybe"})
    assert refused.status_code == 400 and "default_variant: 'maybe' is not a variant" in text(refused)

    assert dashboard.post(f"{PAGE}custom/checkout/disable").status_code == 302
    assert client.get(f"{FLAGS}/checkout", headers=headers).json["enabled"] is False
    assert '<tr data-key="checkout" data-enabled="false">' in text(client.get(PAGE))
    assert dashboard.post(f"{PAGE}custom/checkout/enable").status_code == 302
    assert client.get(f"{FLAGS}/checkout", headers=headers).json["version"] == 4

    assert dashboard.post(f"{PAGE}custom/checkout/delete").status_code == 302
    assert client.get(f"{FLAGS}/checkout", headers=headers).status_code == 404
    assert client.get(f"{PAGE}custom/checkout").status_code == 404
    assert dashboard.post(f"{PAGE}custom/checkout/delete").status_code == 404
    assert [details["version"] for details in actions(app, "flag.update")] == [2, 3, 4]
    assert actions(app, "flag.delete") == [{"key": "checkout"}]


def test_segments_are_created_listed_and_deleted_unless_in_use(app, client, dashboard, headers):
    assert dashboard.post(f"{PAGE}segments", BETA).status_code == 302
    assert client.get(f"{SEGMENTS}/beta", headers=headers).json["conditions"][0]["attribute"] == "beta"
    assert '<tr data-key="beta">' in text(client.get(PAGE))
    broken = dashboard.post(f"{PAGE}segments", {**BETA, "key": "gamma", "conditions": "{}"})
    assert broken.status_code == 400 and "conditions: Input should be a valid list" in text(broken)
    in_segment = [{"conditions": [{"operator": "in_segment", "value": "beta"}], "variant": "on"}]
    assert dashboard.post(f"{PAGE}custom", flag_form(rules=json.dumps(in_segment))).status_code == 302
    refused = dashboard.post(f"{PAGE}segments/beta/delete")
    assert refused.status_code == 409 and "flags still name the segment 'beta': checkout" in text(refused)
    dashboard.post(f"{PAGE}custom/checkout/delete")
    assert dashboard.post(f"{PAGE}segments/beta/delete").status_code == 302
    assert set(stored(app, tenant_id(app))) == set()
    assert actions(app, "segment.create") == [{"key": "beta", "version": 1}]


def test_a_tenant_admin_sees_their_own_tenants_flags_only(app, client, auth):
    acme, boss, member = acme_admin_and_member(app, client, auth)
    assert 'href="/dashboard/flags/"' in text(client.get("/dashboard/"))
    assert boss.post(f"{PAGE}custom", flag_form()).status_code == 302
    assert set(stored(app, acme)) == {"checkout"} and stored(app, tenant_id(app)) == {}
    assert member.client.get(PAGE).status_code == 403
    assert member.post(f"{PAGE}custom/checkout/delete").status_code == 403
    assert set(stored(app, acme)) == {"checkout"}
