"""CSRF protection: every dashboard POST needs the session's token; the JSON API needs none."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from flux.auth.models import ServiceKey
from flux.db import db
from tests.conftest import ADMIN_EMAIL, PASSWORD, DashboardClient

NEW_KEY = {"name": "sneaky", "scopes": "*"}


def stored_keys(app) -> list[ServiceKey]:
    with app.app_context():
        return list(db.session.scalars(sa.select(ServiceKey).execution_options(all_tenants=True)))


def assert_refused(response, reason: str) -> None:
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert reason in response.get_data(as_text=True)


def test_login_without_a_token_is_refused(client, auth):
    auth.setup_admin()
    response = client.post("/dashboard/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert_refused(response, "The CSRF token is missing.")
    assert client.get("/dashboard/").status_code == 302  # still signed out


@pytest.mark.parametrize(
    ("token", "reason"),
    [(None, "The CSRF token is missing."), ("made-up", "The CSRF token is invalid."), ("other", "do not match")],
)
def test_a_post_without_the_right_token_changes_nothing(app, dashboard, token, reason):
    data = dict(NEW_KEY)
    assert dashboard.client.get("/dashboard/service-keys/").status_code == 200  # the session has its token
    if token == "other":
        data["csrf_token"] = DashboardClient(app.test_client()).csrf_token()  # another browser's token
    elif token:
        data["csrf_token"] = token
    assert_refused(dashboard.client.post("/dashboard/service-keys/", data=data), reason)
    assert stored_keys(app) == []
    assert dashboard.post("/dashboard/service-keys/", NEW_KEY).status_code == 201  # the page's own token works
    assert [key.name for key in stored_keys(app)] == ["sneaky"]


def test_revoke_and_logout_need_the_token(app, dashboard):
    dashboard.post("/dashboard/service-keys/", NEW_KEY)
    (key,) = stored_keys(app)
    response = dashboard.client.post(f"/dashboard/service-keys/{key.id}/revoke", data={"reason": "forged"})
    assert_refused(response, "The CSRF token is missing.")
    assert [key.revoked_at for key in stored_keys(app)] == [None]
    assert_refused(dashboard.client.post("/dashboard/logout"), "The CSRF token is missing.")
    assert dashboard.client.get("/dashboard/").status_code == 200  # still signed in


def test_the_json_api_needs_no_csrf_token(client, auth):
    tokens = auth.setup_admin()
    signin = client.post("/api/v1/admin/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert signin.status_code == 200
    body = {"name": "api", "scopes": ["secrets:read"]}
    assert client.post("/api/v1/admin/service-keys", json=body, headers=auth.bearer(tokens)).status_code == 201


def test_every_dashboard_form_needs_the_token(app, dashboard):
    """Each POST route of the dashboard and of the pages plugins mount in it (Secrets, Functions)."""
    posts = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/dashboard") and "POST" in rule.methods]
    function = "/dashboard/functions/<string(maxlength=64):namespace>/<string(maxlength=64):name>"
    assert {
        "/dashboard/secrets/<string(maxlength=36):secret_id>/rollback/<version>",
        f"{function}/rollback/<version>",
        f"{function}/<any(enable, disable):action>",
    } <= {rule.rule for rule in posts}
    for rule in posts:
        path = re.sub(r"<any\((\w+)[^>]*>", r"\1", rule.rule)  # `<any(enable, disable):action>` → enable
        path = re.sub(r"<[^>]+>", "0" * 36, path)
        assert_refused(
            dashboard.client.post(path, data={"name": "forged", "value": "x", "confirm": "yes"}),
            "The CSRF token is missing.",
        )
    assert dashboard.client.get("/dashboard/").status_code == 200  # still signed in: logout was refused too
