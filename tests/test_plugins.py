"""Loading, blocking and describing plugins."""

from __future__ import annotations

import sys
import textwrap

import pytest

from flux import create_app, hookimpl
from flux.config import ConfigError
from flux.plugins import ESSENTIAL_PLUGINS, build_plugin_manager
from tests.conftest import AuthActions
from tests.plugins.my_plugin import EchoRuntime


def test_built_in_plugins_are_loaded(app):
    plugins = app.extensions["flux"].plugins
    for name in [*ESSENTIAL_PLUGINS, "dashboard"]:
        assert plugins.has_plugin(name)


def test_default_plugin_can_be_disabled(make_app):
    app = make_app(migrated=False, DISABLED_PLUGINS=["dashboard"])
    assert not app.extensions["flux"].plugins.has_plugin("dashboard")
    assert app.test_client().get("/dashboard/").status_code == 404


def test_essential_plugin_cannot_be_disabled(tmp_path):
    with pytest.raises(ConfigError, match="core_api are essential and cannot be disabled"):
        create_app({"INSTANCE_PATH": str(tmp_path), "DISABLED_PLUGINS": ["core_api"]})


def test_extra_plugin_can_be_disabled_by_name(make_app):
    app = make_app(migrated=False, DISABLED_PLUGINS=["tests.plugins.my_plugin"])
    assert not app.extensions["flux"].plugins.has_plugin("tests.plugins.my_plugin")
    assert app.test_client().post("/api/v1/my-plugin/echo", json={}).status_code == 404


def test_misspelled_hook_stops_startup():
    class Misspelled:
        from flux import hookimpl

        @hookimpl
        def register_blueprint(self, app):  # missing "s"
            return []

    with pytest.raises(ConfigError, match="register_blueprint"):
        build_plugin_manager(extra=[Misspelled()])


@pytest.fixture
def installed_distribution(tmp_path, monkeypatch):
    """A real (minimal) installed distribution with a `fluxbase.plugins` entry point."""
    site = tmp_path / "site"
    package = site / "flux_hello_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from flask import Blueprint, jsonify
            from flux import hookimpl

            hello = Blueprint("hello", __name__)

            @hello.get("/api/v1/hello")
            def say_hello():
                return jsonify({"hello": "from an installed plugin"})

            @hookimpl
            def register_blueprints(app):
                return [hello]
            """
        )
    )
    dist_info = site / "flux_hello_plugin-1.2.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: flux-hello-plugin\nVersion: 1.2.3\n")
    (dist_info / "entry_points.txt").write_text("[fluxbase.plugins]\nhello = flux_hello_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    yield "hello"
    sys.modules.pop("flux_hello_plugin", None)


def test_entry_point_plugin_is_loaded(installed_distribution, make_app):
    app = make_app(migrated=False)
    assert app.test_client().get("/api/v1/hello").json == {"hello": "from an installed plugin"}
    described = {info.name: info for info in app.extensions["flux"].plugins.describe()}
    assert described["hello"].version == "1.2.3"
    assert described["hello"].kind == "third-party"
    assert described["hello"].hooks == ["register_blueprints"]


def test_entry_point_plugin_can_be_disabled(installed_distribution, make_app):
    app = make_app(migrated=False, DISABLED_PLUGINS=["hello"])
    assert app.test_client().get("/api/v1/hello").status_code == 404


def test_admin_plugins_endpoint_needs_an_admin(client, auth):
    assert client.get("/api/v1/admin/plugins").status_code == 401
    user = auth.signup()
    assert client.get("/api/v1/admin/plugins", headers=auth.bearer(user)).status_code == 403


def test_admin_plugins_endpoint_lists_plugins_and_hooks(client, admin_headers):
    response = client.get("/api/v1/admin/plugins", headers=admin_headers)
    assert response.status_code == 200
    by_name = {plugin["name"]: plugin for plugin in response.json}
    assert by_name["storage"] == {
        "name": "storage",
        "kind": "essential",
        "version": by_name["core_api"]["version"],
        "hooks": ["register_migrations", "register_storage_backends"],
    }
    assert by_name["dashboard"]["kind"] == "default"
    mine = by_name["tests.plugins.my_plugin"]
    assert mine["kind"] == "extra"
    assert "register_encrypted_columns" in mine["hooks"] and "startup" in mine["hooks"]
    assert [plugin["name"] for plugin in response.json] == sorted(by_name)


def test_admin_plugins_endpoint_comes_in_pages(client, admin_headers):
    everything = client.get("/api/v1/admin/plugins", headers=admin_headers)
    total = len(everything.json)
    assert 2 < total < 50 and everything.headers["X-Total-Count"] == str(total)
    page = client.get("/api/v1/admin/plugins?limit=2&offset=1", headers=admin_headers)
    assert page.json == everything.json[1:3] and page.headers["X-Total-Count"] == str(total)
    assert client.get(f"/api/v1/admin/plugins?offset={total}", headers=admin_headers).json == []
    too_many = client.get("/api/v1/admin/plugins?limit=1001", headers=admin_headers)
    assert (too_many.status_code, too_many.json["code"]) == (400, "INVALID_PAGE")


def test_plugins_from_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("FLUXBASE_PLUGINS", "tests.plugins.my_plugin")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.extensions["flux"].plugins.has_plugin("tests.plugins.my_plugin")


def test_two_backends_with_one_name_are_refused():
    from flux.registry import collect_named
    from flux.storage import MemoryStore

    with pytest.raises(ConfigError, match="two plugins register a storage backend named 'memory'"):
        collect_named("storage backend", [[MemoryStore], [MemoryStore]])


def test_registered_names_must_be_simple():
    from flux.crypto import AesGcmCipher
    from flux.registry import collect_named

    class Colon(AesGcmCipher):
        name = "aes:gcm"

    with pytest.raises(ConfigError, match="names are 1-32 of a-z, 0-9 and '-'"):
        collect_named("cipher", [[Colon]])


# -- vocabularies: config defaults, scopes, commands and hooks belong to their plugins --------------


class Defaults:
    """A plugin that registers the config defaults it is given."""

    def __init__(self, **defaults) -> None:
        self.defaults = defaults

    @hookimpl
    def register_config_defaults(self):
        return self.defaults


class Scopes:
    """A plugin that registers the scopes it is given."""

    def __init__(self, **scopes) -> None:
        self.scopes = scopes

    @hookimpl
    def register_scopes(self):
        return self.scopes


def test_functions_settings_belong_to_the_functions_plugin(make_app, monkeypatch):
    monkeypatch.setenv("FLUXBASE_FUNCTIONS_MAX_WARM_WORKERS", "3")
    monkeypatch.setenv("FLUXBASE_FUNCTIONS_ALLOWED_ENV", "FLUXBASE_REGION, FLUXBASE_STAGE")
    app = make_app(migrated=False)
    assert app.config["FUNCTIONS_MAX_WARM_WORKERS"] == 3  # parsed by the plugin default's type
    assert app.config["FUNCTIONS_ALLOWED_ENV"] == ["FLUXBASE_REGION", "FLUXBASE_STAGE"]
    assert app.config["FUNCTIONS_RUNTIME"] == "deno"
    assert app.config["WORKER_TIMEOUT_SECONDS"] == 300 + 30  # raised for the longest function call
    without = make_app(migrated=False, DISABLED_PLUGINS=["functions"]).config
    assert not [name for name in without if name.startswith("FUNCTIONS_")]
    assert without["WORKER_TIMEOUT_SECONDS"] == 30


def test_a_plugin_default_may_not_redefine_a_setting(make_app):
    with pytest.raises(ConfigError, match="registers a default for MAX_BODY_BYTES, a setting of the core"):
        make_app(migrated=False, PLUGINS=[Defaults(MAX_BODY_BYTES=1)])
    with pytest.raises(ConfigError, match="registers a default for FUNCTIONS_RUNTIME, a setting of plugin functions"):
        make_app(migrated=False, PLUGINS=[Defaults(FUNCTIONS_RUNTIME="mine")])
    with pytest.raises(ConfigError, match="registers a config default named 'notes_limit'; use UPPER_CASE"):
        make_app(migrated=False, PLUGINS=[Defaults(notes_limit=1)])


def test_scopes_are_those_of_the_loaded_plugins(make_app):
    scopes = make_app(migrated=False).extensions["flux"].scopes
    assert {"*", "service_keys:write", "audit:read", "secrets:read", "settings:write", "functions:execute"} <= set(
        scopes
    )
    assert {"flags:read", "tenant_settings:write"} <= set(scopes)
    assert "notes:admin" not in scopes  # no loaded plugin checks it
    fewer = make_app(migrated=False, DISABLED_PLUGINS=["secrets", "functions", "flags"]).extensions["flux"].scopes
    assert not [name for name in fewer if name.startswith(("secrets:", "functions:", "flags:", "tenant_settings:"))]


def test_a_disabled_plugins_scopes_cannot_be_granted(make_app):
    app = make_app(DISABLED_PLUGINS=["secrets"])
    client = app.test_client()
    headers = AuthActions.bearer(AuthActions(client).setup_admin())
    refused = client.post("/api/v1/admin/service-keys", json={"name": "k", "scopes": ["secrets:read"]}, headers=headers)
    assert (refused.status_code, refused.json["code"]) == (400, "INVALID_FIELD")
    assert "unknown scope(s) ['secrets:read']" in refused.json["error"]
    refused = client.post("/api/v1/admin/service-keys", json={"name": "k", "scopes": ["secrets:*"]}, headers=headers)
    assert refused.status_code == 400


def test_a_scope_is_registered_once_and_well_formed(make_app):
    with pytest.raises(ConfigError, match="registers the scope 'secrets:read', already registered by plugin secrets"):
        make_app(migrated=False, PLUGINS=[Scopes(**{"secrets:read": "mine"})])
    with pytest.raises(ConfigError, match="registers a scope named 'notes'; scopes look like 'notes:read'"):
        make_app(migrated=False, PLUGINS=[Scopes(notes="all notes")])


class Runtimes:
    """A third-party runtime plugin written before the hook moved into the functions plugin."""

    @hookimpl
    def register_function_runtimes(self):
        return [EchoRuntime]


def test_a_functions_hook_works_for_third_party_plugins(make_app):
    app = make_app(migrated=False, PLUGINS=[Runtimes()], FUNCTIONS_RUNTIME="my-echo")
    assert app.extensions["functions"]["runtime_class"] is EchoRuntime
    # Without the functions plugin the hook does not exist: a required answer names it.
    with pytest.raises(ConfigError, match="register_function_runtimes"):
        make_app(migrated=False, PLUGINS=[Runtimes()], DISABLED_PLUGINS=["functions"])


def test_secret_keeping_plugins_load_without_the_functions_plugin(make_app):
    app = make_app(DISABLED_PLUGINS=["functions"])  # settings, secrets and the test plugin answer its hooks
    plugins = app.extensions["flux"].plugins
    assert plugins.has_plugin("secrets") and plugins.has_plugin("settings")
    assert plugins.hook.read_invocation_secret.spec is None
    assert plugins.hook.collect_invocation_env.spec is None
