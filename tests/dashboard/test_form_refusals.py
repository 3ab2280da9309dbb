"""Dashboard forms are `SchemaForm`s: the API's model judges them and each refusal is shown with its field.

The page answers with the status the API gives the same input, keeps what was typed,
and never puts a password, token or secret value back into the page.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from flux.auth.models import PlatformAccount, ServiceKey
from flux.db import db, utcnow
from plugins.secrets.models import FunctionSecret
from tests.conftest import PASSWORD, SETUP_TOKEN, DashboardClient


def text(response) -> str:
    return response.get_data(as_text=True)


def field_errors(html: str, field_id: str) -> list[str]:
    """The messages listed under the input whose id is `field_id` (`ui.field` puts them there)."""
    found = re.search(rf'id="{field_id}"[^>]*>\s*<ul class="errors">(.*?)</ul>', html, re.DOTALL)
    return re.findall(r"<li>(.*?)</li>", found.group(1)) if found else []


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).execution_options(all_tenants=True))


def test_a_refused_key_shows_the_apis_message_under_the_field_it_names(app, dashboard):
    """KeyCreate's `expires_at` is the form's `expires_on` box: the refusal lands there, not elsewhere."""
    today = utcnow().date().isoformat()
    response = dashboard.post("/dashboard/service-keys/", {"name": "n" * 201, "scopes": "*", "expires_on": today})
    html = text(response)
    assert response.status_code == 400
    assert field_errors(html, "expires_on") == ["must be in the future"]
    assert [message for message in field_errors(html, "name") if "at most 200 characters" in message] != []
    assert field_errors(html, "description") == []
    assert count(app, ServiceKey) == 0


def test_a_refused_secret_names_its_field_keeps_the_apis_status_and_not_the_value(app, dashboard):
    value = "v" * (64 * 1024 + 1)
    response = dashboard.post("/dashboard/secrets/", {"name": "big", "value": value, "description": "kept"})
    html = text(response)
    assert response.status_code == 413  # as the API answers it
    assert "Value: is 65537 bytes; at most 65536 are allowed" in html
    assert 'value="big"' in html and 'value="kept"' in html and value not in html
    assert count(app, FunctionSecret) == 0


def test_a_refused_setup_names_the_field_and_keeps_only_what_is_not_secret(app, client):
    fields = {"email": "not-an-email", "name": "Ada", "password": PASSWORD, "setup_token": SETUP_TOKEN}
    response = DashboardClient(client).post("/dashboard/setup", fields, token_from="/dashboard/login")
    html = text(response)
    assert response.status_code == 400
    assert re.search(r'role="alert">E-mail: [^<]+</p>', html)
    assert 'value="not-an-email"' in html and 'value="Ada"' in html
    assert PASSWORD not in html and SETUP_TOKEN not in html
    assert count(app, PlatformAccount) == 0


def test_a_sign_in_without_a_password_is_refused_on_its_field(client, auth):
    auth.setup_admin()
    browser_like = DashboardClient(client)
    response = browser_like.sign_in("someone@example.com", "")
    assert response.status_code == 400
    assert re.search(r'role="alert">Password: [^<]+</p>', text(response))
    assert 'value="someone@example.com"' in text(response)
    assert client.get("/dashboard/").status_code == 302
