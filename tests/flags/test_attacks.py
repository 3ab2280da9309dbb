"""An attacker's, an operator's and a real client's pass over tenant settings, feature flags, OFREP and CORS.

Each test is one attempt: a passing test shows the defence holds; a hole found is a
failing test with its fix, or `xfail(strict=True)` with the reason it stays open.
"""

from __future__ import annotations

import pytest

from tests.flags.test_settings_api import V1

BRANDING = f"{V1}/branding"


# --- check-and-set ------------------------------------------------------------------------------


@pytest.mark.parametrize("if_match", ['W/"{tag}"', 'W/"stale"', ""])
def test_an_if_match_that_names_no_strong_tag_changes_nothing(client, admin_headers, if_match):
    """If-Match compares strongly (RFC 9110): a weak tag, even the current one's, or an empty list never matches."""
    tag = client.get(BRANDING, headers=admin_headers).headers["ETag"].strip('"')
    changed = client.put(
        BRANDING, json={"company_name": "Acme"}, headers={**admin_headers, "If-Match": if_match.format(tag=tag)}
    )
    assert (changed.status_code, changed.json["code"]) == (412, "PRECONDITION_FAILED")
    assert client.get(BRANDING, headers=admin_headers).json["company_name"] == ""
    reset = client.post(f"{V1}/reset/branding", headers={**admin_headers, "If-Match": 'W/"stale"'})
    assert reset.status_code == 412


@pytest.mark.parametrize("if_match", ['"{tag}"', '"stale", "{tag}"', "*"])
def test_an_if_match_naming_the_current_tag_or_star_changes(client, admin_headers, if_match):
    tag = client.get(BRANDING, headers=admin_headers).headers["ETag"].strip('"')
    changed = client.put(
        BRANDING, json={"company_name": "Acme"}, headers={**admin_headers, "If-Match": if_match.format(tag=tag)}
    )
    assert changed.status_code == 200, changed.json
