"""What a function invocation receives, one name at a time: namespace over global, unexpired only,
env first, own tenant only."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flux.db import db
from flux.errors import SecretUnreadable
from flux.tenancy import default_tenant_id, find_tenant
from plugins.functions.secret_layers import invocation_secret
from plugins.secrets import store
from tests.conftest import create_tenant
from tests.secrets.conftest import add, expire, in_days, tamper


def resolve(app, names: list[str], namespace: str = "default", tenant: str | None = None) -> dict[str, dict[str, str]]:
    """The secrets plugin's answers to `read_invocation_secret` for each name and its variable, by layer."""
    found: dict[str, dict[str, str]] = {"function": {}, "env": {}}
    with app.app_context():
        tenant_id = find_tenant(tenant).id if tenant else default_tenant_id()
        for name in names:
            for layer, key in (("function", name), ("env", store.env_name(name))):
                answer = store.invocation_function_secret(tenant_id, namespace, key, (layer,))
                if layer in answer:
                    found[layer][key] = answer[layer]
    return found


def everything(app, namespace: str = "default") -> dict[str, str]:
    """The whole `env` layer, as `Deno.env.toObject()` gathers it."""
    with app.app_context():
        return store.invocation_env(default_tenant_id(), namespace)


def test_namespace_secrets_override_global_ones(app, client, admin_headers):
    add(client, admin_headers, "STRIPE_KEY", "sk-global")
    add(client, admin_headers, "STRIPE_KEY", "sk-production", namespace="production")
    add(client, admin_headers, "ONLY_GLOBAL", "g")
    add(client, admin_headers, "ONLY_STAGING", "s", namespace="staging")
    names = ["STRIPE_KEY", "ONLY_GLOBAL", "ONLY_STAGING"]
    production = resolve(app, names, "production")
    assert production["function"] == {"STRIPE_KEY": "sk-production", "ONLY_GLOBAL": "g"}
    assert production["env"] == {"FLUXBASE_SECRET_STRIPE_KEY": "sk-production", "FLUXBASE_SECRET_ONLY_GLOBAL": "g"}
    assert everything(app, "production") == production["env"]
    elsewhere = resolve(app, names, "default")
    assert elsewhere["function"] == {"STRIPE_KEY": "sk-global", "ONLY_GLOBAL": "g"}


def test_names_become_upper_case_variables(app, client, admin_headers):
    add(client, admin_headers, "sendgrid.api-key", "sg")
    assert resolve(app, ["sendgrid.api-key"]) == {
        "function": {"sendgrid.api-key": "sg"},
        "env": {"FLUXBASE_SECRET_SENDGRID_API_KEY": "sg"},
    }
    assert resolve(app, ["SENDGRID_API_KEY"])["function"] == {}  # the variable's name is not the secret's


def test_expired_secrets_are_left_out(app, client, admin_headers):
    add(client, admin_headers, "TOKEN", "global-token")
    namespaced = add(client, admin_headers, "TOKEN", "prod-token", namespace="production", expires_at=in_days(1))
    later = add(client, admin_headers, "LATER", "still-valid", expires_at=in_days(1))
    names = ["TOKEN", "LATER"]
    assert resolve(app, names, "production")["function"]["TOKEN"] == "prod-token"
    expire(app, namespaced["id"])
    secrets = resolve(app, names, "production")
    assert secrets["function"] == {"TOKEN": "global-token", "LATER": "still-valid"}
    expire(app, later["id"])
    assert resolve(app, names, "production")["env"] == {"FLUXBASE_SECRET_TOKEN": "global-token"}
    assert everything(app, "production") == {"FLUXBASE_SECRET_TOKEN": "global-token"}


def test_server_environment_wins_over_stored_secrets(app, client, admin_headers, monkeypatch):
    add(client, admin_headers, "API_KEY", "stored-value")
    add(client, admin_headers, "other.key", "stored-other")
    monkeypatch.setenv("FLUXBASE_SECRET_API_KEY", "from-environment")
    monkeypatch.setenv("FLUXBASE_SECRET_OTHER_KEY", "env-other")
    monkeypatch.setenv("FLUXBASE_SECRET_ENV_ONLY", "env-only")
    secrets = resolve(app, ["API_KEY", "other.key", "ENV_ONLY", "env_only", "OTHER_KEY"])
    assert (
        secrets["env"]
        == everything(app)
        == {
            "FLUXBASE_SECRET_API_KEY": "from-environment",
            "FLUXBASE_SECRET_OTHER_KEY": "env-other",
            "FLUXBASE_SECRET_ENV_ONLY": "env-only",
        }
    )
    assert secrets["function"] == {"API_KEY": "from-environment", "other.key": "env-other", "ENV_ONLY": "env-only"}


def test_only_the_functions_own_tenant(app, client, admin_headers):
    create_tenant(app, "acme")
    create_tenant(app, "globex")
    add(client, {**admin_headers, "X-FB-Tenant": "acme"}, "KEY", "acme-value")
    add(client, {**admin_headers, "X-FB-Tenant": "globex"}, "KEY", "globex-value", namespace="default")
    assert resolve(app, ["KEY"], tenant="acme")["function"] == {"KEY": "acme-value"}
    assert resolve(app, ["KEY"], tenant="globex")["function"] == {"KEY": "globex-value"}
    assert resolve(app, ["KEY"]) == {"function": {}, "env": {}}


def test_a_value_moved_to_another_secret_does_not_open(app, client, admin_headers, caplog):
    one = add(client, admin_headers, "ONE", "value-one-canary")
    two = add(client, admin_headers, "TWO", "value-two-canary")
    tamper(app, one["id"], two["id"])
    assert resolve(app, ["ONE"])["function"] == {"ONE": "value-one-canary"}  # only the read name is opened
    with pytest.raises(SecretUnreadable):  # an error, never a secret read as missing
        resolve(app, ["TWO"])
    assert "'TWO'" in caplog.text and "does not open" in caplog.text
    assert "canary" not in caplog.text


def test_a_version_moved_to_another_version_does_not_open(app, client, admin_headers):
    created = add(client, admin_headers, "K", "first")
    client.put(f"/api/v1/secrets/{created['id']}", json={"value": "second"}, headers=admin_headers)
    with app.app_context(), db.engine.connect() as connection:
        ids = dict(connection.execute(sa.text("SELECT version, id FROM function_secret_versions")).all())
    tamper(app, ids[2], ids[1], table="function_secret_versions")
    response = client.post(f"/api/v1/secrets/{created['id']}/rollback/1", headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (409, "VERSION_UNREADABLE")
    assert client.get(f"/api/v1/secrets/{created['id']}", headers=admin_headers).json["version"] == 2
    assert resolve(app, ["K"])["function"] == {"K": "second"}


def test_the_settings_and_secrets_layers_merge(app, client, admin_headers):
    add(client, admin_headers, "FN_SECRET", "fn")
    client.post("/api/v1/admin/settings/custom/secret", json={"key": "sys", "value": "system"}, headers=admin_headers)
    with app.app_context():
        tenant = default_tenant_id()
        assert invocation_secret(tenant, "production", None, "FN_SECRET") == {"function": "fn"}
        assert invocation_secret(tenant, "production", None, "MY_PLUGIN_TOKEN") == {"function": "token-for-production"}
        assert invocation_secret(tenant, "production", None, "sys") == {"system": "system"}
        variable = "FLUXBASE_SECRET_FN_SECRET"
        assert invocation_secret(tenant, "production", None, variable, ("env",)) == {"env": "fn"}
