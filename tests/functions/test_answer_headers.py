"""Function answers are served on the dashboard's origin, so they are sandboxed: no cookie
is set or cleared, `Content-Security-Policy: sandbox` (configurable) and `nosniff` always.
"""

from __future__ import annotations

import pytest

from tests.conftest import AuthActions
from tests.functions.conftest import call, deploy

PAGE = """async function handler(req) {
  return {
    status: 200,
    headers: {
      "Content-Type": "text/html",
      "Set-Cookie": "session=fixated; Path=/dashboard",
      "set-cookie": "remember_token=fixated; Path=/dashboard",
      "SET-COOKIE2": "legacy=fixated",
      "Clear-Site-Data": '"cookies"',
      "Content-Security-Policy": "img-src *",
      "X-Content-Type-Options": "sniff-anyway",
      "X-Kept": "yes",
    },
    body: "<script>document.title = document.cookie</script>",
  };
}"""
THROWS = 'async function handler(req) { throw new Error("no") }'


def test_an_answer_sets_no_cookie_and_is_sandboxed(client, admin_headers):
    deploy(client, admin_headers, "page", code=PAGE)
    response = call(client, "page", admin_headers, method="GET")
    assert response.status_code == 200
    names = {name.lower() for name, _ in response.headers.items()}
    assert not names & {"set-cookie", "set-cookie2", "clear-site-data"}, response.headers
    assert "fixated" not in str(response.headers)
    assert set(response.headers.getlist("Content-Security-Policy")) == {"img-src *", "sandbox"}
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert response.headers["X-Kept"] == "yes" and response.mimetype == "text/html"


def test_error_answers_are_sandboxed_too(client, admin_headers):
    deploy(client, admin_headers, "throws", code=THROWS)
    response = call(client, "throws", admin_headers)
    assert response.status_code == 500
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("setting", "expected"), [("", ["img-src *"]), ("sandbox allow-scripts", None)])
def test_the_policy_is_configurable(make_app, deno_dir, monkeypatch, setting, expected):
    """Empty turns it off, for deployments that serve functions on an origin of their own."""
    monkeypatch.setenv("FLUXBASE_FUNCTIONS_RESPONSE_CSP", setting)
    app = make_app(FUNCTIONS_DENO_DIR=str(deno_dir))
    client = app.test_client()
    actions = AuthActions(client)
    headers = actions.bearer(actions.setup_admin())
    try:
        deploy(client, headers, "page", code=PAGE)
        response = call(client, "page", headers, method="GET")
    finally:
        app.extensions["functions"]["runtime"].close()
    assert response.headers.getlist("Content-Security-Policy") == (expected or ["img-src *", setting])
    assert "fixated" not in str(response.headers)
