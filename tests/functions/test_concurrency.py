"""Calls that wait hold nothing others need: against `fluxbase serve` (two gunicorn workers, one supervisor).

A call here waits until another call releases it, so every assertion is about what runs
at the same time, never about how long anything took.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from tests.functions.conftest import BASE
from tests.functions.test_orphans import deno_workers

# Each call waits until `?release=1`; `?count=1` answers how many are waiting now.
GATED = """let waiting = 0;
let open = false;
async function handler(req) {
  if (req.params.count) return { waiting };
  if (req.params.release) {
    open = true;
    return { waiting };
  }
  waiting += 1;
  for (let i = 0; i < 2000 && !open; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return { pid: Deno.pid, released: open };
}"""
# Reads the caller's user secret, waits until both callers are in, reads it again.
TWO_USERS = """let arrived = 0;
async function handler(req) {
  const before = secrets.getUser("k");
  arrived += 1;
  for (let i = 0; i < 2000 && arrived < 2; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const after = secrets.getUser("k");
  console.log(`read ${after}`);
  return { before, after, both: arrived >= 2 };
}"""
CALLS = 12  # and the calls that count them: all within one process's 16


def bearer(session: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


def deploy_live(server, headers: dict, name: str, code: str, **fields) -> None:
    response = server.api("POST", BASE, json={"name": name, "code": code, **fields}, headers=headers)
    assert response.status_code == 201, response.text


def invoke_live(server, headers: dict, name: str, **params):
    return server.api("POST", f"{BASE}/{name}/invoke", params=params, headers=headers, timeout=60)


def waiting_calls(server, headers: dict, name: str, expected: int) -> int:
    """How many calls of `name` wait at once, asked until `expected` do (or 20 s have passed)."""
    for _ in range(200):
        waiting = invoke_live(server, headers, name, count=1).json()["waiting"]
        if waiting >= expected:
            return waiting
        time.sleep(0.1)
    return waiting


def test_waiting_calls_share_one_process_and_hold_nothing_the_api_needs(live_server, live_admin):
    headers = bearer(live_admin)
    deploy_live(live_server, headers, "gated", GATED)
    with ThreadPoolExecutor(CALLS) as pool:
        calls = [pool.submit(invoke_live, live_server, headers, "gated") for _ in range(CALLS)]
        assert waiting_calls(live_server, headers, "gated", CALLS) == CALLS
        # Every call is waiting, over both gunicorn workers, and the API answers.
        assert live_server.api("GET", "/health").status_code == 200
        assert live_server.api("GET", BASE, headers=headers).status_code == 200
        assert invoke_live(live_server, headers, "gated", release=1).json() == {"waiting": CALLS}
        answers = [call.result() for call in calls]
    assert [answer.status_code for answer in answers] == [200] * CALLS
    assert all(answer.json()["released"] for answer in answers)
    assert len({answer.json()["pid"] for answer in answers}) == 1
    assert deno_workers(live_server.instance) == [answers[0].json()["pid"]]  # one process on the node for both workers


# `?hang=1` never ends; the others end once it is past its timeout (3 s) by the process's own clock.
OUTLIVES_A_TIMEOUT = """let hungSince = null;
let waiting = 0;
async function handler(req) {
  if (req.params.count) return { waiting, hung: hungSince !== null };
  const sleep = () => new Promise((resolve) => setTimeout(resolve, 10));
  if (req.params.hang) {
    hungSince = Date.now();
    while (true) await sleep();
  }
  waiting += 1;
  while (Date.now() < hungSince + 3500) await sleep();
  return { pid: Deno.pid, after: Date.now() - hungSince };
}"""


def test_a_timeout_in_one_call_leaves_the_others_in_its_process_answered(live_server, live_admin):
    headers = bearer(live_admin)
    deploy_live(live_server, headers, "outlives", OUTLIVES_A_TIMEOUT, timeout=3)
    with ThreadPoolExecutor(4) as pool:
        hung = pool.submit(invoke_live, live_server, headers, "outlives", hang=1)
        for _ in range(100):
            if invoke_live(live_server, headers, "outlives", count=1).json()["hung"]:
                break
            time.sleep(0.05)
        time.sleep(1)  # the others start a second later, so their own 3 s end after the hung call's
        calls = [pool.submit(invoke_live, live_server, headers, "outlives") for _ in range(3)]
        assert (hung.result().status_code, hung.result().json()) == (504, {"error": "Function timed out after 3 s"})
        answers = [call.result() for call in calls]
    assert [answer.status_code for answer in answers] == [200] * 3
    assert all(answer.json()["after"] >= 3500 for answer in answers)  # answered after the hung call's 504
    assert len({answer.json()["pid"] for answer in answers}) == 1
    statuses = [
        execution["status"]
        for execution in live_server.api("GET", f"{BASE}/outlives/executions", headers=headers).json()
    ]
    assert statuses.count("timeout") == 1 and set(statuses) == {"success", "timeout"}
    # The timed-out call's process takes no more calls and goes once its others end; a new one answers.
    assert invoke_live(live_server, headers, "outlives", count=1).json() == {"waiting": 0, "hung": False}


def test_two_users_calls_at_once_each_read_only_their_own_secrets(live_server, live_admin):
    deploy_live(live_server, bearer(live_admin), "two-users", TWO_USERS)
    users = {}
    for name in ("ada", "bob"):
        session = live_server.signup(f"{name}@example.com")
        stored = live_server.api(
            "POST",
            "/api/v1/settings/secret",
            json={"key": "k", "value": f"{name}-secret-value"},
            headers=bearer(session),
        )
        assert stored.status_code == 201, stored.text
        users[name] = bearer(session)
    with ThreadPoolExecutor(2) as pool:
        answers = {name: pool.submit(invoke_live, live_server, users[name], "two-users") for name in users}
        answers = {name: answer.result() for name, answer in answers.items()}
    for name, answer in answers.items():
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"before": f"{name}-secret-value", "after": f"{name}-secret-value", "both": True}
    executions = live_server.api("GET", f"{BASE}/two-users/executions", headers=bearer(live_admin)).json()
    assert sorted(line["message"] for execution in executions for line in execution["logs"]) == ["read ***"] * 2
    assert "secret-value" not in json.dumps(executions)
