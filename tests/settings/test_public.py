"""`/api/v1/settings/…` without authentication: public app settings, never users' or secrets."""

from __future__ import annotations

import pytest

from tests.settings.conftest import ADMIN_SECRETS, PUBLIC, add_secret, add_system, put
from tests.test_service_keys import create_key


@pytest.fixture
def published(client, admin_headers, alice) -> None:
    add_system(client, admin_headers, "app/name", "Acme", is_public=True)
    add_system(client, admin_headers, "app/limit", 10)
    add_secret(client, admin_headers, "app/key", "sk-public-test-secret-19", base=ADMIN_SECRETS)
    put(client, alice, "app/mine", "alice's own")


def test_anonymous_sees_public_settings_only(client, published):
    assert client.get(f"{PUBLIC}/app/name").json == {"key": "app/name", "value": "Acme"}
    for key in ("app/limit", "app/key", "app/mine", "nothing"):
        response = client.get(f"{PUBLIC}/{key}")
        assert response.status_code == 404 and response.json["code"] == "NOT_FOUND"
    assert client.get(f"{PUBLIC}/").json == [{"key": "app/name", "value": "Acme"}]


def test_signed_in_callers_also_see_non_public_system_settings(client, published, alice, admin_headers):
    key = create_key(client, admin_headers, ["settings:read"])["key"]
    for headers in (alice, admin_headers, {"X-Service-Key": key}):
        assert client.get(f"{PUBLIC}/app/limit", headers=headers).json == {"key": "app/limit", "value": 10}
        assert client.get(f"{PUBLIC}/", headers=headers).json == [
            {"key": "app/limit", "value": 10},
            {"key": "app/name", "value": "Acme"},
        ]
        assert client.get(f"{PUBLIC}/app/key", headers=headers).status_code == 404
        assert client.get(f"{PUBLIC}/app/mine", headers=headers).status_code == 404


def test_batch_returns_the_visible_ones(client, published, alice):
    keys = ["app/name", "app/limit", "app/key", "app/mine", "nothing"]
    assert client.post(f"{PUBLIC}/batch", json={"keys": keys}).json == [{"key": "app/name", "value": "Acme"}]
    assert client.post(f"{PUBLIC}/batch", json={"keys": keys}, headers=alice).json == [
        {"key": "app/limit", "value": 10},
        {"key": "app/name", "value": "Acme"},
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"keys": []}, "INVALID_FIELD"),
        ({}, "FIELD_REQUIRED"),
        ({"keys": "app/name"}, "INVALID_FIELD"),
        ({"keys": [f"k{index}" for index in range(101)]}, "INVALID_FIELD"),
        ({"keys": ["bad key"]}, "INVALID_FIELD"),
    ],
)
def test_batch_rejects_bad_lists(client, body, code):
    response = client.post(f"{PUBLIC}/batch", json=body)
    assert response.status_code == 400 and response.json["code"] == code


def test_batch_of_one_hundred_keys_is_fine(client, published):
    keys = ["app/name", *(f"k{index}" for index in range(99))]
    assert client.post(f"{PUBLIC}/batch", json={"keys": keys}).json == [{"key": "app/name", "value": "Acme"}]


def test_bad_key_is_400(client):
    assert client.get(f"{PUBLIC}/a%20b").status_code == 400
