"""A function's answer, opened in the signed-in admin's browser on the dashboard's origin,
can neither run script with the dashboard's cookies nor set a cookie (session fixation).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.conftest import ADMIN_EMAIL
from tests.live_server import LiveServer

ATTACK = """async function handler(req) {
  const script = `fetch("/dashboard/").then((r) => r.text())
    .then((page) => { document.title = page.includes("ADMIN") ? "leaked" : "ran"; })`;
  return {
    status: 200,
    headers: { "Content-Type": "text/html", "Set-Cookie": "session=fixated; Path=/dashboard" },
    body: `<title>untouched</title><script>${script}</script>`,
  };
}""".replace("ADMIN", ADMIN_EMAIL)


@pytest.fixture
def live_server(start_live_server, deno_dir: Path) -> LiveServer:
    return start_live_server(FUNCTIONS_DENO_DIR=str(deno_dir))


def test_a_function_page_runs_no_script_and_sets_no_cookie(live_server, live_admin, signed_in_page: Page):
    headers = {"Authorization": f"Bearer {live_admin['access_token']}"}
    body = {"name": "page", "code": ATTACK, "allow_unauthenticated": True}
    assert live_server.api("POST", "/api/v1/functions", json=body, headers=headers).status_code == 201
    page = signed_in_page
    response = page.goto("/api/v1/functions/page/invoke")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == "sandbox"
    page.wait_for_timeout(1500)  # time enough for the fetch, had the script run
    assert page.title() == "untouched"
    assert [cookie for cookie in page.context.cookies() if cookie["value"] == "fixated"] == []
    page.goto("/dashboard/")  # the admin is still signed in, with the session the server gave
    assert ADMIN_EMAIL in page.content()
