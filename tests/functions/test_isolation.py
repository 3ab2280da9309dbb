"""Tenants never see, run or feed each other's functions, executions or secrets."""

from __future__ import annotations

from tests.conftest import create_tenant
from tests.functions.conftest import BASE, call, deploy

REPORT = """async function handler(req) {
  return { status: 200, headers: { "Content-Type": "application/json" },
           body: JSON.stringify({ tenant: "TENANT", secret: secrets.get("API_KEY") ?? null,
                                  env: Deno.env.get("FLUXBASE_SECRET_API_KEY") ?? null }) };
}"""


def test_functions_executions_and_secrets_stay_in_their_tenant(app, client, admin_headers, service_key):
    for slug in ("acme", "globex"):
        create_tenant(app, slug)
        as_admin = {**admin_headers, "X-FB-Tenant": slug}
        deploy(client, as_admin, "report", code=REPORT.replace("TENANT", slug), is_public=False)
        secret = {"name": "API_KEY", "value": f"{slug}-api-key"}
        assert client.post("/api/v1/secrets", json=secret, headers=as_admin).status_code == 201
    acme = service_key(["functions:*"], **{"X-FB-Tenant": "acme"})
    globex = service_key(["functions:*"], **{"X-FB-Tenant": "globex"})
    # Each tenant's key runs its own tenant's function, with its own tenant's secrets.
    assert call(client, "report", acme).json == {"tenant": "acme", "secret": "acme-api-key", "env": "acme-api-key"}
    assert call(client, "report", globex).json == {
        "tenant": "globex",
        "secret": "globex-api-key",
        "env": "globex-api-key",
    }
    # The default tenant has no such function; a key cannot name another tenant.
    assert call(client, "report", admin_headers).status_code == 404
    refused = call(client, "report", {**acme, "X-FB-Tenant": "globex"})
    assert (refused.status_code, refused.json["error"]) == (403, "access denied to this tenant")
    # Executions are listed per tenant only.
    acme_runs = client.get(f"{BASE}/report/executions", headers=acme).json
    assert len(acme_runs) == 1 and acme_runs[0]["status"] == "success"
    globex_id = client.get(f"{BASE}/report", headers=globex).json["id"]
    assert {run["function_id"] for run in acme_runs} != {globex_id}
    # Listing and changing stay inside the tenant.
    assert [f["id"] for f in client.get(BASE, headers=acme).json] != [globex_id]
    assert client.delete(f"{BASE}/report", headers=acme).status_code == 204
    assert call(client, "report", globex).status_code == 200
    assert call(client, "report", acme).status_code == 404
