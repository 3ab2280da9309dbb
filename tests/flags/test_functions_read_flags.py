"""The flags plugin answers the functions plugin's `collect_invocation_flags`: a function reads real flags."""

from __future__ import annotations

from tests.functions.conftest import call, deploy

READS = """async function handler(req) {
  return { beta: flags.isEnabled("beta-ui"), plan: flags.get("plan-limit", 0),
           mfa: flags.isEnabled("advanced_mfa"), none: flags.get("no-such-flag", "fallback") };
}"""
BETA = {
    "key": "beta-ui",
    "rules": [{"conditions": [{"attribute": "email", "operator": "ends_with", "value": "@acme.com"}], "variant": "on"}],
    "default_variant": "off",
}
PLAN = {
    "key": "plan-limit",
    "type": "number",
    "variants": {"small": 10, "large": 1000},
    "default_variant": "small",
    "off_variant": "small",
}


def test_a_function_reads_the_callers_flags(client, auth, admin_headers):
    for body in (BETA, PLAN):
        assert client.post("/api/v1/admin/flags", json=body, headers=admin_headers).status_code == 201
    deploy(client, admin_headers, "reader", code=READS)
    acme = auth.bearer(auth.signup("ann@acme.com"))
    other = auth.bearer(auth.signup("bob@example.com"))
    assert call(client, "reader", acme).json == {"beta": True, "plan": 10, "mfa": True, "none": "fallback"}
    assert call(client, "reader", other).json == {"beta": False, "plan": 10, "mfa": True, "none": "fallback"}
    client.put("/api/v1/admin/settings/feature-flags/advanced_mfa", json={"enabled": False}, headers=admin_headers)
    client.patch("/api/v1/admin/flags/plan-limit", json={"default_variant": "large"}, headers=admin_headers)
    assert call(client, "reader", acme).json == {"beta": True, "plan": 1000, "mfa": False, "none": "fallback"}
