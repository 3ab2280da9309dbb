"""The warm pool: workers are reused, recycled after N calls, evicted when idle or over the cap."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.functions.conftest import BASE, HELLO, call, deploy, warm_workers, worker_pids

PID = "async function handler(req) { return Deno.pid }"


@pytest.fixture
def pooled(make_app, deno_dir):
    """An app whose pool settings a test picks."""
    built = []

    def make(**config):
        app = make_app(FUNCTIONS_DENO_DIR=str(deno_dir), **config)
        built.append(app)
        return app

    yield make
    for app in built:
        if app.extensions["functions"]["runtime"] is not None:
            app.extensions["functions"]["runtime"].close()


def signed_in(app) -> tuple:
    from tests.conftest import AuthActions

    client = app.test_client()
    return client, AuthActions.bearer(AuthActions(client).setup_admin())


def pids(client, headers, name: str, calls: int) -> list[int]:
    answers = [call(client, name, headers) for _ in range(calls)]
    assert all(answer.status_code == 200 for answer in answers)
    return [answer.json for answer in answers]


def test_a_worker_is_reused_then_recycled_after_n_calls(pooled):
    app = pooled(FUNCTIONS_WORKER_MAX_CALLS=3)
    client, headers = signed_in(app)
    deploy(client, headers, "pid", code=PID)
    seen = pids(client, headers, "pid", 7)
    assert seen[0] == seen[1] == seen[2] and seen[3] == seen[4] == seen[5]
    assert len({seen[0], seen[3], seen[6]}) == 3


def test_idle_workers_are_evicted(pooled):
    app = pooled(FUNCTIONS_WORKER_IDLE_SECONDS=1)
    client, headers = signed_in(app)
    deploy(client, headers, "pid", code=PID)
    first = pids(client, headers, "pid", 1)[0]
    time.sleep(1.2)
    second = pids(client, headers, "pid", 1)[0]
    assert first != second


def test_the_pool_keeps_at_most_the_configured_workers_least_recently_used_out(pooled):
    app = pooled(FUNCTIONS_MAX_WARM_WORKERS=2)
    client, headers = signed_in(app)
    for name in ("a", "b", "c"):
        deploy(client, headers, name, code=PID + f" // {name}")
    a = pids(client, headers, "a", 1)[0]
    b = pids(client, headers, "b", 1)[0]
    pids(client, headers, "c", 1)
    assert warm_workers(app) == 2
    assert pids(client, headers, "b", 1)[0] == b  # still warm
    assert pids(client, headers, "a", 1)[0] != a  # evicted as the least recently used


def test_a_new_version_retires_the_old_versions_workers(pooled):
    app = pooled()
    client, headers = signed_in(app)
    deploy(client, headers, "pid", code=PID)
    old = pids(client, headers, "pid", 1)[0]
    client.put(f"{BASE}/pid", json={"code": PID + " // v2"}, headers=headers)
    new = pids(client, headers, "pid", 1)[0]
    assert new != old and worker_pids(app) == [new]


def test_close_stops_every_worker(pooled):
    app = pooled()
    client, headers = signed_in(app)
    deploy(client, headers, "hello", code=HELLO)
    call(client, "hello", headers)
    [pid] = worker_pids(app)
    app.extensions["functions"]["runtime"].close()  # its last connection: the supervisor stops, and its workers
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists()


LEFT_RUNNING = """let fired = 0;
let seen = "nothing";
async function handler(req) {
  const before = fired;
  if (req.params.leave) {
    setTimeout(() => { fired += 1; console.log("timer"); }, 0);
    (async () => {  // still going a thousand turns later, when its call has ended
      for (let i = 0; i < 1000; i++) await null;
      fired += 10;
      console.log("left over");
      seen = typeof secrets.get("k");
    })();
  }
  if (req.params.yield) await new Promise((resolve) => setTimeout(resolve, 200));
  return { before, after: fired, seen };
}"""


def test_work_left_running_after_its_call_reaches_no_other_call(client, admin_headers):
    """Its timers are cleared; what else goes on can neither log into nor read for another call."""
    client.post("/api/v1/secrets", json={"name": "k", "value": "function-secret-1"}, headers=admin_headers)
    deploy(client, admin_headers, "leaver", code=LEFT_RUNNING)
    first = call(client, "leaver", admin_headers, query_string={"leave": 1}).json
    assert first == {"before": 0, "after": 0, "seen": "nothing"}
    second = call(client, "leaver", admin_headers, query_string={"yield": 1}).json
    assert second == {"before": 10, "after": 10, "seen": "undefined"}
    logs = client.get(f"{BASE}/leaver/executions", headers=admin_headers).json
    assert [execution["logs"] for execution in logs] == [[], []]


def test_a_timer_outside_a_call_is_refused(client, admin_headers):
    deploy(client, admin_headers, "eager", code="setTimeout(() => {}, 10);\nasync function handler(req) { return 1 }")
    response = call(client, "eager", admin_headers)
    assert response.status_code == 500 and "Function failed to load" in response.json["error"]
    execution = client.get(f"{BASE}/eager/executions", headers=admin_headers).json[0]
    assert "Timers belong to a call" in execution["error"]
