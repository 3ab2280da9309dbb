"""Custom flags and segments: `/api/v1/admin/flags…`, `/api/v1/admin/segments…`."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from flux.audit import AuditRecord
from flux.db import db
from flux.storage.sql import kv_table
from flux.tenancy import tenant_scope
from plugins.flags import store
from tests.conftest import create_tenant

FLAGS, SEGMENTS = "/api/v1/admin/flags", "/api/v1/admin/segments"
CHECKOUT = {
    "key": "new-checkout",
    "type": "string",
    "display_name": "New checkout",
    "variants": {"old": "v1", "new": "v2"},
    "default_variant": "old",
    "rules": [
        {"conditions": [{"attribute": "email", "operator": "ends_with", "value": "@acme.com"}], "variant": "new"},
        {"conditions": [{"operator": "in_segment", "value": "beta"}], "variant": "new"},
    ],
    "rollout": [{"variant": "new", "weight": 10}, {"variant": "old", "weight": 90}],
}
BETA = {
    "key": "beta",
    "description": "beta testers",
    "conditions": [{"attribute": "beta", "operator": "equals", "value": True}],
}


def stored(app, tenant_id: str) -> dict:
    """The tenant's stored flags, switches and segments (its revision token apart)."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(kv_table.c.key, kv_table.c.value).where(kv_table.c.namespace == f"tenant:{tenant_id}:flags")
        )
        return {key: json.loads(value) for key, value in rows if key != store.REVISION_KEY}


def tenant_id(app, slug: str = "default") -> str:
    from flux.tenancy import find_tenant

    with app.app_context():
        return find_tenant(slug).id


def made(client, headers, path: str, body: dict) -> dict:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def test_a_flag_is_created_read_listed_changed_and_deleted(app, client, admin_headers):
    made(client, admin_headers, SEGMENTS, BETA)
    created = made(client, admin_headers, FLAGS, CHECKOUT)
    assert created["version"] == 1
    assert created["off_variant"] == "old"  # a string flag's off variant defaults to its default
    assert created["enabled"] is True and created["updated_at"] > 0
    assert client.get(f"{FLAGS}/new-checkout", headers=admin_headers).json == created
    listed = client.get(FLAGS, headers=admin_headers)
    assert ([flag["key"] for flag in listed.json], listed.headers["X-Total-Count"]) == (["new-checkout"], "1")
    document = stored(app, tenant_id(app))["new-checkout"]
    assert document["definition"]["rules"][0]["variant"] == "new"

    off = client.patch(f"{FLAGS}/new-checkout", json={"enabled": False}, headers=admin_headers)
    assert (off.status_code, off.json["enabled"], off.json["version"]) == (200, False, 2)
    assert off.json["rules"] == created["rules"]  # what the patch did not name stays
    replaced = client.put(f"{FLAGS}/new-checkout", json={"type": "boolean"}, headers=admin_headers)
    assert replaced.status_code == 200
    assert (replaced.json["variants"], replaced.json["rules"], replaced.json["version"]) == (
        {"on": True, "off": False},
        [],
        3,
    )

    assert client.delete(f"{FLAGS}/new-checkout", headers=admin_headers).status_code == 204
    assert client.get(f"{FLAGS}/new-checkout", headers=admin_headers).status_code == 404
    assert client.delete(f"{FLAGS}/new-checkout", headers=admin_headers).status_code == 404
    with app.app_context(), tenant_scope(tenant_id(app)):
        actions = list(db.session.scalars(sa.select(AuditRecord.action).order_by(AuditRecord.created_at)))
    assert actions[-5:] == ["segment.create", "flag.create", "flag.update", "flag.update", "flag.delete"]


def test_pages_of_flags(client, admin_headers):
    for index in range(5):
        made(client, admin_headers, FLAGS, {"key": f"flag-{index}"})
    page = client.get(FLAGS, query_string={"limit": 2, "offset": 2}, headers=admin_headers)
    assert ([flag["key"] for flag in page.json], page.headers["X-Total-Count"]) == (["flag-2", "flag-3"], "5")


@pytest.mark.parametrize(
    ("body", "status", "code", "named"),
    [
        ({**CHECKOUT, "default_variant": "neither"}, 400, "INVALID_FIELD", "default_variant"),
        ({**CHECKOUT, "rollout": [{"variant": "new", "weight": 60}]}, 400, "INVALID_FIELD", "rollout"),
        ({"key": "Bad Key"}, 400, "INVALID_FIELD", "key"),
        (
            {"key": "x", "type": "number", "variants": {"a": "1"}, "default_variant": "a"},
            400,
            "INVALID_FIELD",
            "variants.a",
        ),
        ({"key": "passwordless_enabled"}, 409, "ALREADY_EXISTS", "'passwordless_enabled' is a declared flag"),
        (
            {
                **CHECKOUT,
                "key": "uses-ghost",
                "rules": [{"conditions": [{"operator": "in_segment", "value": "ghost"}], "variant": "new"}],
            },
            404,
            "NOT_FOUND",
            "no segment 'ghost'",
        ),
    ],
)
def test_bad_flags_are_refused_naming_the_field(app, client, admin_headers, body, status, code, named):
    response = client.post(FLAGS, json=body, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (status, code), response.json
    assert response.json["error"].startswith(named) or named in response.json["error"], response.json["error"]
    assert stored(app, tenant_id(app)) == {}


def test_a_key_exists_once_and_cannot_change(client, admin_headers):
    made(client, admin_headers, FLAGS, {"key": "once"})
    again = client.post(FLAGS, json={"key": "once"}, headers=admin_headers)
    assert (again.status_code, again.json["code"]) == (409, "ALREADY_EXISTS")
    renamed = client.put(f"{FLAGS}/once", json={"key": "twice"}, headers=admin_headers)
    assert (renamed.status_code, renamed.json["code"]) == (400, "INVALID_FIELD")
    assert client.put(f"{FLAGS}/ghost", json={}, headers=admin_headers).status_code == 404
    assert client.patch(f"{FLAGS}/ghost", json={"enabled": True}, headers=admin_headers).status_code == 404


def test_a_segment_in_use_cannot_go(client, admin_headers):
    made(client, admin_headers, SEGMENTS, BETA)
    made(client, admin_headers, FLAGS, CHECKOUT)
    refused = client.delete(f"{SEGMENTS}/beta", headers=admin_headers)
    assert (refused.status_code, refused.json["code"]) == (409, "SEGMENT_IN_USE")
    assert "new-checkout" in refused.json["error"]
    client.delete(f"{FLAGS}/new-checkout", headers=admin_headers)
    assert client.delete(f"{SEGMENTS}/beta", headers=admin_headers).status_code == 204


def test_segments_are_checked_and_replaced(client, admin_headers):
    nested = {**BETA, "conditions": [{"operator": "in_segment", "value": "other"}]}
    refused = client.post(SEGMENTS, json=nested, headers=admin_headers)
    assert (refused.status_code, refused.json["code"]) == (400, "INVALID_FIELD")
    made(client, admin_headers, SEGMENTS, BETA)
    changed = client.put(
        f"{SEGMENTS}/beta",
        json={"conditions": [{"attribute": "plan", "operator": "in", "value": ["pro"]}]},
        headers=admin_headers,
    )
    assert (changed.status_code, changed.json["version"]) == (200, 2)
    assert [segment["key"] for segment in client.get(SEGMENTS, headers=admin_headers).json] == ["beta"]


def test_a_tenant_has_at_most_so_many_flags(client, admin_headers, monkeypatch):
    monkeypatch.setattr(store, "MAX_FLAGS", 2)
    made(client, admin_headers, FLAGS, {"key": "a"})
    made(client, admin_headers, FLAGS, {"key": "b"})
    refused = client.post(FLAGS, json={"key": "c"}, headers=admin_headers)
    assert (refused.status_code, refused.json["code"]) == (409, "TOO_MANY_FLAGS")


def test_flags_are_per_tenant(app, client, admin_headers, service_key):
    create_tenant(app, "acme")
    in_acme = {**admin_headers, "X-FB-Tenant": "acme"}
    made(client, in_acme, FLAGS, {"key": "acme-only"})
    assert client.get(FLAGS, headers=admin_headers).json == []
    assert client.get(f"{FLAGS}/acme-only", headers=admin_headers).status_code == 404
    assert client.delete(f"{FLAGS}/acme-only", headers=admin_headers).status_code == 404
    assert list(stored(app, tenant_id(app, "acme"))) == ["acme-only"]
    reader = service_key(["flags:read"])
    assert client.get(FLAGS, headers=reader).status_code == 200
    assert client.post(FLAGS, json={"key": "k"}, headers=reader).status_code == 403


def test_who_may(client, auth):
    assert client.get(FLAGS).status_code == 401
    user = auth.bearer(auth.signup())
    assert client.get(FLAGS, headers=user).status_code == 403
    assert client.post(SEGMENTS, json=BETA, headers=user).status_code == 403
