"""The live OpenAPI document, its docs page, the error-code table and the house error for bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_openapi3 import APIBlueprint

from flux import error_codes
from flux.api import ApiBlueprint, ApiModel, hookimpl, public, raises
from flux.openapi import FluxApp
from tests.settings.conftest import ADMIN, SECRETS, USER

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def document(make_app) -> dict:
    app = make_app(PLUGINS=["tests.plugins.my_plugin"])
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def test_the_document_is_public_openapi_3_with_the_servers_version(client):
    document = client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer not-a-token"}).json
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Fluxbase"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_api_route_of_every_loaded_plugin_is_documented(make_app, document):
    app = make_app(PLUGINS=["tests.plugins.my_plugin"])
    documented = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint.startswith("api_docs."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, f"{method} {path} ({rule.endpoint}) is not in the document"
    # The third-party test plugin's plain-blueprint routes are there too, without schemas.
    assert document["paths"]["/api/v1/my-plugin/echo"]["post"]["responses"] == {
        "default": {"description": "Not described by its plugin"}
    }


def test_operations_list_the_error_codes_they_answer(document):
    put = document["paths"]["/api/v1/settings/user/{key}"]["put"]
    codes = {
        status: set(answer["content"]["application/json"]["schema"]["properties"]["code"]["enum"])
        for status, answer in put["responses"].items()
        if status >= "400"
    }
    assert codes["409"] == {"KEY_IS_SECRET"}
    assert codes["413"] == {"PAYLOAD_TOO_LARGE", "VALUE_TOO_LARGE"}
    assert {"AUTH_REQUIRED", "INVALID_TOKEN"} <= codes["401"]
    assert {"APP_USER_REQUIRED", "FORBIDDEN"} <= codes["403"]
    assert {"INVALID_FIELD", "FIELD_REQUIRED", "INVALID_JSON", "INVALID_BODY"} <= codes["400"]
    assert codes["503"] == {"DATABASE_BUSY", "DATABASE_UNAVAILABLE"}
    assert put["security"] == [{"bearer": []}]
    listing = document["paths"]["/api/v1/settings/user/list"]["get"]
    assert (
        "INVALID_PAGE"
        in listing["responses"]["400"]["content"]["application/json"]["schema"]["properties"]["code"]["enum"]
    )
    assert "X-Total-Count" in listing["responses"]["200"]["headers"]
    public_read = document["paths"]["/api/v1/settings/{key}"]["get"]
    assert "401" not in public_read["responses"] and "security" not in public_read


def test_operation_ids_are_the_endpoint_names(document):
    ids = [operation["operationId"] for item in document["paths"].values() for operation in item.values()]
    assert "settings_user.put_user_setting" in ids
    assert len(ids) == len(set(ids))


def test_the_docs_page_serves_swagger_ui_from_the_package(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html  # no CDN
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/api/v1/docs/assets/js/swagger-ui-bundle.js" in assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.data) > 500
        response.close()
    assert '"/api/v1/openapi.json"' in html


def test_a_view_that_does_not_say_who_may_call_it_stops_start_up():
    blueprint = ApiBlueprint("careless", __name__, url_prefix="/api/v1/careless")
    with pytest.raises(TypeError, match=r"careless.open_by_omission .*require"):

        @blueprint.get("/")
        def open_by_omission():
            return {}


def test_raises_refuses_an_unregistered_code():
    with pytest.raises(KeyError, match="NO_SUCH_CODE is not registered"):
        raises("NO_SUCH_CODE")


def test_a_registered_code_keeps_its_status():
    assert error_codes.register("NOT_FOUND", 404, "again") == "NOT_FOUND"
    with pytest.raises(ValueError, match="registered with status 404"):
        error_codes.register("NOT_FOUND", 410, "gone")


def test_a_plugins_typed_route_enters_the_document(make_app):
    class Greeting(ApiModel):
        text: str

    typed = ApiBlueprint("typed_plugin", __name__, url_prefix="/api/v1/typed")

    @typed.get("/hello", responses={200: Greeting})
    @public
    def hello():
        return Greeting(text="hi").model_dump()

    class Plugin:
        @staticmethod
        @hookimpl
        def register_blueprints(app):
            return [typed]

    app = make_app(PLUGINS=[Plugin])
    assert isinstance(app, FluxApp) and isinstance(typed, APIBlueprint)
    document = app.test_client().get("/api/v1/openapi.json").json
    assert document["paths"]["/api/v1/typed/hello"]["get"]["operationId"] == "typed_plugin.hello"
    assert app.test_client().get("/api/v1/typed/hello").json == {"text": "hi"}


def test_two_different_models_of_one_name_stop_start_up(make_app):
    class SettingOut(ApiModel):  # the settings plugin documents another model of this name
        colour: str

    clashing = ApiBlueprint("clashing_plugin", __name__, url_prefix="/api/v1/clashing")

    @clashing.get("/", responses={200: SettingOut})
    @public
    def clash():
        return {}

    class Plugin:
        @staticmethod
        @hookimpl
        def register_blueprints(app):
            return [clashing]

    with pytest.raises(TypeError, match="model named SettingOut"):
        make_app(PLUGINS=[Plugin])


def test_access_is_checked_before_the_input(client):
    """An anonymous caller learns 401, not what is wrong with its body."""
    response = client.post(SECRETS, json={"key": "bad key!", "value": {"not": "text"}})
    assert (response.status_code, response.json["code"]) == (401, "AUTH_REQUIRED")
    response = client.put(f"{ADMIN}/k", data=b"{not json")
    assert (response.status_code, response.json["code"]) == (401, "AUTH_REQUIRED")


def test_bad_input_gets_the_house_error_without_echoing_values(client, auth):
    headers = auth.bearer(auth.signup("carol@example.com"))
    secret = "sk_live_never_echo_me"
    response = client.post(SECRETS, json={"key": "k", "value": {"nested": secret}}, headers=headers)
    assert response.status_code == 400
    body = response.json
    assert body["code"] == "INVALID_FIELD" and body["error"].startswith("value:")
    assert body["details"][0]["loc"] == ["value"]
    assert secret not in response.get_data(as_text=True)
    missing = client.put(f"{USER}/theme", json={"description": "no value"}, headers=headers)
    assert (missing.status_code, missing.json["code"]) == (400, "FIELD_REQUIRED")
    not_object = client.put(f"{USER}/theme", json=[1, 2], headers=headers)
    assert (not_object.status_code, not_object.json["code"]) == (400, "INVALID_BODY")
    malformed = client.put(f"{USER}/theme", data=b'{"value": ', headers=headers)
    assert (malformed.status_code, malformed.json["code"]) == (400, "INVALID_JSON")
    # JSON without a JSON Content-Type (as `curl -d` sends it) is still read.
    untyped = client.put(f"{USER}/theme", data=b'{"value": "dark"}', headers=headers, content_type="text/plain")
    assert (untyped.status_code, untyped.json["value"]) == (200, "dark")


def test_pages_are_bounded(client, auth):
    headers = auth.bearer(auth.signup("dave@example.com"))
    for limit, offset in (("0", "0"), ("1001", "0"), ("x", "0"), ("10", "-1")):
        response = client.get(f"{USER}/list?limit={limit}&offset={offset}", headers=headers)
        assert (response.status_code, response.json["code"]) == (400, "INVALID_PAGE"), (limit, offset)


def test_docs_errors_md_is_the_code_table():
    assert (ROOT / "docs" / "errors.md").read_text() == error_codes.builtin_markdown(), (
        "docs/errors.md is stale: run `python -m flux.error_codes > docs/errors.md`"
    )


def test_every_code_the_source_raises_is_registered():
    error_codes.builtin_markdown()  # imports every built-in plugin, which registers its codes
    sources = [*(ROOT / "flux").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
    written = {code for path in sources for code in re.findall(r'code="([A-Z_]+)"', path.read_text())}
    unregistered = sorted(code for code in written if not error_codes.is_registered(code))
    assert not unregistered, f"register these codes in flux.error_codes or their plugin: {unregistered}"
