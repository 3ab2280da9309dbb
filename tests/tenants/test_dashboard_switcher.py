"""The dashboard header's tenant switcher through the Flask test client: who sees it, what each page then acts in.

The switch is kept in the session cookie; the core's `may_act_in` still judges every
request, so a choice the account may no longer use is refused, never honoured.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flux.db import db
from flux.tenancy import TenantMembership, tenant_scope
from plugins.secrets.models import FunctionSecret
from plugins.tenants.switcher import SESSION_KEY
from tests.conftest import DashboardClient, create_tenant
from tests.tenants.test_dashboard_tenants_page import add_account, signed_in_as, text

SECRETS = "/dashboard/secrets/"
SWITCH = "/dashboard/tenants/switch"
SWITCHER = 'id="tenant-switcher"'


def add_secret(app, tenant_id: str, name: str) -> None:
    with app.app_context(), tenant_scope(tenant_id):
        db.session.add(
            FunctionSecret(
                tenant_id=tenant_id,
                name=name,
                env_name=f"FLUXBASE_SECRET_{name.upper()}",
                scope="global",
                encrypted_value="x",
            )
        )
        db.session.commit()


def secret_tenants(app) -> dict[str, str]:
    """`{secret name: tenant id}` as stored, in every tenant."""
    with app.app_context():
        query = sa.select(FunctionSecret.name, FunctionSecret.tenant_id).execution_options(all_tenants=True)
        return dict(db.session.execute(query).all())


@pytest.fixture
def tenants(app) -> dict[str, str]:
    """Three tenants besides `default`: `acme` and `beta` administered by boss@acme.example, `other` not."""
    made = {slug: create_tenant(app, slug) for slug in ("acme", "beta", "other")}
    add_account(app, "boss@acme.example", {made["acme"]: "tenant_admin", made["beta"]: "tenant_admin"})
    for slug, tenant_id in made.items():
        add_secret(app, tenant_id, f"{slug}-secret")
    return made


@pytest.fixture
def boss(client, auth, tenants) -> DashboardClient:
    auth.setup_admin()
    return signed_in_as(client, "boss@acme.example")


def test_the_switcher_offers_the_accounts_own_tenants_only(client, boss, tenants):
    page = text(client.get(SECRETS))
    assert SWITCHER in page
    assert f'<option value="{tenants["acme"]}" selected>Acme (acme)</option>' in page
    assert f'<option value="{tenants["beta"]}">Beta (beta)</option>' in page
    assert tenants["other"] not in page and "(default)" not in page


def test_no_switcher_for_one_tenant(app, client, auth):
    auth.setup_admin()
    alone = create_tenant(app, "alone")
    add_account(app, "solo@example.com", {alone: "tenant_admin"})
    signed_in_as(client, "solo@example.com")
    assert SWITCHER not in text(client.get(SECRETS))


def test_an_instance_admin_gets_the_switcher_once_a_second_tenant_exists(app, client, dashboard):
    assert SWITCHER not in text(client.get("/dashboard/"))
    acme = create_tenant(app, "acme")
    page = text(client.get("/dashboard/"))
    assert SWITCHER in page and f'<option value="{acme}">Acme (acme)</option>' in page


def test_every_page_acts_in_the_tenant_switched_to(app, client, boss, tenants):
    assert "acme-secret" in text(client.get(SECRETS)) and "beta-secret" not in text(client.get(SECRETS))
    switched = boss.post(SWITCH, {"tenant": tenants["beta"]})
    assert (switched.status_code, switched.headers["Location"]) == (302, "/dashboard/")
    with client.session_transaction("/dashboard/") as session:
        assert session[SESSION_KEY] == tenants["beta"]
    page = text(client.get(SECRETS))
    assert "You are working in the tenant “Beta” (beta) now." in page
    assert "beta-secret" in page and "acme-secret" not in page
    assert f'<option value="{tenants["beta"]}" selected>' in page
    created = boss.post(SECRETS, {"name": "made-here", "value": "v", "scope": "global"}, SECRETS)
    assert created.status_code == 302
    assert secret_tenants(app)["made-here"] == tenants["beta"]
    assert "Beta" in text(client.get("/dashboard/service-keys/"))


@pytest.mark.parametrize(("target", "status"), [("other", 404), ("nowhere", 404), ("", 400), ("x" * 64, 400)])
def test_a_forged_switch_is_refused_and_changes_nothing(client, boss, tenants, target, status):
    response = boss.post(SWITCH, {"tenant": tenants.get(target, target)})
    assert response.status_code == status
    with client.session_transaction("/dashboard/") as session:
        assert SESSION_KEY not in session
    assert "acme-secret" in text(client.get(SECRETS))


def test_the_core_refuses_a_tenant_the_account_may_no_longer_use(app, client, boss, tenants):
    assert boss.post(SWITCH, {"tenant": tenants["beta"]}).status_code == 302
    with app.app_context():
        db.session.execute(sa.delete(TenantMembership).where(TenantMembership.tenant_id == tenants["beta"]))
        db.session.commit()
    refused = client.get(SECRETS)
    assert refused.status_code == 403
    assert "access denied to this tenant" in text(refused) and "beta-secret" not in text(refused)
    assert SWITCHER in text(refused) and '<option value="" selected>— refused here: pick one —' in text(refused)
    assert boss.post(SWITCH, {"tenant": "acme"}).status_code == 302
    assert "acme-secret" in text(client.get(SECRETS))
    with client.session_transaction("/dashboard/") as session:
        session[SESSION_KEY] = tenants["other"]
    assert client.get(SECRETS).status_code == 403


def test_a_deleted_tenant_picked_earlier_stops_working(app, client, dashboard, tenants):
    assert dashboard.post(SWITCH, {"tenant": "acme"}).status_code == 302
    assert "acme-secret" in text(client.get(SECRETS))
    assert dashboard.post(f"/dashboard/tenants/{tenants['acme']}/delete", {}).status_code == 302
    page = client.get(SECRETS)
    assert page.status_code == 200
    assert "The tenant you were working in was deleted" in text(page)
    assert "acme-secret" not in text(page) and "Default" in text(page)
    with client.session_transaction("/dashboard/") as session:
        assert SESSION_KEY not in session
    assert dashboard.post(SWITCH, {"tenant": "acme"}).status_code == 404
