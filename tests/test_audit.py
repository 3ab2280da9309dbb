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
    assert client.get("/api/v1/admin/audit?action=", headers=admin_headers).json == events
    for bad in ("0", "1001", "many"):
        response = client.get(f"/api/v1/admin/audit?limit={bad}", headers=admin_headers)
        assert response.status_code == 400 and response.json["code"] == "INVALID_PAGE"


def test_an_event_has_the_fields_of_an_audit_event(app, client, admin_headers):
    key = client.post(KEYS, json={"name": "one", "scopes": ["*"]}, headers=admin_headers).json
    [event] = client.get("/api/v1/admin/audit", headers=admin_headers).json
    admin_id = client.get("/api/v1/admin/me", headers=admin_headers).json["user"]["id"]
    with app.app_context(), tenant_scope(key["tenant_id"]):
        created_at = db.session.get(audit.AuditRecord, event["id"]).created_at
    assert event == {
        "id": event["id"],
        "tenant_id": key["tenant_id"],
        "action": "service_key.created",
        "target": key["id"],
        "actor_kind": "platform",
        "actor_id": admin_id,
        "details": {"name": "one", "scopes": ["*"]},
        "ip_address": "127.0.0.1",
        "created_at": created_at.isoformat(),
    }


def test_the_trail_comes_in_pages_newest_first(client, admin_headers):
    key = client.post(KEYS, json={"name": "one", "scopes": ["*"]}, headers=admin_headers).json
    for n in range(54):
        client.put(f"{KEYS}/{key['id']}", json={"description": f"change {n}"}, headers=admin_headers)
    first = client.get("/api/v1/admin/audit", headers=admin_headers)
    assert len(first.json) == 50 and first.headers["X-Total-Count"] == "55"
    assert first.json[0]["action"] == "service_key.updated"
    rest = client.get("/api/v1/admin/audit?limit=10&offset=50", headers=admin_headers)
    assert len(rest.json) == 5 and rest.headers["X-Total-Count"] == "55"
    assert rest.json[-1]["action"] == "service_key.created"
    everything = client.get("/api/v1/admin/audit?limit=1000", headers=admin_headers).json
    assert everything == first.json + rest.json
    only = client.get("/api/v1/admin/audit?action=service_key.created&limit=1", headers=admin_headers)
    assert len(only.json) == 1 and only.headers["X-Total-Count"] == "1"
    assert client.get("/api/v1/admin/audit?offset=-1", headers=admin_headers).json["code"] == "INVALID_PAGE"


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
