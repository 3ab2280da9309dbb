"""Every failure under /api/ is a JSON envelope with the right status."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from flux.db import db, flush_or_conflict
from flux.errors import Conflict
from flux.tenancy import Tenant


def test_unknown_route_is_json_404(client):
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.json["code"] == "NOT_FOUND"
    assert response.json["error"]


def test_wrong_method_is_json_405_with_allow(client):
    response = client.delete("/health")
    assert response.status_code == 405
    assert response.json["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(client):
    response = client.post("/api/v1/my-plugin/echo", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json == {"error": "Request body is not valid JSON", "code": "INVALID_JSON"}


def test_well_formed_json_passes(client):
    response = client.post("/api/v1/my-plugin/echo", json={"a": [1, 2]})
    assert response.status_code == 200
    assert response.json == {"received": {"a": [1, 2]}}


def test_body_too_large_is_413(make_app):
    client = make_app(MAX_BODY_BYTES=1024).test_client()
    response = client.post("/api/v1/my-plugin/echo", json={"blob": "x" * 2048})
    assert response.status_code == 413
    assert response.json["code"] == "PAYLOAD_TOO_LARGE"


def test_typed_error_carries_its_code(client):
    response = client.post("/api/v1/my-plugin/conflict")
    assert response.status_code == 409
    assert response.json == {"error": "that thing already exists", "code": "ALREADY_EXISTS"}


def test_unhandled_exception_is_500_with_request_id_in_log(client, caplog):
    with caplog.at_level(logging.ERROR, logger="flux.errors"):
        response = client.get("/api/v1/my-plugin/boom")
    assert response.status_code == 500
    body = response.json
    assert body["code"] == "INTERNAL_ERROR"
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert any(body["request_id"] in record.getMessage() for record in caplog.records)
    assert any(record.exc_info for record in caplog.records)


def test_caller_request_id_is_echoed_when_well_formed(client):
    assert client.get("/health", headers={"X-Request-ID": "abcdef-123456"}).headers["X-Request-ID"] == "abcdef-123456"
    forged = client.get("/health", headers={"X-Request-ID": "<script>alert(1)</script>"}).headers["X-Request-ID"]
    assert forged != "<script>alert(1)</script>" and len(forged) == 32


def test_nul_characters_are_refused_before_any_query(client):
    refused = {"error": "NUL characters (U+0000) are not allowed in requests", "code": "NUL_CHARACTER"}
    cases = [
        client.get("/api/v1/admin/service-keys/%00"),
        client.get("/health?x=%00"),
        client.post("/api/v1/my-plugin/echo", data=b'{"a": "b\\u0000c"}', content_type="application/json"),
        client.post("/api/v1/my-plugin/echo", data=b'{"a": "b\x00c"}', content_type="application/json"),
    ]
    for response in cases:
        assert (response.status_code, response.json) == (400, refused)
    page = client.post("/dashboard/login", data={"email": "a\x00b", "password": "x"})
    assert page.status_code == 400 and "NUL characters" in page.get_data(as_text=True)
    assert client.post("/api/v1/my-plugin/echo", json={"a": "50%00 off"}).status_code == 200


def test_flush_or_conflict_turns_a_lost_unique_race_into_409_and_rolls_back(app):
    with app.app_context():
        db.session.add(Tenant(slug="racer", name="First"))
        db.session.commit()
        db.session.add(Tenant(slug="other", name="Pending"))
        db.session.add(Tenant(slug="racer", name="Second"))
        with pytest.raises(Conflict) as raised:
            flush_or_conflict("racer was just created by another request", "SLUG_TAKEN")
        assert (raised.value.status, raised.value.code) == (409, "SLUG_TAKEN")
        assert raised.value.message == "racer was just created by another request"
        slugs = db.session.scalars(sa.select(Tenant.slug).where(Tenant.slug.in_(["racer", "other"]))).all()
        assert slugs == ["racer"]  # the session was rolled back, and is usable again
