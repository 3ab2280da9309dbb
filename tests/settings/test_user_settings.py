"""`/api/v1/settings/user/…`: every row of the issue's table, key rules, sizes and who may call."""

from __future__ import annotations

import pytest

from tests.settings.conftest import ADMIN, USER, add_secret, add_system, put, stored_rows, user_id
from tests.test_service_keys import create_key


def test_list_is_empty_then_ordered_by_key_without_secrets(client, alice):
    assert client.get(f"{USER}/list", headers=alice).json == []
    put(client, alice, "zeta", 1)
    put(client, alice, "alpha", {"a": [1, 2]})
    add_secret(client, alice, "api_token", "sk-list-secret-71")
    listed = client.get(f"{USER}/list", headers=alice).json
    assert [row["key"] for row in listed] == ["alpha", "zeta"]
    assert listed[0]["value"] == {"a": [1, 2]}
    assert listed[0]["user_id"] == user_id(client, alice)


def test_get_falls_back_from_user_to_system(client, alice, admin_headers):
    add_system(client, admin_headers, "theme", "light")
    assert client.get(f"{USER}/theme", headers=alice).json == {"key": "theme", "value": "light", "source": "system"}
    put(client, alice, "theme", "dark")
    assert client.get(f"{USER}/theme", headers=alice).json == {"key": "theme", "value": "dark", "source": "user"}
    assert client.delete(f"{USER}/theme", headers=alice).status_code == 204
    assert client.get(f"{USER}/theme", headers=alice).json["source"] == "system"


def test_get_is_404_when_neither_user_nor_system_has_it(client, alice):
    response = client.get(f"{USER}/nothing", headers=alice)
    assert response.status_code == 404 and response.json["code"] == "NOT_FOUND"


def test_own_has_no_fallback(client, alice, admin_headers):
    add_system(client, admin_headers, "lang", "en")
    assert client.get(f"{USER}/own/lang", headers=alice).status_code == 404
    put(client, alice, "lang", "fr", description="my language")
    own = client.get(f"{USER}/own/lang", headers=alice).json
    assert (own["key"], own["value"], own["description"]) == ("lang", "fr", "my language")


def test_system_returns_the_default_only(client, alice, admin_headers):
    assert client.get(f"{USER}/system/lang", headers=alice).status_code == 404
    add_system(client, admin_headers, "lang", "en")
    put(client, alice, "lang", "fr")
    assert client.get(f"{USER}/system/lang", headers=alice).json == {"key": "lang", "value": "en"}


def test_put_upserts_and_keeps_the_description_unless_given(app, client, alice):
    created = put(client, alice, "prefs", {"theme": "dark"}, description="ui")
    updated = put(client, alice, "prefs", [1, "two", None])
    assert updated["id"] == created["id"] and updated["value"] == [1, "two", None]
    assert updated["description"] == "ui"
    assert updated["updated_at"] >= created["updated_at"]
    [row] = stored_rows(app)
    assert row["key"] == "prefs" and row["user_id"] == user_id(client, alice) and not row["is_secret"]


@pytest.mark.parametrize("value", [None, 0, False, "", [], {}, 3.5, "text"])
def test_put_accepts_any_json_value(client, alice, value):
    assert put(client, alice, "any", value)["value"] == value
    assert client.get(f"{USER}/any", headers=alice).json["value"] == value


def test_put_without_value_is_400(client, alice):
    response = client.put(f"{USER}/prefs", json={"description": "no value"}, headers=alice)
    assert response.status_code == 400 and response.json["code"] == "FIELD_REQUIRED"
    assert client.put(f"{USER}/prefs", data="[1]", headers=alice).status_code == 400
    assert client.put(f"{USER}/prefs", data="{not json", headers=alice).status_code == 400


def test_put_over_one_mebibyte_is_413(client, alice):
    just_fits = "x" * (1024 * 1024 - 2)  # plus the two quotes of its JSON form
    assert put(client, alice, "big", just_fits)["value"] == just_fits
    response = client.put(f"{USER}/big", json={"value": just_fits + "x"}, headers=alice)
    assert response.status_code == 413 and response.json["code"] == "VALUE_TOO_LARGE"
    assert client.get(f"{USER}/big", headers=alice).json["value"] == just_fits


def test_delete_is_204_then_404(app, client, alice):
    put(client, alice, "gone", 1)
    assert client.delete(f"{USER}/gone", headers=alice).status_code == 204
    assert stored_rows(app) == []
    response = client.delete(f"{USER}/gone", headers=alice)
    assert response.status_code == 404 and response.json["code"] == "NOT_FOUND"


def test_delete_never_removes_the_system_default(client, alice, admin_headers):
    add_system(client, admin_headers, "theme", "light")
    assert client.delete(f"{USER}/theme", headers=alice).status_code == 404
    assert client.get(f"{ADMIN}/theme", headers=admin_headers).status_code == 200


def test_multi_segment_keys_route_to_the_right_setting(client, alice, admin_headers):
    add_system(client, admin_headers, "app/ui/theme", "light")
    put(client, alice, "app/ui/font.size", 14)
    assert client.get(f"{USER}/app/ui/font.size", headers=alice).json == {
        "key": "app/ui/font.size",
        "value": 14,
        "source": "user",
    }
    assert client.get(f"{USER}/app/ui/theme", headers=alice).json["source"] == "system"
    assert client.get(f"{USER}/own/app/ui/font.size", headers=alice).json["value"] == 14
    assert client.get(f"{USER}/system/app/ui/theme", headers=alice).json["value"] == "light"
    assert client.delete(f"{USER}/app/ui/font.size", headers=alice).status_code == 204


def test_reserved_paths_keep_their_meaning_and_own_reads_such_keys(client, alice):
    """`list`, `own/…` and `system/…` can be set; GET /user/<key> reads the routes instead."""
    put(client, alice, "list", "a key named list")
    put(client, alice, "own/x", 1)
    assert isinstance(client.get(f"{USER}/list", headers=alice).json, list)
    assert client.get(f"{USER}/own/list", headers=alice).json["value"] == "a key named list"
    assert client.get(f"{USER}/own/own/x", headers=alice).json["value"] == 1
    assert client.delete(f"{USER}/list", headers=alice).status_code == 204


@pytest.mark.parametrize(
    "key",
    ["a b", "caf%C3%A9", "semi;colon", "quote%27", "star*", "a//b", "a/./b", "a/../b", "trailing//", "x" * 256],
)
def test_bad_keys_are_400(client, alice, key):
    for response in (
        client.put(f"{USER}/{key}", json={"value": 1}, headers=alice),
        client.get(f"{USER}/{key}", headers=alice),
        client.get(f"{USER}/own/{key}", headers=alice),
        client.delete(f"{USER}/{key}", headers=alice),
    ):
        assert response.status_code == 400, (key, response.status_code)
        assert response.json["code"] == "INVALID_FIELD"


def test_a_key_of_255_characters_is_fine(client, alice):
    key = "k" * 255
    assert put(client, alice, key, 1)["key"] == key
    assert client.get(f"{USER}/{key}", headers=alice).json["value"] == 1


def test_a_secret_never_takes_part_in_the_fallback(client, alice, admin_headers):
    add_secret(client, alice, "token", "sk-fallback-secret-93")
    assert client.get(f"{USER}/token", headers=alice).status_code == 404
    assert client.get(f"{USER}/own/token", headers=alice).status_code == 404
    add_system(client, admin_headers, "token", "system default")
    assert client.get(f"{USER}/token", headers=alice).json == {
        "key": "token",
        "value": "system default",
        "source": "system",
    }
    response = client.put(f"{USER}/token", json={"value": "plain now"}, headers=alice)
    assert response.status_code == 409 and response.json["code"] == "KEY_IS_SECRET"
    assert client.delete(f"{USER}/token", headers=alice).status_code == 404


def test_a_system_secret_is_not_a_default(client, alice, admin_headers):
    add_secret(client, admin_headers, "stripe", "sk-system-secret-44", base=f"{ADMIN}/secret")
    assert client.get(f"{USER}/stripe", headers=alice).status_code == 404
    assert client.get(f"{USER}/system/stripe", headers=alice).status_code == 404


def test_anonymous_is_401(client):
    for response in (
        client.get(f"{USER}/list"),
        client.get(f"{USER}/x"),
        client.put(f"{USER}/x", json={"value": 1}),
        client.delete(f"{USER}/x"),
    ):
        assert response.status_code == 401 and response.json["code"] == "AUTH_REQUIRED"


def test_platform_accounts_and_service_keys_have_no_user_settings(client, admin_headers):
    key = create_key(client, admin_headers, ["*"])["key"]
    for headers in (admin_headers, {"X-Service-Key": key}):
        for response in (
            client.get(f"{USER}/list", headers=headers),
            client.put(f"{USER}/x", json={"value": 1}, headers=headers),
        ):
            assert response.status_code == 403 and response.json["code"] == "APP_USER_REQUIRED"
