"""Seed 002's settings API: categories with defaults, deep-merge updates, reset, ETags, feature flags, audit."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from flux import create_app
from flux.audit import AuditRecord
from flux.config import ConfigError
from flux.db import db
from flux.storage.sql import kv_table
from flux.tenancy import tenant_scope
from tests.conftest import BACKEND, DEFAULT_PASSWORD_POLICY, create_tenant, login, tenant_admin

SEED = "/api/admin/settings"
V1 = "/api/v1/admin/settings"
CATEGORIES = ["authentication", "branding", "compliance", "email", "security", "tokens", "webhooks"]
SEED_FLAGS = [
    {
        "key": "passwordless_enabled",
        "display_name": "Passwordless Authentication",
        "description": "Enable passwordless authentication with WebAuthn/Passkeys",
        "enabled": False,
        "category": "authentication",
        "impact": "low",
    },
    {
        "key": "advanced_mfa",
        "display_name": "Advanced MFA",
        "description": "Enable risk-based MFA and adaptive authentication",
        "enabled": True,
        "category": "security",
        "impact": "medium",
    },
    {
        "key": "rebac_enabled",
        "display_name": "ReBAC",
        "description": "Enable relationship-based access control",
        "enabled": True,
        "category": "access_control",
        "impact": "high",
    },
    {
        "key": "audit_log_export",
        "display_name": "Audit Log Export",
        "description": "CSV/JSON export functionality for audit logs",
        "enabled": True,
        "category": "compliance",
        "impact": "low",
    },
]


def stored(app, tenant_id: str, namespace: str = "settings") -> dict[str, bytes]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(kv_table.c.key, kv_table.c.value).where(kv_table.c.namespace == f"tenant:{tenant_id}:{namespace}")
        )
        return dict(rows.all())


def default_tenant(app) -> str:
    with app.app_context():
        from flux.tenancy import default_tenant_id

        return default_tenant_id()


def audits(app, tenant_id: str, action: str = "settings.update") -> list[AuditRecord]:
    with app.app_context(), tenant_scope(tenant_id):
        query = sa.select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.created_at)
        return list(db.session.scalars(query))


# --- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", [SEED, V1])
def test_every_category_answers_the_seeds_defaults(client, admin_headers, base):
    response = client.get(base, headers=admin_headers)
    assert response.status_code == 200
    assert sorted(response.json) == sorted([*CATEGORIES, "notes"])  # notes: the test plugin's (tests/plugins)
    authentication = response.json["authentication"]
    assert authentication["password_policy"] == DEFAULT_PASSWORD_POLICY
    assert authentication["session"] == {
        "lifetime": 86400,
        "idle_timeout": 3600,
        "absolute_timeout": 604800,
        "single_session": False,
        "remember_me_enabled": True,
        "remember_me_duration": 2592000,
    }
    assert authentication["mfa"] == {
        "enabled": True,
        "required": False,
        "methods": ["totp", "sms", "email"],
        "grace_period": 0,
    }
    assert authentication["lockout"] == {
        "enabled": True,
        "max_attempts": 5,
        "lockout_duration": 900,
        "reset_after": 3600,
    }
    assert response.json["security"]["rate_limiting"] == {"enabled": True, "requests_per_minute": 60}
    assert response.json["branding"]["primary_color"] == "#0066CC"
    assert response.headers["ETag"]
    one = client.get(f"{base}/authentication", headers=admin_headers)
    assert (one.status_code, one.json) == (200, authentication)
    assert one.headers["ETag"] != response.headers["ETag"]


def test_an_unknown_category_is_404_and_custom_stays_the_settings_plugins(client, admin_headers):
    for path in (f"{SEED}/nope", f"{V1}/nope", f"{SEED}/custom"):
        response = client.get(path, headers=admin_headers)
        assert (response.status_code, response.json["code"]) == (404, "NOT_FOUND"), path
        assert "authentication" in response.json["error"]
    assert client.put(f"{V1}/nope", json={"a": 1}, headers=admin_headers).status_code == 404
    assert client.post(f"{V1}/reset/nope", headers=admin_headers).status_code == 404
    custom = client.get(f"{V1}/custom", headers=admin_headers)
    assert (custom.status_code, custom.json) == (200, [])


# --- changing -----------------------------------------------------------------------------------


def test_put_deep_merges_and_answers_the_changes(app, client, admin_headers):
    before = int(time.time())
    body = {"password_policy": {"min_length": 12, "require_symbols": True}, "mfa": {"required": True}}
    response = client.put(f"{SEED}/authentication", json=body, headers=admin_headers)
    assert response.status_code == 200, response.json
    assert response.json["updated"] is True
    assert response.json["category"] == "authentication"
    assert response.json["changes"] == {
        "password_policy.min_length": {"old": 8, "new": 12},
        "password_policy.require_symbols": {"old": False, "new": True},
        "mfa.required": {"old": False, "new": True},
    }
    assert before <= response.json["updated_at"] <= int(time.time())
    now = client.get(f"{V1}/authentication", headers=admin_headers).json
    assert now["password_policy"]["min_length"] == 12
    assert now["password_policy"]["require_uppercase"] is True  # untouched leaves keep their values
    assert now["mfa"]["methods"] == ["totp", "sms", "email"]
    assert stored(app, default_tenant(app)) == {
        "authentication.mfa.required": b"true",
        "authentication.password_policy.min_length": b"12",
        "authentication.password_policy.require_symbols": b"true",
    }


def test_a_put_that_changes_nothing_answers_no_changes(client, admin_headers):
    response = client.put(f"{V1}/branding", json={"primary_color": "#0066CC"}, headers=admin_headers)
    assert (response.status_code, response.json["changes"]) == (200, {})


def test_null_forgets_a_stored_value_or_a_whole_group(app, client, admin_headers):
    client.put(f"{V1}/authentication", json={"lockout": {"max_attempts": 9, "reset_after": 60}}, headers=admin_headers)
    one = client.put(f"{V1}/authentication", json={"lockout": {"max_attempts": None}}, headers=admin_headers)
    assert one.json["changes"] == {"lockout.max_attempts": {"old": 9, "new": 5}}
    group = client.put(f"{V1}/authentication", json={"lockout": None}, headers=admin_headers)
    assert group.json["changes"] == {"lockout.reset_after": {"old": 60, "new": 3600}}
    assert stored(app, default_tenant(app)) == {}


@pytest.mark.parametrize(
    ("body", "code", "named"),
    [
        ({"password_policy": {"min_length": "12"}}, "INVALID_FIELD", "password_policy.min_length"),
        ({"password_policy": {"min_length": True}}, "INVALID_FIELD", "password_policy.min_length"),
        ({"password_policy": {"min_length": 0}}, "INVALID_FIELD", "password_policy.min_length"),
        ({"password_policy": {"min_length": 12.5}}, "INVALID_FIELD", "password_policy.min_length"),
        ({"mfa": {"methods": ["carrier-pigeon"]}}, "INVALID_FIELD", "mfa.methods.0"),
        ({"mfa": {"methods": "totp"}}, "INVALID_FIELD", "mfa.methods"),
        ({"lockout": {"enabled": "yes"}}, "INVALID_FIELD", "lockout.enabled"),
        ({"password_policy": {"min_lenght": 12}}, "UNKNOWN_SETTING", "password_policy.min_lenght"),
        ({"passwords": {"min_length": 12}}, "UNKNOWN_SETTING", "passwords"),
        ({"password_policy": 12}, "INVALID_FIELD", "password_policy"),
        ({"password_policy": {"min_length": 12}, "mfa": {"nope": 1}}, "UNKNOWN_SETTING", "mfa.nope"),
    ],
)
def test_a_wrong_type_or_name_is_a_400_naming_the_field_and_changes_nothing(
    app, client, admin_headers, body, code, named
):
    response = client.put(f"{SEED}/authentication", json=body, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, code), response.json
    assert response.json["error"].startswith(named), response.json["error"]
    assert stored(app, default_tenant(app)) == {}
    assert audits(app, default_tenant(app)) == []


@pytest.mark.parametrize("body", [[1, 2], "text", 3, None])
def test_a_body_that_is_no_object_is_a_400(client, admin_headers, body):
    response = client.put(f"{V1}/authentication", json=body, headers=admin_headers)
    assert response.status_code == 400
    assert response.json["code"] in ("INVALID_BODY", "INVALID_FIELD", "FIELD_REQUIRED")


def test_values_are_checked_by_their_own_rules(client, admin_headers):
    cases = [
        ("branding", {"primary_color": "blue"}, "primary_color"),
        ("branding", {"logo_url": "javascript:alert(1)"}, "logo_url"),
        ("security", {"allowed_origins": ["https://ok.example", "not an origin"]}, "allowed_origins.1"),
        ("security", {"allowed_origins": ["https://ok.example:99999"]}, "allowed_origins.0"),
        ("email", {"from_address": "nobody"}, "from_address"),
        ("webhooks", {"timeout_seconds": 0}, "timeout_seconds"),
        ("compliance", {"export_formats": ["xml"]}, "export_formats.0"),
    ]
    for category, body, named in cases:
        response = client.put(f"{V1}/{category}", json=body, headers=admin_headers)
        assert response.status_code == 400, (category, response.json)
        assert response.json["error"].startswith(named), response.json["error"]


def test_reset_forgets_the_category_and_answers_the_seeds_shape(app, client, admin_headers):
    client.put(f"{V1}/authentication", json={"password_policy": {"min_length": 12}}, headers=admin_headers)
    client.put(f"{V1}/branding", json={"company_name": "Acme"}, headers=admin_headers)
    before = int(time.time())
    response = client.post(f"{SEED}/reset/authentication", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == {"reset": True, "category": "authentication", "reset_at": response.json["reset_at"]}
    assert before <= response.json["reset_at"] <= int(time.time())
    assert client.get(f"{V1}/authentication", headers=admin_headers).json["password_policy"]["min_length"] == 8
    assert stored(app, default_tenant(app)) == {"branding.company_name": b'"Acme"'}
    record = audits(app, default_tenant(app))[-1]
    assert record.details == {
        "category": "authentication",
        "changes": {"password_policy.min_length": {"old": 12, "new": 8}},
        "reset": True,
    }


# --- priority: stored > environment > default ---------------------------------------------------


def test_the_environment_sits_between_stored_values_and_defaults(make_app, monkeypatch):
    monkeypatch.setenv("FLUXBASE_SETTINGS_AUTHENTICATION_PASSWORD_POLICY_MIN_LENGTH", "10")
    monkeypatch.setenv("FLUXBASE_SETTINGS_SECURITY_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("FLUXBASE_SETTINGS_AUTHENTICATION_LOCKOUT_ENABLED", "false")
    client = make_app().test_client()
    from tests.conftest import AuthActions

    headers = AuthActions.bearer(AuthActions(client).setup_admin())
    values = client.get(V1, headers=headers).json
    assert values["authentication"]["password_policy"]["min_length"] == 10
    assert values["authentication"]["lockout"]["enabled"] is False
    assert values["security"]["allowed_origins"] == ["https://a.example", "https://b.example"]
    changed = client.put(f"{V1}/authentication", json={"password_policy": {"min_length": 12}}, headers=headers)
    assert changed.json["changes"] == {"password_policy.min_length": {"old": 10, "new": 12}}
    client.post(f"{V1}/reset/authentication", headers=headers)
    assert client.get(f"{V1}/authentication", headers=headers).json["password_policy"]["min_length"] == 10


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FLUXBASE_SETTINGS_AUTHENTICATION_PASSWORD_POLICY_MIN_LENGTH", "twelve"),
        ("FLUXBASE_SETTINGS_AUTHENTICATION_PASSWORD_POLICY_MIN_LENGTH", "0"),
        ("FLUXBASE_SETTINGS_BRANDING_PRIMARY_COLOR", "blue"),
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(tmp_path, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match="FLUXBASE_SETTINGS_"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_an_unknown_variable_is_logged_not_fatal(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("FLUXBASE_SETTINGS_AUTHENTICATION_PASSWORD_MINLENGTH", "10")
    create_app({"INSTANCE_PATH": str(tmp_path)})
    assert "FLUXBASE_SETTINGS_AUTHENTICATION_PASSWORD_MINLENGTH names no tenant setting" in caplog.text


# --- check-and-set ------------------------------------------------------------------------------


def test_a_stale_if_match_is_a_412_and_changes_nothing(app, client, admin_headers):
    tag = client.get(f"{V1}/authentication", headers=admin_headers).headers["ETag"]
    body = {"password_policy": {"min_length": 12}}
    first = client.put(f"{V1}/authentication", json=body, headers={**admin_headers, "If-Match": tag})
    assert first.status_code == 200
    assert first.headers["ETag"] != tag
    stale = client.put(
        f"{V1}/authentication", json={"password_policy": {"min_length": 20}}, headers={**admin_headers, "If-Match": tag}
    )
    assert (stale.status_code, stale.json["code"]) == (412, "PRECONDITION_FAILED")
    assert stale.headers["ETag"] == first.headers["ETag"]
    assert client.get(f"{V1}/authentication", headers=admin_headers).json["password_policy"]["min_length"] == 12
    fresh = client.put(f"{V1}/authentication", json=body, headers={**admin_headers, "If-Match": first.headers["ETag"]})
    assert fresh.status_code == 200
    anything = client.put(f"{V1}/authentication", json=body, headers={**admin_headers, "If-Match": "*"})
    assert anything.status_code == 200
    reset = client.post(f"{V1}/reset/authentication", headers={**admin_headers, "If-Match": tag})
    assert reset.status_code == 412
    assert len(audits(app, default_tenant(app))) == 3


def test_two_writers_with_the_same_tag_one_wins(app, client, admin_headers):
    tag = client.get(f"{V1}/authentication", headers=admin_headers).headers["ETag"]
    start, answers = threading.Barrier(2), []

    def write(length: int) -> None:
        with app.test_client() as own:
            start.wait()
            headers = {**admin_headers, "If-Match": tag}
            answers.append(
                own.put(f"{V1}/authentication", json={"password_policy": {"min_length": length}}, headers=headers)
            )

    writers = [threading.Thread(target=write, args=(length,)) for length in (12, 14)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert sorted(answer.status_code for answer in answers) == [200, 412]
    won = next(answer for answer in answers if answer.status_code == 200)
    length = client.get(f"{V1}/authentication", headers=admin_headers).json["password_policy"]["min_length"]
    assert won.json["changes"]["password_policy.min_length"] == {"old": 8, "new": length}


# --- audit --------------------------------------------------------------------------------------


def test_a_change_is_audited_with_its_diff(app, client, admin_headers):
    client.put(f"{V1}/branding", json={"company_name": "Acme", "primary_color": "#112233"}, headers=admin_headers)
    (record,) = audits(app, default_tenant(app))
    assert record.target == "settings/branding"
    assert record.details == {
        "category": "branding",
        "changes": {
            "company_name": {"old": "", "new": "Acme"},
            "primary_color": {"old": "#0066CC", "new": "#112233"},
        },
    }
    trail = client.get("/api/v1/admin/audit", query_string={"action": "settings.update"}, headers=admin_headers)
    assert [event["action"] for event in trail.json] == ["settings.update"]


def _refuse_audits(app) -> None:
    """A trigger that fails every audit insert, as a full disk or a broken audit table would."""
    with app.app_context(), db.engine.begin() as connection:
        if BACKEND == "postgresql":
            connection.execute(
                sa.text(
                    "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END; "
                    "$$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                sa.text(
                    "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
                )
            )
        else:
            refuse = "SELECT RAISE(ABORT, 'audit refused')"
            connection.execute(sa.text(f"CREATE TRIGGER no_audit BEFORE INSERT ON audit_events BEGIN {refuse}; END"))


def test_no_audit_record_no_change(app, client, admin_headers):
    _refuse_audits(app)
    paths = [
        ("put", f"{V1}/authentication", {"password_policy": {"min_length": 12}}),
        ("post", f"{V1}/reset/authentication", None),
        ("put", f"{V1}/feature-flags/passwordless_enabled", {"enabled": True}),
    ]
    for method, path, body in paths:
        response = getattr(client, method)(path, json=body, headers=admin_headers)
        assert (response.status_code, response.json["code"]) == (503, "AUDIT_UNAVAILABLE"), (path, response.json)
    assert stored(app, default_tenant(app)) == {}
    assert stored(app, default_tenant(app), "flags") == {}
    assert client.get(f"{V1}/authentication", headers=admin_headers).json["password_policy"]["min_length"] == 8


# --- feature flags ------------------------------------------------------------------------------


@pytest.mark.parametrize("base", [SEED, V1])
def test_the_seeds_four_flags_are_listed(client, admin_headers, base):
    response = client.get(f"{base}/feature-flags", headers=admin_headers)
    assert response.status_code == 200
    seeds = [flag for flag in response.json["flags"] if flag["key"] != "notes_sharing"]  # the test plugin's
    assert sorted(seeds, key=lambda flag: flag["key"]) == sorted(SEED_FLAGS, key=lambda flag: flag["key"])


def test_a_flag_is_turned_on_per_tenant_and_audited(app, client, admin_headers):
    acme = create_tenant(app, "acme")
    before = int(time.time())
    response = client.put(
        f"{SEED}/feature-flags/passwordless_enabled",
        json={"enabled": True},
        headers={**admin_headers, "X-FB-Tenant": "acme"},
    )
    assert response.status_code == 200
    assert response.json == {"key": "passwordless_enabled", "enabled": True, "updated_at": response.json["updated_at"]}
    assert before <= response.json["updated_at"] <= int(time.time())

    def enabled(tenant: str) -> bool:
        flags = client.get(f"{V1}/feature-flags", headers={**admin_headers, "X-FB-Tenant": tenant}).json["flags"]
        return next(flag["enabled"] for flag in flags if flag["key"] == "passwordless_enabled")

    assert enabled("acme") is True
    assert enabled("default") is False
    assert sorted(stored(app, acme, "flags")) == ["meta:revision", "passwordless_enabled"]
    (record,) = audits(app, acme)
    assert record.details == {
        "category": "feature_flags",
        "changes": {"passwordless_enabled": {"old": False, "new": True}},
    }
    off = client.put(
        f"{V1}/feature-flags/passwordless_enabled",
        json={"enabled": False},
        headers={**admin_headers, "X-FB-Tenant": "acme"},
    )
    assert off.json["enabled"] is False
    assert enabled("acme") is False


@pytest.mark.parametrize(
    "body", [{"enabled": "true"}, {"enabled": 1}, {"enabled": None}, {}, [True], {"enabled": "yes"}]
)
def test_a_flag_takes_only_a_boolean(app, client, admin_headers, body):
    response = client.put(f"{V1}/feature-flags/passwordless_enabled", json=body, headers=admin_headers)
    assert response.status_code == 400, response.json
    assert stored(app, default_tenant(app), "flags") == {}


def test_an_unknown_flag_is_404(client, admin_headers):
    response = client.put(f"{V1}/feature-flags/nope", json={"enabled": True}, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (404, "NOT_FOUND")
    assert "passwordless_enabled" in response.json["error"]


# --- who may -------------------------------------------------------------------------------------


def test_who_may_read_and_change(app, client, auth, admin_headers, service_key):
    create_tenant(app, "acme")
    acme_admin = tenant_admin(app, "acme-admin@example.com")
    with app.app_context():
        from flux.tenancy import TenantMembership, find_tenant

        db.session.add(TenantMembership(tenant_id=find_tenant("acme").id, account_id=acme_admin, role="tenant_admin"))
        db.session.commit()
    body = {"company_name": "Acme"}
    assert client.get(V1).status_code == 401
    assert client.put(f"{V1}/branding", json=body).status_code == 401
    user = auth.bearer(auth.signup())
    assert client.get(V1, headers=user).status_code == 403
    reader = service_key(["tenant_settings:read"])
    assert client.get(V1, headers=reader).status_code == 200
    assert client.put(f"{V1}/branding", json=body, headers=reader).status_code == 403
    writer = service_key(["tenant_settings:write"])
    assert client.put(f"{V1}/branding", json=body, headers=writer).status_code == 200
    tenant_headers = {**login(client, "acme-admin@example.com"), "X-FB-Tenant": "acme"}
    assert client.put(f"{V1}/branding", json={"company_name": "Acme"}, headers=tenant_headers).status_code == 200
    elsewhere = client.put(
        f"{V1}/branding", json={"company_name": "x"}, headers={**tenant_headers, "X-FB-Tenant": "default"}
    )
    assert elsewhere.status_code == 403
    assert client.get(f"{V1}/branding", headers=admin_headers).json["company_name"] == "Acme"  # the writer's, default


# --- the tenants plugin reads and writes the same values ----------------------------------------


def test_tenant_settings_of_seed_004_are_the_same_values(app, client, admin_headers):
    acme = create_tenant(app, "acme")
    in_acme = {**admin_headers, "X-FB-Tenant": "acme"}
    tenants = "/api/v1/admin/tenants/acme/settings"
    patched = client.patch(
        tenants,
        json={"settings": {"authentication.password_policy.min_length": 12, "plan": "gold"}},
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["settings"] == {"authentication.password_policy.min_length": 12, "plan": "gold"}
    assert client.get(f"{V1}/authentication", headers=in_acme).json["password_policy"]["min_length"] == 12
    client.put(f"{SEED}/branding", json={"company_name": "Acme"}, headers=in_acme)
    assert client.get(f"{tenants}/branding.company_name", headers=admin_headers).json == {
        "key": "branding.company_name",
        "value": "Acme",
    }
    default = client.get(f"{tenants}/branding.primary_color", headers=admin_headers)
    assert default.json == {"key": "branding.primary_color", "value": "#0066CC"}
    (record,) = audits(app, acme)[:1]
    assert record.details["changes"] == {"password_policy.min_length": {"old": 8, "new": 12}}
    assert (
        client.delete(f"{tenants}/authentication.password_policy.min_length", headers=admin_headers).status_code == 204
    )
    assert client.get(f"{V1}/authentication", headers=in_acme).json["password_policy"]["min_length"] == 8


@pytest.mark.parametrize(
    ("settings", "code", "named"),
    [
        (
            {"authentication.password_policy.min_length": "12"},
            "INVALID_FIELD",
            "authentication.password_policy.min_length",
        ),
        ({"authentication.password_policy.minimum": 12}, "UNKNOWN_SETTING", "authentication.password_policy.minimum"),
        ({"branding.name": "Acme"}, "UNKNOWN_SETTING", "branding.name"),
        ({"branding": {"company_name": 1}}, "INVALID_FIELD", "branding.company_name"),
    ],
)
def test_the_tenants_api_checks_category_values_too(app, client, admin_headers, settings, code, named):
    acme = create_tenant(app, "acme")
    response = client.patch("/api/v1/admin/tenants/acme/settings", json={"settings": settings}, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, code), response.json
    assert response.json["error"].startswith(named), response.json["error"]
    assert stored(app, acme) == {}
