"""`/api/v1/settings/secret…`: a user's write-only secrets, metadata only in every answer."""

from __future__ import annotations

import pytest

from tests.settings.conftest import SECRET_METADATA, SECRETS, USER, add_secret, put, stored_rows, user_id

PLAINTEXT = "sk-alice-user-secret-5f1c2e"


def test_create_returns_metadata_only_and_stores_only_ciphertext(app, client, alice):
    response = client.post(SECRETS, json={"key": "third_party", "value": PLAINTEXT, "description": "External API"})
    assert response.status_code == 401
    created = add_secret(client, alice, "third_party", PLAINTEXT, description="External API")
    assert set(created) == SECRET_METADATA
    assert (created["key"], created["description"], created["user_id"]) == (
        "third_party",
        "External API",
        user_id(client, alice),
    )
    [row] = stored_rows(app)
    assert row["is_secret"] and row["value"] in (None, "null")
    assert row["encrypted_value"].startswith("fx1:") and PLAINTEXT not in row["encrypted_value"]


def test_create_is_409_when_the_key_exists(client, alice):
    add_secret(client, alice, "dup", PLAINTEXT)
    response = client.post(SECRETS, json={"key": "dup", "value": "other"}, headers=alice)
    assert response.status_code == 409 and response.json["code"] == "ALREADY_EXISTS"
    put(client, alice, "plain", 1)
    assert client.post(SECRETS, json={"key": "plain", "value": "x"}, headers=alice).status_code == 409


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"value": "v"}, "FIELD_REQUIRED"),
        ({"key": "a b", "value": "v"}, "INVALID_FIELD"),
        ({"key": "k" * 256, "value": "v"}, "INVALID_FIELD"),
        ({"key": "k"}, "FIELD_REQUIRED"),
        ({"key": "k", "value": {"not": "a string"}}, "INVALID_FIELD"),
        ({"key": "k", "value": "v", "description": 5}, "INVALID_FIELD"),
    ],
)
def test_create_rejects_bad_input(client, alice, body, code):
    response = client.post(SECRETS, json=body, headers=alice)
    assert response.status_code == 400 and response.json["code"] == code


def test_create_over_one_mebibyte_is_413(client, alice):
    response = client.post(SECRETS, json={"key": "big", "value": "s" * (1024 * 1024 + 1)}, headers=alice)
    assert response.status_code == 413 and response.json["code"] == "VALUE_TOO_LARGE"


def test_list_and_get_show_metadata(client, alice):
    assert client.get(SECRETS, headers=alice).json == []
    add_secret(client, alice, "b/token", PLAINTEXT)
    add_secret(client, alice, "a.key", "sk-second-secret-88")
    listed = client.get(SECRETS, headers=alice).json
    assert [item["key"] for item in listed] == ["a.key", "b/token"]
    assert all(set(item) == SECRET_METADATA for item in listed)
    got = client.get(f"{SECRETS}/b/token", headers=alice).json
    assert set(got) == SECRET_METADATA and got["key"] == "b/token"
    assert client.get(f"{SECRETS}/missing", headers=alice).status_code == 404


def test_update_reencrypts_or_changes_the_description(app, client, alice):
    add_secret(client, alice, "token", PLAINTEXT, description="old")
    before = stored_rows(app)[0]["encrypted_value"]
    response = client.put(f"{SECRETS}/token", json={"description": "new"}, headers=alice)
    assert response.status_code == 200 and response.json["description"] == "new"
    assert set(response.json) == SECRET_METADATA
    assert stored_rows(app)[0]["encrypted_value"] == before
    response = client.put(f"{SECRETS}/token", json={"value": "sk-rotated-secret-31"}, headers=alice)
    assert response.status_code == 200 and response.json["description"] == "new"
    after = stored_rows(app)[0]["encrypted_value"]
    assert after != before and "sk-rotated-secret-31" not in after


def test_update_needs_a_value_or_a_description(client, alice):
    add_secret(client, alice, "token", PLAINTEXT)
    response = client.put(f"{SECRETS}/token", json={}, headers=alice)
    assert response.status_code == 400 and response.json["code"] == "NOTHING_TO_UPDATE"
    assert client.put(f"{SECRETS}/token", json={"value": 5}, headers=alice).status_code == 400
    assert client.put(f"{SECRETS}/missing", json={"value": "x"}, headers=alice).status_code == 404


def test_delete_is_204_then_404(app, client, alice):
    add_secret(client, alice, "token", PLAINTEXT)
    assert client.delete(f"{SECRETS}/token", headers=alice).status_code == 204
    assert stored_rows(app) == []
    assert client.delete(f"{SECRETS}/token", headers=alice).status_code == 404


def test_another_users_secret_is_404_everywhere(client, alice, bob):
    add_secret(client, alice, "token", PLAINTEXT)
    for response in (
        client.get(f"{SECRETS}/token", headers=bob),
        client.put(f"{SECRETS}/token", json={"value": "stolen"}, headers=bob),
        client.delete(f"{SECRETS}/token", headers=bob),
    ):
        assert response.status_code == 404 and response.json["code"] == "NOT_FOUND"
    assert client.get(SECRETS, headers=bob).json == []
    # Bob may have a secret of the same key; each sees only their own.
    mine = add_secret(client, bob, "token", "sk-bob-own-secret-12")
    assert client.get(f"{SECRETS}/token", headers=alice).json["user_id"] != mine["user_id"]


def test_a_plain_setting_is_not_a_secret(client, alice):
    put(client, alice, "plain", "value")
    assert client.get(f"{SECRETS}/plain", headers=alice).status_code == 404
    assert client.delete(f"{SECRETS}/plain", headers=alice).status_code == 404
    assert client.get(f"{USER}/plain", headers=alice).status_code == 200


def test_platform_accounts_get_403(client, admin_headers):
    response = client.post(SECRETS, json={"key": "k", "value": "v"}, headers=admin_headers)
    assert response.status_code == 403 and response.json["code"] == "APP_USER_REQUIRED"
