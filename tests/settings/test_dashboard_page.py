"""The dashboard's System settings page: list, create, edit, delete; write-only secrets."""

from __future__ import annotations

from tests.settings.conftest import stored_settings

PAGE = "/dashboard/settings/"
SECRET = "pg-password-that-must-never-render-7731"


def test_page_needs_sign_in_and_is_in_the_navigation(client, dashboard):
    html = client.get(PAGE).get_data(as_text=True)
    assert "System settings" in html
    assert f'href="{PAGE}"' in client.get("/dashboard/").get_data(as_text=True)
    client.post("/dashboard/logout", data={"csrf_token": dashboard.csrf_token("/dashboard/")})
    assert client.get(PAGE).status_code == 302


def test_create_edit_delete_a_setting(app, client, dashboard):
    created = dashboard.post(PAGE, {"key": "ui/theme", "value": '{"mode": "dark"}', "is_public": "on"}, PAGE)
    assert created.status_code == 302
    row = stored_settings(app)["ui/theme"]
    assert (row.value, row.is_public, row.user_id) == ({"mode": "dark"}, True, None)
    assert "ui/theme" in client.get(PAGE).get_data(as_text=True)

    updated = dashboard.post(f"{PAGE}ui/theme/update", {"value": "plain words", "description": "Theme"}, PAGE)
    assert updated.status_code == 302
    row = stored_settings(app)["ui/theme"]
    assert (row.value, row.description, row.is_public) == ("plain words", "Theme", False)

    assert dashboard.post(f"{PAGE}ui/theme/delete", {}, PAGE).status_code == 302
    assert "ui/theme" not in stored_settings(app)


def test_bad_input_is_shown_and_stores_nothing(app, client, dashboard):
    response = dashboard.post(PAGE, {"key": "bad key!", "value": "1"}, PAGE)
    assert response.status_code == 400
    assert "a key is at most 255 letters" in response.get_data(as_text=True)
    dashboard.post(PAGE, {"key": "dup", "value": "1"}, PAGE)
    duplicate = dashboard.post(PAGE, {"key": "dup", "value": "2"}, PAGE)
    assert duplicate.status_code == 409
    assert stored_settings(app)["dup"].value == 1
    assert set(stored_settings(app)) == {"dup"}


def test_secrets_are_write_only(app, client, dashboard):
    created = dashboard.post(f"{PAGE}secrets", {"key": "db/password", "value": SECRET, "description": "DB"}, PAGE)
    assert created.status_code == 302
    page = client.get(PAGE).get_data(as_text=True)
    assert "db/password" in page and SECRET not in page
    row = stored_settings(app)["db/password"]
    assert row.is_secret and row.value is None and SECRET not in (row.encrypted_value or "")

    again = dashboard.post(f"{PAGE}secrets", {"key": "db/password", "value": SECRET}, PAGE)
    assert again.status_code == 409
    assert SECRET not in again.get_data(as_text=True)

    changed = dashboard.post(f"{PAGE}secrets/db/password/update", {"value": SECRET + "-2"}, PAGE)
    assert changed.status_code == 302
    assert stored_settings(app)["db/password"].encrypted_value != row.encrypted_value
    assert dashboard.post(f"{PAGE}secrets/db/password/update", {}, PAGE).status_code == 400

    assert dashboard.post(f"{PAGE}secrets/db/password/delete", {}, PAGE).status_code == 302
    assert "db/password" not in stored_settings(app)


def test_posts_need_the_csrf_token(app, client, dashboard):
    assert client.post(PAGE, data={"key": "x", "value": "1"}).status_code == 400
    assert stored_settings(app) == {}
