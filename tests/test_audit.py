"""The audit trail: stored with the change, listed per tenant, sinks told only after commit."""

from __future__ import annotations

from flux import audit
from flux.db import db
from flux.tenancy import tenant_scope
from tests.conftest import create_tenant
from tests.plugins.my_plugin import heard_events

KEYS = "/api/v1/admin/service-keys"


def test_listing_filters_and_limits(client, admin_headers):
    key = client.post(KEYS, json={"name": "one", "scopes": ["*"]}, headers=admin_headers).json
    client.post(f"{KEYS}/{key['id']}/disable", headers=admin_headers)
    client.post(f"{KEYS}/{key['id']}/revoke", json={"reason": "leaked"}, headers=admin_headers)
    events = client.get("/api/v1/admin/audit", headers=admin_headers).json
    assert [event["action"] for event in events] == [
        "service_key.revoked",
        "service_key.disabled",
        "service_key.created",
    ]
    assert events[0]["details"] == {"name": "one", "reason": "leaked"}
    assert key["key"] not in str(events)
    only = client.get("/api/v1/admin/audit?action=service_key.disabled", headers=admin_headers).json
    assert [event["action"] for event in only] == ["service_key.disabled"]
    assert len(client.get("/api/v1/admin/audit?limit=1", headers=admin_headers).json) == 1
    for bad in ("0", "1001", "many"):
        response = client.get(f"/api/v1/admin/audit?limit={bad}", headers=admin_headers)
        assert response.status_code == 400 and response.json["code"] == "INVALID_LIMIT"


def test_listing_needs_an_admin(client, auth):
    assert client.get("/api/v1/admin/audit").status_code == 401
    assert client.get("/api/v1/admin/audit", headers=auth.bearer(auth.signup())).status_code == 403


def test_events_are_per_tenant(app, client, admin_headers):
    create_tenant(app, "acme")
    client.post(KEYS, json={"name": "acme key", "scopes": ["*"]}, headers={**admin_headers, "X-FB-Tenant": "acme"})
    assert client.get("/api/v1/admin/audit", headers=admin_headers).json == []
    acme = client.get("/api/v1/admin/audit", headers={**admin_headers, "X-FB-Tenant": "acme"}).json
    assert [event["action"] for event in acme] == ["service_key.created"]


def test_rolled_back_changes_reach_no_sink(app):
    heard_events.clear()
    tenant = create_tenant(app, "acme")
    with app.test_request_context(), tenant_scope(tenant):
        audit.record("test.changed", "thing-1")
        db.session.rollback()
        assert heard_events == []
        audit.record("test.changed", "thing-2")
        db.session.commit()
    assert [event.target for event in heard_events] == ["thing-2"]
