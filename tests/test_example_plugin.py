"""The example plugin of docs/plugins.md works as the page says: scope, setting, command, documented route."""

from __future__ import annotations

from pathlib import Path

import pytest

from flux.cli import cli
from tests.conftest import TEST_PLUGIN

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture
def hello_app(make_app, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("FLUXBASE_PLUGINS", f"{TEST_PLUGIN},flux_hello")
    return make_app(PLUGINS=[TEST_PLUGIN, "flux_hello"])


def test_the_page_shows_the_file_the_suite_loads():
    page = (EXAMPLES.parent / "plugins.md").read_text()
    assert (EXAMPLES / "flux_hello.py").read_text() in page


def test_the_route_answers_with_the_configured_greeting(hello_app, auth):
    client = hello_app.test_client()
    admin = auth.bearer(auth.setup_admin())
    response = client.get("/api/v1/hello/Ada", headers=admin)
    assert (response.status_code, response.json) == (200, {"greeting": "Hello, Ada!"})
    assert client.get("/api/v1/hello/Ada").status_code == 401


def test_a_setting_variable_overrides_the_plugins_default(make_app, monkeypatch, auth):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("FLUXBASE_HELLO_GREETING", "Bonjour")
    app = make_app(PLUGINS=[TEST_PLUGIN, "flux_hello"])
    assert app.config["HELLO_GREETING"] == "Bonjour"
    admin = auth.bearer(auth.setup_admin())
    assert app.test_client().get("/api/v1/hello/Ada", headers=admin).json == {"greeting": "Bonjour, Ada!"}


def test_a_key_with_the_plugins_scope_is_greeted_and_one_without_is_not(hello_app, auth):
    client = hello_app.test_client()
    admin = auth.bearer(auth.setup_admin())
    keys = {}
    for scopes in (["hello:read"], ["audit:read"]):
        created = client.post("/api/v1/admin/service-keys", json={"name": scopes[0], "scopes": scopes}, headers=admin)
        assert created.status_code == 201, created.json
        keys[scopes[0]] = {"X-Service-Key": created.json["key"]}
    assert client.get("/api/v1/hello/Bob", headers=keys["hello:read"]).json == {"greeting": "Hello, Bob!"}
    assert client.get("/api/v1/hello/Bob", headers=keys["audit:read"]).status_code == 403


def test_the_route_is_in_the_openapi_document(hello_app):
    operation = hello_app.test_client().get("/api/v1/openapi.json").json["paths"]["/api/v1/hello/{name}"]["get"]
    assert operation["operationId"] == "hello.say_hello"
    assert operation["security"] == [{"bearer": []}]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Greeting")


def test_the_command_prints_the_greeting(hello_app):
    result = hello_app.test_cli_runner().invoke(cli, ["hello", "Ada"])
    assert (result.exit_code, result.output) == (0, "Hello, Ada!\n")
