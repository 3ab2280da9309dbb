"""Invocations over HTTP against `fluxbase serve` (two gunicorn workers), many at once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from tests.functions.conftest import BASE, HELLO

TOKEN = "live-token-0123456789"
READS_A_SECRET = """async function handler(req) {
  const { n } = JSON.parse(req.body);
  console.log(`call ${n} uses ${secrets.getRequired("API_TOKEN")}`);
  return { n, token: secrets.get("API_TOKEN"), env: Deno.env.get("FLUXBASE_SECRET_API_TOKEN") };
}"""
CALLS = 60


def test_concurrent_calls_each_get_their_own_answer_secrets_and_record(live_server, live_admin):
    headers = {"Authorization": f"Bearer {live_admin['access_token']}"}
    added = live_server.api("POST", "/api/v1/secrets", json={"name": "API_TOKEN", "value": TOKEN}, headers=headers)
    assert added.status_code == 201
    for name, code, permissions in (("reader", READS_A_SECRET, {"env": True}), ("hello", HELLO, {})):
        body = {"name": name, "code": code, "permissions": permissions}
        assert live_server.api("POST", BASE, json=body, headers=headers).status_code == 201

    def call(n: int):
        name = "reader" if n % 2 else "hello"
        return live_server.api("POST", f"{BASE}/{name}/invoke", json={"n": n, "name": str(n)}, headers=headers)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, range(CALLS)))
    for n, answer in enumerate(answers):
        assert answer.status_code == 200, answer.text
        expected = {"n": n, "token": TOKEN, "env": TOKEN} if n % 2 else {"message": f"Hello {n}!"}
        assert answer.json() == expected

    reader = live_server.api("GET", f"{BASE}/reader/executions", params={"limit": 100}, headers=headers).json()
    hello = live_server.api("GET", f"{BASE}/hello/executions", params={"limit": 100}, headers=headers).json()
    assert [execution["status"] for execution in reader + hello] == ["success"] * CALLS
    messages = sorted(line["message"] for execution in reader for line in execution["logs"])
    assert messages == sorted(f"call {n} uses ***" for n in range(1, CALLS, 2))
    assert TOKEN not in json.dumps(reader)


ODD_HEADERS = """async function handler(req) {
  return { status: 200, body: "ok", headers: {
    "X-Kept": "caf\\u00e9 \\t ok", "X-Wide": "\\u65e5\\u672c", "X-Lone": "\\ud800",
    "X-Control": "a\\u000bb", "X-Del": "a\\u007f" } };
}"""


def test_header_values_gunicorn_cannot_send_are_dropped_not_a_500(live_server, live_admin):
    """Gunicorn refuses a header value outside RFC 9110's characters with a 500 page and a traceback."""
    headers = {"Authorization": f"Bearer {live_admin['access_token']}"}
    body = {"name": "odd", "code": ODD_HEADERS}
    assert live_server.api("POST", BASE, json=body, headers=headers).status_code == 201
    answer = live_server.api("POST", f"{BASE}/odd/invoke", headers=headers)
    assert (answer.status_code, answer.text) == (200, "ok")
    assert answer.headers["X-Kept"] == "caf\u00e9 \t ok"
    assert not {"X-Wide", "X-Lone", "X-Control", "X-Del"} & set(answer.headers)
