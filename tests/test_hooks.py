"""One test per hook, and meta-tests that every hook is tested and documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from flux import create_app, hookimpl, migrate
from flux.auth.models import ServiceKey
from flux.cli import cli
from flux.config import ConfigError
from flux.crypto import associated_data
from flux.db import db
from flux.plugins import build_plugin_manager
from flux.tenancy import default_tenant_id
from plugins.functions.invocation_flags import invocation_flags
from plugins.functions.secret_layers import invocation_env, invocation_secret
from tests.conftest import ADMIN_EMAIL, PASSWORD, TEST_PLUGIN, AuthActions, DashboardClient, create_tenant
from tests.plugins.my_plugin import deleted_tenants, heard_events, notes, tenants_kept

ROOT = Path(__file__).resolve().parent.parent
# The core's hooks and those the built-in plugins declare (`register_hookspecs`).
SPECS = {name: caller.spec for name, caller in vars(build_plugin_manager().hook).items() if caller.spec}
HOOK_NAMES = sorted(SPECS)


def test_there_are_hooks():
    assert {"register_blueprints", "register_ciphers", "startup", "register_function_runtimes"} <= set(HOOK_NAMES)


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_every_hook_has_a_test(hook):
    tests = "\n".join(path.read_text() for path in Path(__file__).parent.rglob("test_*.py"))
    assert f"def test_hook_{hook}(" in tests, f"hook {hook} has no test_hook_{hook} test"


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_every_hook_is_documented(hook):
    guide = (ROOT / "docs" / "plugins.md").read_text()
    assert re.search(rf"^### `{hook}", guide, re.MULTILINE), f"docs/plugins.md has no section for {hook}"
    docstring = SPECS[hook].function.__doc__ or ""
    assert "Example" in docstring and "Called" in docstring, f"{hook}'s docstring lacks when/example"


def test_hook_register_hookspecs(make_app):
    class Neighbour:
        @hookimpl(optionalhook=True)
        def my_plugin_greetings(self):
            return "hello from a neighbour"

    app = make_app(migrated=False, PLUGINS=[TEST_PLUGIN, Neighbour()])
    assert sorted(app.extensions["flux"].plugins.hook.my_plugin_greetings()) == [
        "hello from a neighbour",
        "hello from my plugin",
    ]
    # Without the declaring plugin the hook does not exist: optional answers are left alone...
    alone = make_app(migrated=False, PLUGINS=[Neighbour()])
    assert alone.extensions["flux"].plugins.hook.my_plugin_greetings.spec is None

    # ...and a required one names the hook it cannot find.
    class Demanding:
        @hookimpl
        def my_plugin_greetings(self):
            return "hello?"

    with pytest.raises(ConfigError, match="my_plugin_greetings"):
        make_app(migrated=False, PLUGINS=[Demanding()])


def test_hook_register_config_defaults(make_app, monkeypatch):
    app = make_app(migrated=False)
    assert [app.config[f"MY_PLUGIN_{name}"] for name in ("MAX_NOTES", "LOUD", "TAGS", "GREETING")] == [
        100,
        False,
        [],
        "hi",
    ]
    # Lowest layer: the instance file and FLUXBASE_* beat it, parsed by the default's type.
    Path(app.instance_path, "config.py").write_text('MY_PLUGIN_GREETING = "hello"\nMY_PLUGIN_MAX_NOTES = 5\n')
    monkeypatch.setenv("FLUXBASE_MY_PLUGIN_MAX_NOTES", "7")
    monkeypatch.setenv("FLUXBASE_MY_PLUGIN_LOUD", "yes")
    monkeypatch.setenv("FLUXBASE_MY_PLUGIN_TAGS", "a, b")
    app = make_app(migrated=False)
    assert [app.config[f"MY_PLUGIN_{name}"] for name in ("MAX_NOTES", "LOUD", "TAGS", "GREETING")] == [
        7,
        True,
        ["a", "b"],
        "hello",
    ]
    assert make_app(migrated=False, MY_PLUGIN_MAX_NOTES=9).config["MY_PLUGIN_MAX_NOTES"] == 9  # test config on top
    monkeypatch.setenv("FLUXBASE_MY_PLUGIN_MAX_NOTES", "lots")
    with pytest.raises(ConfigError, match="FLUXBASE_MY_PLUGIN_MAX_NOTES must be an integer, got 'lots'"):
        make_app(migrated=False)
    # A disabled plugin's variables are not read (nor their malformed values refused).
    disabled = make_app(migrated=False, DISABLED_PLUGINS=[TEST_PLUGIN]).config
    assert "MY_PLUGIN_LOUD" not in disabled and "MY_PLUGIN_TAGS" not in disabled


def test_hook_register_scopes(app, client, admin_headers):
    assert app.extensions["flux"].scopes["notes:read"] == "read notes"
    created = client.post(
        "/api/v1/admin/service-keys",
        json={"name": "notes-bot", "scopes": ["notes:read", "notes:*"]},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.json
    assert created.json["scopes"] == ["notes:*", "notes:read"]
    with app.app_context():
        stored = db.session.get(ServiceKey, created.json["id"], execution_options={"all_tenants": True})
        assert stored.scopes == ["notes:*", "notes:read"]
    refused = client.post(
        "/api/v1/admin/service-keys", json={"name": "bad", "scopes": ["notes:delete", "memos:*"]}, headers=admin_headers
    )
    assert (refused.status_code, refused.json["code"]) == (400, "INVALID_FIELD")
    assert refused.json["error"].startswith("scopes: unknown scope(s) ['notes:delete', 'memos:*']; known: ['*', ")
    for known in ("notes:read", "notes:write", "secrets:read", "functions:execute", "service_keys:write"):
        assert repr(known) in refused.json["error"]
    DashboardClient(client).sign_in()
    page = client.get("/dashboard/service-keys/").get_data(as_text=True)
    assert 'value="notes:read"' in page and 'value="secrets:write"' in page


def test_hook_register_setting_categories(app, client, admin_headers, monkeypatch, make_app):
    settings = "/api/v1/admin/settings/notes"
    assert client.get(settings, headers=admin_headers).json == {"max_length": 10000, "sharing": False}
    changed = client.put(settings, json={"max_length": 500}, headers=admin_headers)
    assert changed.json["changes"] == {"max_length": {"old": 10000, "new": 500}}
    refused = client.put(settings, json={"max_length": 0}, headers=admin_headers)
    assert (refused.status_code, refused.json["code"]) == (400, "INVALID_FIELD")
    with app.test_request_context(headers=admin_headers):
        from flux import tenant_settings

        assert tenant_settings.value("notes.max_length", default_tenant_id()) == 500
    monkeypatch.setenv("FLUXBASE_SETTINGS_NOTES_SHARING", "true")
    other = make_app(migrated=False)
    with other.app_context():
        assert other.extensions["flux"].settings.category("notes").base == {"max_length": 10000, "sharing": True}


def test_hook_register_setting_categories_refuses_a_taken_or_reserved_name(make_app):
    class Clash:
        @hookimpl
        def register_setting_categories(self):
            from plugins.flags.categories import BrandingSettings

            return {"branding": BrandingSettings}

    class Reserved:
        @hookimpl
        def register_setting_categories(self):
            from plugins.flags.categories import BrandingSettings

            return {"custom": BrandingSettings}

    for plugin, message in ((Clash(), "of plugin flags"), (Reserved(), "named 'custom'")):
        with pytest.raises(ConfigError, match=message):
            make_app(migrated=False, PLUGINS=[plugin])


def test_hook_register_feature_flags(client, admin_headers):
    flags = client.get("/api/v1/admin/settings/feature-flags", headers=admin_headers).json["flags"]
    mine = next(flag for flag in flags if flag["key"] == "notes_sharing")
    assert mine == {
        "key": "notes_sharing",
        "display_name": "Note sharing",
        "description": "Share notes by link",
        "enabled": False,
        "category": "notes",
        "impact": "low",
    }
    turned = client.put(
        "/api/v1/admin/settings/feature-flags/notes_sharing", json={"enabled": True}, headers=admin_headers
    )
    assert turned.json["enabled"] is True


def test_hook_register_blueprints(client):
    assert client.post("/api/v1/my-plugin/echo", json={"x": 1}).json == {"received": {"x": 1}}


def test_hook_register_admin_pages(app, client, auth):
    pages = app.extensions["flux"].admin_pages
    assert ("My page", "Testing") in [(page.title, page.category) for page in pages]
    auth.setup_admin()
    DashboardClient(client).sign_in()
    assert '<a href="/api/v1/my-plugin/page">My page</a>' in client.get("/dashboard/").get_data(as_text=True)
    assert "tests.plugins.my_plugin" in client.get("/dashboard/plugins").get_data(as_text=True)


def test_hook_register_commands(app, monkeypatch):
    monkeypatch.setenv("FLUXBASE_PLUGINS", "tests.plugins.my_plugin")
    result = app.test_cli_runner().invoke(cli, ["my-hello", "--name", "plugin"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello plugin\n"
    assert "my-hello" in app.test_cli_runner().invoke(cli, ["--help"]).output


def test_hook_register_migrations(make_app):
    app = make_app(migrated=False)
    folders = migrate.migration_folders(app)
    assert ROOT / "tests" / "plugins" / "migrations" in folders
    assert set(migrate.pending_heads(app)) == {
        "core_0003",
        "functions_0007",
        "my_plugin_0001",
        "secrets_0001",
        "settings_0001",
        "storage_0001",
    }
    migrate.upgrade(app)
    with app.app_context():
        assert "my_plugin_notes" in sa.inspect(db.engine).get_table_names()
    assert migrate.pending_heads(app) == []


def test_hook_register_ciphers(make_app):
    app = make_app(migrated=False, ENCRYPTION_CIPHER="chacha20-poly1305")
    encryptor = app.extensions["flux"].encryptor
    token = encryptor.encrypt("via chacha", aad=b"x")
    assert token.startswith("fx1:chacha20-poly1305:")
    assert encryptor.decrypt_text(token, aad=b"x") == "via chacha"
    default = make_app(migrated=False)
    assert default.extensions["flux"].encryptor.cipher.name == "aes-256-gcm"  # registering is not selecting
    assert default.extensions["flux"].encryptor.decrypt_text(token, aad=b"x") == "via chacha"


def test_hook_register_storage_backends(make_app, tmp_path):
    app = make_app(migrated=False, STORAGE_BACKEND="my-memory")
    assert type(app.extensions["flux"].store).__name__ == "PrefixedMemoryStore"
    with pytest.raises(ConfigError, match=r"unknown storage backend 'nope'.*known: memory, my-memory, sql"):
        create_app({"INSTANCE_PATH": str(tmp_path), "PLUGINS": ["tests.plugins.my_plugin"], "STORAGE_BACKEND": "nope"})


def test_hook_delete_tenant_data(app, client, admin_headers):
    """Every plugin's part runs as the tenant, inside the one transaction a refusal rolls back."""
    kept, gone = create_tenant(app, "kept"), create_tenant(app, "gone")
    tenants_kept.add(kept)
    try:
        refused = client.delete("/api/v1/admin/tenants/kept?hard=true", headers=admin_headers)
    finally:
        tenants_kept.discard(kept)
    assert (refused.status_code, refused.json["code"]) == (409, "NOTES_KEPT")
    assert client.get("/api/v1/admin/tenants/kept", headers=admin_headers).json["id"] == kept

    assert client.delete("/api/v1/admin/tenants/gone?hard=true", headers=admin_headers).status_code == 204
    assert deleted_tenants[-1] == (gone, gone)
    assert client.get("/api/v1/admin/tenants/gone", headers=admin_headers).status_code == 404


def test_hook_register_encrypted_columns(app):
    columns = [c for found in app.extensions["flux"].plugins.hook.register_encrypted_columns(app=app) for c in found]
    assert [column.label for column in columns] == [
        "my_plugin_notes.body",
        "functions.encrypted_env",
        "function_secrets.encrypted_value",
        "function_secret_versions.encrypted_value",
        "settings_entries.encrypted_value",
    ]
    assert columns[0].table is notes
    assert columns[0].aad({"id": 1, "owner_id": None}) == associated_data("my-plugin-note", 1, None)


def test_hook_register_function_runtimes(make_app, tmp_path):
    app = make_app(FUNCTIONS_RUNTIME="my-echo")
    client = app.test_client()
    headers = AuthActions.bearer(AuthActions(client).setup_admin())
    refused = client.post("/api/v1/functions", json={"name": "f", "code": "a syntax error"}, headers=headers)
    assert (refused.status_code, refused.json["code"]) == (400, "CODE_INVALID")
    assert "my-echo refuses" in refused.json["error"]
    created = client.post("/api/v1/functions", json={"name": "f", "code": "any code"}, headers=headers)
    assert created.status_code == 201
    answer = client.post("/api/v1/functions/f/invoke", headers=headers)
    assert answer.status_code == 200 and answer.json["version"] == 1 and answer.json["method"] == "POST"
    with pytest.raises(ConfigError, match=r"unknown function runtime 'nope'.*known: deno, my-echo"):
        create_app({"INSTANCE_PATH": str(tmp_path), "PLUGINS": [TEST_PLUGIN], "FUNCTIONS_RUNTIME": "nope"})


def test_hook_startup(app):
    assert app.config["MY_PLUGIN_STARTED"] is True


def test_hook_before_serving(app, capsys):
    from flux.cli import _prepare_to_serve

    _prepare_to_serve(app)
    assert app.config["MY_PLUGIN_SERVING_AS"] == ("server", "default", True)
    assert "my plugin is ready to serve" in capsys.readouterr().out.splitlines()


def test_hook_actor_from_request(client):
    assert client.get("/api/v1/admin/plugins").status_code == 401
    response = client.get("/api/v1/admin/plugins", headers={"X-My-Plugin-Actor": "robot"})
    assert response.status_code == 200
    assert "core_api" in {plugin["name"] for plugin in response.json}


def test_hook_resolve_tenant(app, client, auth):
    create_tenant(app, "acme")
    auth.signup("routed@example.com", tenant=None)
    signin = {"email": "routed@example.com", "password": PASSWORD}
    # The plugin routes "acme.example.com" to tenant acme, where this user does not exist.
    routed = client.post("/api/v1/auth/signin", json=signin, headers={"X-My-Plugin-Host": "acme.example.com"})
    assert routed.status_code == 401
    # Without the header, the built-in rule picks the default tenant, where it does.
    assert client.post("/api/v1/auth/signin", json=signin).status_code == 200


def test_hook_permission_allowed(client, auth):
    allowed = auth.signup("fine@example.com")
    assert client.get("/api/v1/auth/user", headers=auth.bearer(allowed)).status_code == 200
    blocked = auth.signup("blocked@example.com")
    response = client.get("/api/v1/auth/user", headers=auth.bearer(blocked))
    assert response.status_code == 403
    assert response.json["code"] == "FORBIDDEN"


def test_hook_register_dashboard_blueprints(client, auth):
    assert client.get("/dashboard/my-plugin/").status_code == 302  # sign-in first
    auth.setup_admin()
    DashboardClient(client).sign_in()
    page = client.get("/dashboard/my-plugin/")
    assert page.status_code == 200
    assert f"my admin page for {ADMIN_EMAIL}" in page.get_data(as_text=True)
    assert client.post("/dashboard/my-plugin/").status_code == 400  # no CSRF token
    # The cookie still authenticates nothing under /api/.
    assert client.get("/api/v1/admin/me").status_code == 401


def test_hook_record_audit_event(app, client, admin_headers):
    heard_events.clear()
    created = client.post(
        "/api/v1/admin/service-keys", json={"name": "ci", "scopes": ["audit:read"]}, headers=admin_headers
    )
    assert created.status_code == 201
    assert [(e.action, e.target) for e in heard_events] == [("service_key.created", created.json["id"])]
    assert created.json["key"] not in repr(heard_events)
    listed = client.get("/api/v1/admin/audit", headers=admin_headers).json
    assert [(e["action"], e["target"]) for e in listed] == [("service_key.created", created.json["id"])]
    assert listed[0]["actor_kind"] == "platform"


class KeepsVariables:
    """A later plugin that keeps `FLUXBASE_SECRET_*` variables (the `env` layer), by name and in all."""

    @hookimpl
    def read_invocation_secret(self, namespace, name, layers):
        if name == "FLUXBASE_SECRET_LATER" and "env" in layers:
            return {"env": f"env-for-{namespace}"}
        return {"function": "the-later-plugin-loses"} if name == "MY_PLUGIN_TOKEN" and "function" in layers else None

    @hookimpl
    def collect_invocation_env(self, namespace):
        return {"FLUXBASE_SECRET_LATER": f"env-for-{namespace}"}


def test_hook_read_invocation_secret(make_app):
    app = make_app(PLUGINS=[TEST_PLUGIN, KeepsVariables()])
    with app.test_request_context():
        tenant = default_tenant_id()
        # The first plugin in registration order to answer a layer wins.
        assert invocation_secret(tenant, "billing", None, "MY_PLUGIN_TOKEN") == {"function": "token-for-billing"}
        assert invocation_secret(tenant, "billing", None, "MY_PLUGIN_TOKEN", ("env",)) == {}
        variable = "FLUXBASE_SECRET_LATER"
        assert invocation_secret(tenant, "billing", None, variable, ("env",)) == {"env": "env-for-billing"}
        assert invocation_secret(tenant, "billing", None, variable) == {}  # a variable is no secret name
        assert invocation_secret(tenant, "billing", None, "missing") == {}


def test_hook_collect_invocation_env(make_app):
    app = make_app(PLUGINS=[TEST_PLUGIN, KeepsVariables()])
    with app.test_request_context():
        assert invocation_env(default_tenant_id(), "billing") == {"FLUXBASE_SECRET_LATER": "env-for-billing"}


def test_a_plugin_of_the_replaced_gather_all_secrets_hook_stops_start_up(make_app):
    class GathersAll:
        @hookimpl(optionalhook=True)
        def collect_invocation_secrets(self, tenant_id, namespace, user_id):
            return {"function": {"KEY": "value"}}

    # optionalhook: pluggy alone would say nothing, and these secrets would silently vanish.
    with pytest.raises(ConfigError, match=r"collect_invocation_secrets, which .* replaced by read_invocation_secret"):
        make_app(migrated=False, PLUGINS=[TEST_PLUGIN, GathersAll()])


def test_hook_collect_invocation_flags(make_app):
    class Later:
        @hookimpl
        def collect_invocation_flags(self, tenant_id, context):
            return {"my_plugin_beta": False, "later": f"{tenant_id}/{context['function']}"}

    # Without the flags plugin, whose answer tests/flags/test_functions_read_flags.py checks.
    app = make_app(migrated=False, PLUGINS=[TEST_PLUGIN, Later()], DISABLED_PLUGINS=["flags"])
    context = {"role": "anon", "tenant_id": "t1", "function": "f", "namespace": "default"}
    with app.app_context():
        flags = invocation_flags("t1", context)
    # The first plugin in registration order to name a key wins.
    assert flags == {"my_plugin_beta": True, "my_plugin_context": context, "later": "t1/f"}
