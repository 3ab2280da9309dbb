"""Service keys end to end: every lifecycle step through the real HTTP endpoints.

Each test asserts what the API answers and what the database holds afterwards, so a
key that is "revoked" in the response but still usable, or a plaintext key that leaks
into a column, fails here.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from flux import hookimpl
from flux.auth.models import ServiceKey
from flux.db import db, utcnow
from flux.tenancy import find_tenant
from tests.conftest import create_tenant

BASE = "/api/v1/admin/service-keys"
ACCESS_DENIED = "access denied to this tenant"

# --- helpers ---------------------------------------------------------------------------


def create_key(client, headers: dict, scopes: list[str] | None = None, **fields: Any) -> dict:
    body = {"name": "ci", "scopes": scopes or ["service_keys:read"], **fields}
    response = client.post(BASE, json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def as_key(key: str, **extra: str) -> dict:
    return {"X-Service-Key": key, **extra}


def list_status(client, headers: dict) -> int:
    return client.get(BASE, headers=headers).status_code


def rows(app, table: str) -> list[dict]:
    """Raw rows, read past the ORM and its tenant scoping: what is really stored."""
    with app.app_context(), db.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text(f"SELECT * FROM {table}"))]


def set_columns(app, key_id: str, **values: Any) -> None:
    """Move a key's clock-dependent columns instead of sleeping."""
    with app.app_context():
        statement = sa.update(ServiceKey).where(ServiceKey.id == key_id).values(**values)
        db.session.execute(statement.execution_options(all_tenants=True))
        db.session.commit()


def an_hour_ago():
    return utcnow() - timedelta(hours=1)


@pytest.fixture
def admin_key(client, admin_headers) -> dict:
    """A key allowed to manage keys, created by the instance admin in the default tenant."""
    return create_key(client, admin_headers, ["service_keys:read", "service_keys:write"], name="manager")


# --- create ------------------------------------------------------------------------------


def test_create_shows_the_key_once_and_stores_only_its_hash(app, client, admin_headers):
    created = create_key(client, admin_headers, ["service_keys:read", "secrets:*"], description="deploys")
    plaintext = created["key"]
    _, lookup, secret = plaintext.split("_", 2)
    assert plaintext.startswith("fbk_") and len(lookup) == 12 and len(secret) == 43
    assert created["key_prefix"] == f"fbk_{lookup}"
    assert created["scopes"] == ["secrets:*", "service_keys:read"]
    assert created["status"] == "active" and created["description"] == "deploys"
    assert "key_hash" not in created

    listed = client.get(BASE, headers=admin_headers)
    fetched = client.get(f"{BASE}/{created['id']}", headers=admin_headers)
    for response in (listed, fetched):
        assert response.status_code == 200
        assert plaintext not in response.get_data(as_text=True) and secret not in response.get_data(as_text=True)
    assert [key["id"] for key in listed.json] == [created["id"]]
    assert "key" not in listed.json[0] and "key" not in fetched.json
    assert {k: v for k, v in created.items() if k != "key"} == fetched.json

    [stored] = rows(app, "service_keys")
    assert stored["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert stored["prefix"] == lookup
    for column, value in stored.items():
        assert secret not in str(value), f"the key's secret is stored in column {column}"
    with app.app_context():
        assert stored["tenant_id"] == find_tenant("default").id


def test_expires_at_in_the_future_is_kept_in_utc(client, admin_headers):
    created = create_key(client, admin_headers, expires_at="2999-01-01T05:00:00+05:00")
    assert created["expires_at"] == "2999-01-01T00:00:00+00:00"
    assert created["status"] == "active"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        pytest.param({"scopes": ["service_keys:read"]}, "FIELD_REQUIRED", "name: Field required", id="missing-name"),
        pytest.param({"name": "   ", "scopes": ["*"]}, "INVALID_FIELD", "name: must not be blank", id="blank-name"),
        pytest.param({"name": 7, "scopes": ["*"]}, "INVALID_FIELD", "name: ", id="name-not-a-string"),
        pytest.param({"name": "ci", "scopes": []}, "INVALID_FIELD", "at least one scope", id="empty-scopes"),
        pytest.param(
            {"name": "ci", "scopes": "service_keys:read"}, "INVALID_FIELD", "scopes: ", id="scopes-not-a-list"
        ),
        pytest.param(
            {"name": "ci", "scopes": ["service_keys:read", 3]}, "INVALID_FIELD", "scopes.1", id="not-a-string"
        ),
        pytest.param({"name": "ci", "scopes": ["secrets:destroy"]}, "INVALID_FIELD", "unknown scope", id="unknown"),
        pytest.param({"name": "ci", "scopes": ["nothing:*"]}, "INVALID_FIELD", "unknown scope", id="unknown-family"),
        pytest.param({"name": "ci", "scopes": ["*:*"]}, "INVALID_FIELD", "unknown scope", id="wildcard-family"),
        pytest.param({"name": "x" * 201, "scopes": ["*"]}, "INVALID_FIELD", "name: ", id="name-too-long"),
        pytest.param(
            {"name": "ci", "description": "d" * 2001}, "INVALID_FIELD", "description: ", id="long-description"
        ),
    ],
)
def test_create_rejects_bad_fields(app, client, admin_headers, body, code, message):
    response = client.post(BASE, json=body, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, code)
    assert message in response.json["error"]
    assert rows(app, "service_keys") == []


@pytest.mark.parametrize(
    ("expires_at", "message"),
    [
        pytest.param("2001-01-01T00:00:00Z", "must be in the future", id="past"),
        pytest.param("next tuesday", "RFC 3339", id="unparsable"),
        pytest.param("2999-01-01T00:00:00", "RFC 3339", id="naive"),
        pytest.param(20990101, "RFC 3339", id="number"),
        pytest.param("9999-12-31T23:59:59-01:00", "RFC 3339", id="overflow"),
    ],
)
def test_an_expiry_must_be_a_future_time_with_an_offset(app, client, admin_headers, admin_key, expires_at, message):
    """The one expiry rule (`flux.schemas.FutureTime`), on create and on update."""
    created = client.post(BASE, json={"name": "ci", "expires_at": expires_at}, headers=admin_headers)
    updated = client.put(f"{BASE}/{admin_key['id']}", json={"expires_at": expires_at}, headers=admin_headers)
    for response in (created, updated):
        assert (response.status_code, response.json["code"]) == (400, "INVALID_FIELD")
        assert response.json["error"].startswith("expires_at: ") and message in response.json["error"]
    assert [row["expires_at"] for row in rows(app, "service_keys")] == [None]


def test_expires_at_null_removes_the_expiry(client, admin_headers):
    created = create_key(client, admin_headers, expires_at="2999-01-01T00:00:00Z")
    updated = client.put(f"{BASE}/{created['id']}", json={"expires_at": None}, headers=admin_headers)
    assert (updated.status_code, updated.json["expires_at"]) == (200, None)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param('["ci"]', "INVALID_BODY", id="array"),
        pytest.param('"ci"', "INVALID_BODY", id="string"),
        pytest.param("", "INVALID_BODY", id="empty"),
        pytest.param('{"name": "ci",', "INVALID_JSON", id="malformed"),
    ],
)
def test_create_rejects_a_body_that_is_not_an_object(app, client, admin_headers, data, code):
    response = client.post(BASE, data=data, content_type="application/json", headers=admin_headers)
    assert response.status_code == 400
    assert response.json["code"] == code
    assert rows(app, "service_keys") == []


# --- use ---------------------------------------------------------------------------------


def test_key_authenticates_in_either_header(client, admin_headers, admin_key):
    assert list_status(client, as_key(admin_key["key"])) == 200
    assert list_status(client, {"Authorization": f"Bearer {admin_key['key']}"}) == 200
    used = client.get(f"{BASE}/{admin_key['id']}", headers=admin_headers).json
    assert used["last_used_at"] is not None


def test_a_secret_containing_underscores_still_works(client, admin_headers, monkeypatch):
    """URL-safe base64 contains `_`, so about every second real key has one in its secret part."""
    real = secrets.token_urlsafe
    monkeypatch.setattr(secrets, "token_urlsafe", lambda nbytes=None: "_x_" + real(nbytes)[3:])
    created = create_key(client, admin_headers)
    assert created["key"].count("_") >= 4
    assert list_status(client, as_key(created["key"])) == 200
    assert list_status(client, {"Authorization": f"Bearer {created['key']}"}) == 200


def test_scopes_decide_what_a_key_may_do(client, admin_headers):
    reader = create_key(client, admin_headers, ["service_keys:read"])["key"]
    other = create_key(client, admin_headers, ["secrets:read"])["key"]
    family = create_key(client, admin_headers, ["service_keys:*"])["key"]
    everything = create_key(client, admin_headers, ["*"])["key"]

    assert list_status(client, as_key(reader)) == 200
    denied = client.post(BASE, json={"name": "x", "scopes": ["service_keys:read"]}, headers=as_key(reader))
    assert (denied.status_code, denied.json["code"]) == (403, "FORBIDDEN")
    assert list_status(client, as_key(other)) == 403
    for key in (family, everything):
        assert list_status(client, as_key(key)) == 200
        create_key(client, as_key(key), ["service_keys:read"])


def test_a_key_cannot_grant_scopes_it_does_not_hold(client, admin_headers, admin_key):
    """Otherwise `service_keys:write` alone would be as good as `*`."""
    headers = as_key(admin_key["key"])
    wide = client.post(BASE, json={"name": "wide", "scopes": ["*"]}, headers=headers)
    assert (wide.status_code, wide.json["code"]) == (403, "SCOPE_NOT_HELD")
    family = client.post(BASE, json={"name": "f", "scopes": ["service_keys:*"]}, headers=headers)
    assert family.status_code == 403
    widen_self = client.put(f"{BASE}/{admin_key['id']}", json={"scopes": ["*"]}, headers=headers)
    assert widen_self.status_code == 403

    master = create_key(client, admin_headers, ["*"], name="master")
    assert client.post(f"{BASE}/{master['id']}/rotate", headers=headers).status_code == 403
    assert client.get(f"{BASE}/{admin_key['id']}", headers=admin_headers).json["scopes"] == [
        "service_keys:read",
        "service_keys:write",
    ]
    assert len(client.get(BASE, headers=admin_headers).json) == 2
    create_key(client, headers, ["service_keys:read"], name="narrower")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Service-Key": "fbk_"}, id="prefix-only"),
        pytest.param({"X-Service-Key": "fbk_abc_def"}, id="short-lookup"),
        pytest.param({"X-Service-Key": "fbk_" + "0" * 12 + "_" + "A" * 43}, id="unknown-lookup"),
        pytest.param({"X-Service-Key": "not-a-key"}, id="not-a-key"),
        pytest.param({"Authorization": "Bearer fbk_" + "0" * 12 + "_" + "A" * 43}, id="bearer-unknown"),
        pytest.param({"Authorization": "Bearer garbage"}, id="bearer-garbage"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic"),
    ],
)
def test_an_unknown_or_malformed_key_is_401(client, admin_key, headers):
    response = client.get(BASE, headers=headers)
    assert response.status_code == 401
    assert set(response.json) == {"error", "code"}


def test_a_tampered_key_is_401(client, admin_key):
    key = admin_key["key"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    for wrong in (tampered, key[:-1], key + "A"):
        response = client.get(BASE, headers=as_key(wrong))
        assert (response.status_code, response.json["code"]) == (401, "INVALID_SERVICE_KEY")


def test_app_users_and_anonymous_callers_are_refused(client, auth, admin_key):
    user = auth.signup()
    assert list_status(client, auth.bearer(user)) == 403
    anonymous = client.get(BASE)
    assert (anonymous.status_code, anonymous.json["code"]) == (401, "AUTH_REQUIRED")


# --- lifecycle ---------------------------------------------------------------------------


def test_disable_and_enable(client, admin_headers, admin_key):
    url, headers = f"{BASE}/{admin_key['id']}", as_key(admin_key["key"])
    disabled = client.post(f"{url}/disable", headers=admin_headers)
    assert (disabled.status_code, disabled.json["status"], disabled.json["enabled"]) == (200, "disabled", False)
    assert list_status(client, headers) == 401
    enabled = client.post(f"{url}/enable", headers=admin_headers)
    assert (enabled.status_code, enabled.json["status"]) == (200, "active")
    assert list_status(client, headers) == 200


def test_revoke_is_forever(app, client, admin_headers, admin_key):
    url, headers = f"{BASE}/{admin_key['id']}", as_key(admin_key["key"])
    assert client.post(f"{url}/revoke", json={"reason": 5}, headers=admin_headers).status_code == 400
    assert list_status(client, headers) == 200

    revoked = client.post(f"{url}/revoke", json={"reason": "leaked in CI logs"}, headers=admin_headers)
    assert revoked.status_code == 200
    assert revoked.json["status"] == "revoked" and revoked.json["revoked_reason"] == "leaked in CI logs"
    assert list_status(client, headers) == 401
    for action, body in [("enable", None), ("disable", None), ("revoke", {"reason": "again"}), ("deprecate", None)]:
        response = client.post(f"{url}/{action}", json=body, headers=admin_headers)
        assert (response.status_code, response.json["code"]) == (409, "SERVICE_KEY_REVOKED"), action
    assert client.post(f"{url}/rotate", headers=admin_headers).status_code == 409
    assert list_status(client, headers) == 401
    [stored] = rows(app, "service_keys")
    assert stored["revoked_at"] is not None and stored["enabled"], "revocation does not hinge on the enabled flag"


def test_deprecated_key_works_until_its_grace_period_ends(client, app, admin_headers, admin_key):
    url, headers = f"{BASE}/{admin_key['id']}", as_key(admin_key["key"])
    response = client.post(f"{url}/deprecate", json={"grace_period_hours": 48, "reason": "v2"}, headers=admin_headers)
    assert response.status_code == 200
    assert response.json["status"] == "deprecated" and response.json["grace_until"] is not None
    assert list_status(client, headers) == 200

    set_columns(app, admin_key["id"], grace_until=an_hour_ago())
    assert list_status(client, headers) == 401
    assert client.get(url, headers=admin_headers).json["status"] == "retired"


def test_a_retired_key_cannot_be_brought_back(client, app, admin_headers, admin_key):
    url, headers = f"{BASE}/{admin_key['id']}", as_key(admin_key["key"])
    assert client.post(f"{url}/deprecate", json={"grace_period_hours": 0}, headers=admin_headers).status_code == 200
    assert list_status(client, headers) == 401
    again = client.post(f"{url}/deprecate", json={"grace_period_hours": 24}, headers=admin_headers)
    assert (again.status_code, again.json["code"]) == (409, "SERVICE_KEY_RETIRED")
    assert client.post(f"{url}/rotate", headers=admin_headers).status_code == 409
    assert list_status(client, headers) == 401


def test_deprecating_again_never_extends_the_grace_period(client, admin_headers, admin_key):
    url = f"{BASE}/{admin_key['id']}"
    first = client.post(f"{url}/deprecate", json={"grace_period_hours": 1}, headers=admin_headers).json
    second = client.post(f"{url}/deprecate", json={"grace_period_hours": 48}, headers=admin_headers).json
    assert second["grace_until"] == first["grace_until"]
    shorter = client.post(f"{url}/deprecate", json={"grace_period_hours": 0.5}, headers=admin_headers).json
    assert datetime.fromisoformat(shorter["grace_until"]) < datetime.fromisoformat(first["grace_until"])


@pytest.mark.parametrize(
    "body",
    [{"grace_period_hours": hours} for hours in (-1, 90 * 24 + 1, "24", True, None, 1e308)] + [{"reason": "r" * 2001}],
)
@pytest.mark.parametrize("action", ["deprecate", "rotate"])
def test_deprecate_rejects_a_bad_grace_period(client, app, admin_headers, admin_key, body, action):
    url = f"{BASE}/{admin_key['id']}/{action}"
    response = client.post(url, json=body, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, "INVALID_FIELD")
    assert response.json["error"].startswith(f"{next(iter(body))}: ")
    [stored] = rows(app, "service_keys")
    assert stored["grace_until"] is None
    assert rows(app, "service_key_events") == []


def test_deprecate_without_a_body_gives_a_day_of_grace(client, admin_headers, admin_key):
    response = client.post(f"{BASE}/{admin_key['id']}/deprecate", headers=admin_headers)
    assert response.status_code == 200
    grace = datetime.fromisoformat(response.json["grace_until"]) - datetime.fromisoformat(
        response.json["deprecated_at"]
    )
    assert grace == timedelta(hours=24)


def test_an_expired_key_is_refused(client, app, admin_headers, admin_key):
    set_columns(app, admin_key["id"], expires_at=an_hour_ago())
    response = client.get(BASE, headers=as_key(admin_key["key"]))
    assert (response.status_code, response.json["code"]) == (401, "INVALID_SERVICE_KEY")
    assert client.get(f"{BASE}/{admin_key['id']}", headers=admin_headers).json["status"] == "expired"
    rotated = client.post(f"{BASE}/{admin_key['id']}/rotate", headers=admin_headers)
    assert (rotated.status_code, rotated.json["code"]) == (409, "SERVICE_KEY_EXPIRED"), "expired at birth"


def test_rotate(client, app, admin_headers, admin_key):
    old_url, old_headers = f"{BASE}/{admin_key['id']}", as_key(admin_key["key"])
    response = client.post(f"{old_url}/rotate", json={"grace_period_hours": 2}, headers=admin_headers)
    assert response.status_code == 201
    new = response.json
    assert new["key"].startswith("fbk_") and new["key"] != admin_key["key"]
    assert (new["name"], new["scopes"], new["status"]) == (admin_key["name"], admin_key["scopes"], "active")
    assert "key" not in new["previous_key"]
    assert new["previous_key"]["replaced_by"] == new["id"]
    assert new["previous_key"]["status"] == "deprecated"

    assert list_status(client, as_key(new["key"])) == 200
    assert list_status(client, old_headers) == 200
    assert client.get(old_url, headers=admin_headers).json["replaced_by"] == new["id"]
    again = client.post(f"{old_url}/rotate", headers=admin_headers)
    assert (again.status_code, again.json["code"]) == (409, "SERVICE_KEY_ROTATED")
    assert len(rows(app, "service_keys")) == 2

    set_columns(app, admin_key["id"], grace_until=an_hour_ago())
    assert list_status(client, old_headers) == 401
    assert list_status(client, as_key(new["key"])) == 200


def test_rotate_with_no_grace_period_ends_the_old_key_at_once(client, admin_headers, admin_key):
    response = client.post(f"{BASE}/{admin_key['id']}/rotate", json={"grace_period_hours": 0}, headers=admin_headers)
    assert response.status_code == 201
    assert list_status(client, as_key(admin_key["key"])) == 401
    assert list_status(client, as_key(response.json["key"])) == 200


def test_revocation_history_lists_events_in_order(client, admin_headers, admin_key):
    url = f"{BASE}/{admin_key['id']}"
    client.post(f"{url}/deprecate", json={"grace_period_hours": 24, "reason": "moving to v2"}, headers=admin_headers)
    client.post(f"{url}/rotate", json={"grace_period_hours": 12}, headers=admin_headers)
    client.post(f"{url}/revoke", json={"reason": "done"}, headers=admin_headers)

    history = client.get(f"{url}/revocations", headers=as_key(create_key(client, admin_headers)["key"]))
    assert history.status_code == 200
    events = history.json["events"]
    assert [(event["action"], event["reason"]) for event in events] == [
        ("deprecated", "moving to v2"),
        ("rotated", "rotated"),
        ("revoked", "done"),
    ]
    assert all(event["key_id"] == admin_key["id"] and event["actor_id"] for event in events)


# --- the reference SDK's calls ------------------------------------------------------------


def test_revoke_without_a_reason_and_the_reference_history_shape(app, client, admin_headers, admin_key):
    """The SDK revokes with an empty body, and reads the history as one object."""
    url = f"{BASE}/{admin_key['id']}"
    fresh = client.get(f"{url}/revocations", headers=admin_headers).json
    assert fresh == {
        "id": admin_key["id"],
        "name": "manager",
        "revoked_at": None,
        "revoked_by": None,
        "revocation_reason": None,
        "events": [],
    }
    assert client.post(f"{url}/revoke", headers=admin_headers).status_code == 200
    assert list_status(client, as_key(admin_key["key"])) == 401
    history = client.get(f"{url}/revocations", headers=admin_headers).json
    admin_id = client.get("/api/v1/admin/me", headers=admin_headers).json["user"]["id"]
    assert (history["revoked_by"], history["revocation_reason"]) == (admin_id, "")
    assert history["revoked_at"] == client.get(url, headers=admin_headers).json["revoked_at"] is not None
    assert [(event["action"], event["reason"], event["actor_id"]) for event in history["events"]] == [
        ("revoked", "", admin_id)
    ]
    assert client.post(f"{url}/revoke", json={}, headers=admin_headers).status_code == 409


def test_scopes_are_optional_on_create_and_default_to_the_creators(client, admin_headers, admin_key):
    by_admin = client.post(BASE, json={"name": "sdk"}, headers=admin_headers)
    assert (by_admin.status_code, by_admin.json["scopes"]) == (201, ["*"])
    by_key = client.post(BASE, json={"name": "child"}, headers=as_key(admin_key["key"]))
    assert (by_key.status_code, by_key.json["scopes"]) == (201, ["service_keys:read", "service_keys:write"])
    assert client.post(BASE, json={"name": "x", "scopes": None}, headers=admin_headers).json["scopes"] == ["*"]


def test_put_enabled_disables_and_enables(client, admin_headers, admin_key):
    url, headers = f"{BASE}/{admin_key['id']}", as_key(admin_key["key"])
    disabled = client.put(url, json={"enabled": False}, headers=admin_headers)
    assert (disabled.status_code, disabled.json["enabled"], disabled.json["status"]) == (200, False, "disabled")
    assert list_status(client, headers) == 401
    enabled = client.put(url, json={"enabled": True, "name": "back"}, headers=admin_headers)
    assert (enabled.status_code, enabled.json["status"], enabled.json["name"]) == (200, "active", "back")
    assert list_status(client, headers) == 200
    assert client.put(url, json={"enabled": "no"}, headers=admin_headers).status_code == 400
    assert client.get(url, headers=admin_headers).json["enabled"] is True


# --- a key acts only on keys it holds every scope of ---------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("put", "", {"scopes": ["service_keys:read"]}),
        ("put", "", {"enabled": False}),
        ("put", "", {"name": "renamed"}),
        ("post", "/disable", None),
        ("post", "/enable", None),
        ("post", "/revoke", {"reason": "takeover"}),
        ("post", "/deprecate", {"grace_period_hours": 0}),
        ("post", "/rotate", {"grace_period_hours": 0}),
        ("delete", "", None),
    ],
)
def test_a_key_cannot_change_a_key_with_scopes_it_lacks(app, client, admin_headers, admin_key, method, suffix, body):
    master = create_key(client, admin_headers, ["*"], name="master")
    url = f"{BASE}/{master['id']}"
    before = client.get(url, headers=admin_headers).json
    response = getattr(client, method)(f"{url}{suffix}", json=body, headers=as_key(admin_key["key"]))
    assert (response.status_code, response.json["code"]) == (403, "SCOPE_NOT_HELD")
    assert client.get(url, headers=admin_headers).json == before
    assert list_status(client, as_key(master["key"])) == 200
    assert len(rows(app, "service_keys")) == 2


def test_write_grants_read_also_for_what_a_key_may_change(client, admin_headers):
    """DESIGN: `<family>:write` grants `<family>:read`, so a writer holds a reader's scopes in full."""
    writer = create_key(client, admin_headers, ["service_keys:write"], name="writer")
    reader = create_key(client, admin_headers, ["service_keys:read"], name="reader")
    assert list_status(client, as_key(writer["key"])) == 200
    assert client.post(f"{BASE}/{writer['id']}/disable", headers=as_key(reader["key"])).status_code == 403
    assert client.post(f"{BASE}/{reader['id']}/disable", headers=as_key(writer["key"])).status_code == 200
    settings_writer = create_key(client, admin_headers, ["settings:write"], name="settings")
    assert client.get("/api/v1/settings/", headers=as_key(settings_writer["key"])).status_code == 200
    assert list_status(client, as_key(settings_writer["key"])) == 403


def test_a_key_may_change_keys_within_its_own_scopes(client, admin_headers, admin_key):
    headers = as_key(admin_key["key"])
    narrower = create_key(client, headers, ["service_keys:read"], name="narrower")
    assert client.post(f"{BASE}/{narrower['id']}/disable", headers=headers).status_code == 200
    assert client.put(f"{BASE}/{narrower['id']}", json={"enabled": True}, headers=headers).status_code == 200
    assert client.delete(f"{BASE}/{narrower['id']}", headers=headers).status_code == 204
    family = create_key(client, admin_headers, ["service_keys:*"], name="family")
    assert client.post(f"{BASE}/{narrower['id']}/disable", headers=headers).status_code == 404
    assert client.post(f"{BASE}/{admin_key['id']}/disable", headers=as_key(family["key"])).status_code == 200


# --- update, delete, unknown ids ---------------------------------------------------------


def test_update(client, admin_headers, admin_key):
    url, headers = f"{BASE}/{admin_key['id']}", as_key(admin_key["key"])
    body = {"name": " renamed ", "description": "nightly", "scopes": ["secrets:read", "settings:write"]}
    updated = client.put(url, json=body, headers=admin_headers)
    assert updated.status_code == 200
    assert (updated.json["name"], updated.json["description"]) == ("renamed", "nightly")
    assert updated.json["scopes"] == ["secrets:read", "settings:write"]
    assert client.get(url, headers=admin_headers).json == updated.json
    assert list_status(client, headers) == 403, "the narrowed scopes apply at once"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NOTHING_TO_UPDATE"),
        ({"unknown": 1}, "NOTHING_TO_UPDATE"),
        ({"name": ""}, "INVALID_FIELD"),
        ({"name": None}, "INVALID_FIELD"),
        ({"scopes": []}, "INVALID_FIELD"),
        ({"scopes": None}, "INVALID_FIELD"),
        ({"scopes": ["nope"]}, "INVALID_FIELD"),
        ({"enabled": None}, "INVALID_FIELD"),
        ({"enabled": "yes"}, "INVALID_FIELD"),
        ({"expires_at": "x"}, "INVALID_FIELD"),
        ({"name": "fine", "description": "d" * 2001}, "INVALID_FIELD"),
    ],
)
def test_update_rejects_bad_or_empty_changes(client, admin_headers, admin_key, body, code):
    url = f"{BASE}/{admin_key['id']}"
    before = client.get(url, headers=admin_headers).json
    response = client.put(url, json=body, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, code)
    assert client.get(url, headers=admin_headers).json == before


def test_description_null_clears_it(client, admin_headers):
    created = create_key(client, admin_headers, description="nightly")
    updated = client.put(f"{BASE}/{created['id']}", json={"description": None}, headers=admin_headers)
    assert (updated.status_code, updated.json["description"]) == (200, "")


def test_delete(client, app, admin_headers, admin_key):
    url = f"{BASE}/{admin_key['id']}"
    client.post(f"{url}/deprecate", json={"reason": "leaving"}, headers=admin_headers)
    deleted = client.delete(url, headers=admin_headers)
    assert (deleted.status_code, deleted.get_data()) == (204, b"")
    assert client.get(url, headers=admin_headers).status_code == 404
    assert client.delete(url, headers=admin_headers).status_code == 404
    assert list_status(client, as_key(admin_key["key"])) == 401
    assert rows(app, "service_keys") == [] and rows(app, "service_key_events") == []


@pytest.mark.parametrize("key_id", ["00000000-0000-4000-8000-000000000000", "x" * 37])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("put", ""),
        ("delete", ""),
        ("post", "/disable"),
        ("post", "/enable"),
        ("post", "/revoke"),
        ("post", "/deprecate"),
        ("post", "/rotate"),
        ("get", "/revocations"),
    ],
)
def test_unknown_id_is_404(client, admin_headers, method, suffix, key_id):
    body = {"name": "x", "reason": "x"} if method in ("put", "post") else None
    response = getattr(client, method)(f"{BASE}/{key_id}{suffix}", json=body, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (404, "NOT_FOUND")


# --- tenants -----------------------------------------------------------------------------


@pytest.fixture
def two_tenants(app, client, admin_headers) -> dict[str, dict]:
    """A managing key in `acme` and one in `beta`, each created by the admin in its tenant."""
    create_tenant(app, "acme")
    create_tenant(app, "beta")
    return {
        slug: create_key(client, {**admin_headers, "X-FB-Tenant": slug}, ["*"], name=f"{slug}-key")
        for slug in ("acme", "beta")
    }


def test_a_key_sees_only_its_own_tenant(client, app, admin_headers, two_tenants):
    acme, beta = two_tenants["acme"], as_key(two_tenants["beta"]["key"])
    listed = client.get(BASE, headers=as_key(acme["key"]))
    assert [key["id"] for key in listed.json] == [acme["id"]]
    with app.app_context():
        assert listed.json[0]["tenant_id"] == find_tenant("acme").id
    assert client.get(f"{BASE}/{acme['id']}", headers=beta).status_code == 404
    assert client.post(f"{BASE}/{acme['id']}/revoke", json={"reason": "x"}, headers=beta).status_code == 404
    assert client.delete(f"{BASE}/{acme['id']}", headers=beta).status_code == 404
    create_key(client, beta, name="made-by-beta")
    assert [key["name"] for key in client.get(BASE, headers=beta).json] == ["beta-key", "made-by-beta"]
    assert list_status(client, as_key(acme["key"])) == 200


@pytest.mark.parametrize("tenant", ["beta", "default"])
def test_a_key_sent_for_another_tenant_is_403(client, app, two_tenants, tenant):
    acme = two_tenants["acme"]["key"]
    response = client.get(BASE, headers=as_key(acme, **{"X-FB-Tenant": tenant}))
    assert response.status_code == 403
    assert response.json == {"error": ACCESS_DENIED, "code": "TENANT_ACCESS_DENIED"}
    with app.app_context():
        acme_id = find_tenant("acme").id
    assert list_status(client, as_key(acme, **{"X-FB-Tenant": "acme"})) == 200
    assert list_status(client, as_key(acme, **{"X-FB-Tenant": acme_id})) == 200


def test_an_admin_sees_the_keys_of_the_tenant_in_the_header(client, admin_headers, two_tenants):
    default_key = create_key(client, admin_headers, name="default-key")
    in_acme = client.get(BASE, headers={**admin_headers, "X-FB-Tenant": "acme"}).json
    assert [key["name"] for key in in_acme] == ["acme-key"]
    assert [key["id"] for key in client.get(BASE, headers=admin_headers).json] == [default_key["id"]]
    other = client.get(f"{BASE}/{default_key['id']}", headers={**admin_headers, "X-FB-Tenant": "acme"})
    assert other.status_code == 404
    unknown = client.get(BASE, headers={**admin_headers, "X-FB-Tenant": "nowhere"})
    assert unknown.status_code == 404


class HeaderTenantRouter:
    """A tenant router of the documented kind (`resolve_tenant` answering first)."""

    @hookimpl
    def resolve_tenant(self, request, actor):
        slug = request.headers.get("X-Test-Route-Tenant")
        return find_tenant(slug) if slug else None


def test_a_tenant_router_plugin_cannot_move_a_key_to_another_tenant(client, app, two_tenants):
    """The key's tenant binding must hold whichever `resolve_tenant` answers, not only the built-in one."""
    app.extensions["flux"].plugins.register(HeaderTenantRouter(), name="test-router")
    acme = two_tenants["acme"]["key"]
    response = client.get(BASE, headers=as_key(acme, **{"X-Test-Route-Tenant": "beta"}))
    assert response.status_code == 403
    assert response.json["error"] == ACCESS_DENIED


# --- the answers' shape, and pages of the list --------------------------------------------

KEY_FIELDS = {
    "id",
    "name",
    "description",
    "key_prefix",
    "scopes",
    "tenant_id",
    "status",
    "enabled",
    "expires_at",
    "revoked_at",
    "revoked_reason",
    "deprecated_at",
    "grace_until",
    "replaced_by",
    "created_by",
    "created_at",
    "updated_at",
    "last_used_at",
}


def test_a_key_is_shown_with_exactly_its_fields(app, client, admin_headers):
    created = create_key(client, admin_headers, expires_at="2999-01-01T00:00:00Z")
    assert set(created) == KEY_FIELDS | {"key"}
    shown = client.get(f"{BASE}/{created['id']}", headers=admin_headers).json
    [stored] = rows(app, "service_keys")
    with app.app_context():
        key = db.session.scalar(sa.select(ServiceKey).execution_options(all_tenants=True))
        assert shown == {
            "id": key.id,
            "name": "ci",
            "description": "",
            "key_prefix": f"fbk_{stored['prefix']}",
            "scopes": ["service_keys:read"],
            "tenant_id": key.tenant_id,
            "status": "active",
            "enabled": True,
            "expires_at": "2999-01-01T00:00:00+00:00",
            "revoked_at": None,
            "revoked_reason": None,
            "deprecated_at": None,
            "grace_until": None,
            "replaced_by": None,
            "created_by": key.created_by,
            "created_at": key.created_at.isoformat(),
            "updated_at": key.updated_at.isoformat(),
            "last_used_at": None,
        }
    rotated = client.post(f"{BASE}/{created['id']}/rotate", headers=admin_headers).json
    assert set(rotated) == KEY_FIELDS | {"key", "previous_key"} and set(rotated["previous_key"]) == KEY_FIELDS


def test_the_list_comes_in_pages(client, admin_headers):
    made = [create_key(client, admin_headers, name=f"key-{n:02}")["id"] for n in range(55)]
    first = client.get(BASE, headers=admin_headers)
    assert first.status_code == 200
    assert [key["id"] for key in first.json] == made[:50], "50 by default, oldest first"
    assert first.headers["X-Total-Count"] == "55"
    page = client.get(BASE, query_string={"limit": 10, "offset": 50}, headers=admin_headers)
    assert [key["id"] for key in page.json] == made[50:]
    assert page.headers["X-Total-Count"] == "55"
    assert client.get(BASE, query_string={"offset": 100}, headers=admin_headers).json == []
    for bad in ({"limit": 1001}, {"limit": 0}, {"limit": "x"}, {"offset": -1}):
        response = client.get(BASE, query_string=bad, headers=admin_headers)
        assert (response.status_code, response.json["code"]) == (400, "INVALID_PAGE"), bad
