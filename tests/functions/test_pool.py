"""The warm pool: workers are reused, recycled after N calls, evicted when idle or over the cap."""

from __future__ import annotations

import time

import pytest

from tests.functions.conftest import BASE, HELLO, call, deploy

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
    runtime = app.extensions["functions"]["runtime"]
    assert runtime.pool.warm_count() == 2
    assert pids(client, headers, "b", 1)[0] == b  # still warm
    assert pids(client, headers, "a", 1)[0] != a  # evicted as the least recently used


def test_a_new_version_retires_the_old_versions_workers(pooled):
    app = pooled()
    client, headers = signed_in(app)
    deploy(client, headers, "pid", code=PID)
    old = pids(client, headers, "pid", 1)[0]
    client.put(f"{BASE}/pid", json={"code": PID + " // v2"}, headers=headers)
    new = pids(client, headers, "pid", 1)[0]
    runtime = app.extensions["functions"]["runtime"]
    assert new != old and runtime.pool.warm_count() == 1


def test_close_stops_every_worker(pooled):
    app = pooled()
    client, headers = signed_in(app)
    deploy(client, headers, "hello", code=HELLO)
    call(client, "hello", headers)
    runtime = app.extensions["functions"]["runtime"]
    [worker] = [worker for group in runtime.pool._idle.values() for worker in group]
    runtime.close()
    assert worker.process.poll() is not None and runtime.pool.warm_count() == 0


LEFT_RUNNING = """let fired = 0;
async function handler(req) {
  const before = fired;
  if (req.params.leave) setTimeout(() => { fired += 1; console.log("left over"); }, 0);
  if (req.params.yield) await new Promise((resolve) => setTimeout(resolve, 20));
  return { before, after: fired };
}"""


def test_work_left_running_is_frozen_until_a_later_call_yields(client, admin_headers):
    deploy(client, admin_headers, "frozen", code=LEFT_RUNNING)
    assert call(client, "frozen", admin_headers, query_string={"leave": 1}).json == {"before": 0, "after": 0}
    time.sleep(0.2)  # a worker waiting between calls runs nothing
    assert call(client, "frozen", admin_headers).json == {"before": 0, "after": 0}
    assert call(client, "frozen", admin_headers, query_string={"yield": 1}).json == {"before": 0, "after": 1}
    logs = client.get(f"{BASE}/frozen/executions", headers=admin_headers).json
    assert [[line["message"] for line in execution["logs"]] for execution in logs] == [["left over"], [], []]
