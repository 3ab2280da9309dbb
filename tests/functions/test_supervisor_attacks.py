"""Attacks on the runtime supervisor: what a function, a caller or the host can do to it, and what it must withstand."""

from __future__ import annotations

import shutil
import time

from tests.functions.conftest import BASE, HELLO, call, deploy, run_on_a_loop_of_its_own

PID = "async function handler(req) { return Deno.pid }"


def supervisor_folder(app):
    from plugins.functions.invoke import runtime

    return runtime(app)


def test_a_worker_that_cannot_be_created_fails_the_call_at_once(app, client, admin_headers):
    """No FIFO can be made (a full disk, say): the call fails at once, not after its timeout + 30 s."""
    deploy(client, admin_headers, "hello", timeout_seconds=1)
    deploy(client, admin_headers, "fresh", timeout_seconds=1, isolation="per-invocation")
    assert call(client, "hello", admin_headers).status_code == 200  # the supervisor runs
    pipes = supervisor_folder(app).pipes
    shutil.rmtree(pipes)
    pipes.write_text("not a folder")  # mkdtemp/mkfifo fail as they would on a full disk
    for name in ("fresh", "hello"):
        update = client.put(f"{BASE}/{name}", json={"code": HELLO + " // v2"}, headers=admin_headers)
        assert update.status_code == 200  # a new version: a new process
        started = time.monotonic()
        response = call(client, name, admin_headers)
        assert response.status_code == 500, (name, response.status_code, response.json)
        assert "worker" in response.json["error"]
        assert time.monotonic() - started < 10


def test_a_supervisor_still_exiting_when_the_next_call_comes_is_replaced(app, client, admin_headers):
    """The old supervisor has removed its socket but still holds its lock (it is exiting) as a call comes.

    The supervisor that call starts finds the lock taken and exits; once the old one is
    gone, another must be started: the call is served, not failed with a 503 ten seconds on.
    """
    import fcntl
    import os
    import threading

    deploy(client, admin_headers, "hello")
    settings = supervisor_folder(app).client.settings
    lock = os.open(settings.lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # the exiting supervisor's
    threading.Timer(1.0, os.close, (lock,)).start()  # ... which is gone a second later
    response = call(client, "hello", admin_headers)
    assert response.status_code == 200, response.json
    assert response.json == {"message": "Hello World!"}


def test_a_process_still_starting_when_its_version_is_replaced_is_stopped(app):
    """Its only caller gave up while it started; a new version then retires it: it must not run on, untracked."""
    import asyncio

    from plugins.functions.runtime.base import Permissions
    from plugins.functions.runtime.process import Target
    from plugins.functions.runtime.supervisor import Pool, PoolLimits

    deno = supervisor_folder(app)
    module = deno.module_for(PID)

    async def asker(kind, fields):
        return {"module": str(module)}

    async def scenario():
        pool = Pool(deno.client.settings.sandbox, PoolLimits(8, 4, 16, 60, 1000))
        loop = asyncio.get_running_loop()
        old, new = (Target("f", version, 5, 128, Permissions()) for version in (1, 2))
        process = await pool._acquire(old, asker, loop.time() + 5)
        while process.process is None:  # Deno is starting
            await asyncio.sleep(0.001)
        await pool._release(process)  # its caller timed out while it started
        assert not process.ready.done()
        pool._tidy(new)  # a call of version 2 comes
        try:
            await process.ready
        except Exception:  # noqa: BLE001 - stopped while starting: what is wanted
            pass
        tracked = [each for group in pool._groups.values() for each in group]
        alive = process.process is not None and process.process.poll() is None
        pool.close()
        process.kill()
        return tracked, alive

    tracked, alive = run_on_a_loop_of_its_own(scenario)
    assert tracked == []
    assert not alive


LENGTH = "async function handler(req) { return { length: req.body.length, last: req.body.slice(-1) } }"


def test_a_request_body_the_server_accepts_reaches_the_function_whatever_its_characters(client, admin_headers):
    """6 MB of UTF-8 text (3 M accented letters, within the server's 10 MB): JSON-escaped it is 18 MB."""
    deploy(client, admin_headers, "length", code=LENGTH)
    response = call(client, "length", admin_headers, data=("é" * 3_000_000).encode())
    assert response.status_code == 200, response.json
    assert response.json == {"length": 3_000_000, "last": "é"}
    assert call(client, "length", admin_headers, data=b"x").json == {"length": 1, "last": "x"}


CONTROL = """async function handler(req) {
  return { status: 200, headers: {}, body: "\\u0001".repeat(Number(req.params.n)) };
}"""


def test_a_body_within_the_limit_is_answered_whatever_its_characters(client, admin_headers):
    """3 MB of control characters, half the 6 MB limit: JSON-escaped, six bytes each, 18 MB in its frame."""
    deploy(client, admin_headers, "control", code=CONTROL)
    response = call(client, "control", admin_headers, query_string={"n": 3_000_000})
    assert response.status_code == 200, response.data[:200]
    assert response.data == b"\x01" * 3_000_000
    over = call(client, "control", admin_headers, query_string={"n": 6 * 1024 * 1024 + 1})
    assert over.status_code == 502
    assert "the limit is 6291456 bytes" in over.json["error"]


def test_a_server_running_other_runtime_code_starts_a_supervisor_of_its_own(make_app, deno_dir, monkeypatch):
    """A rolling upgrade: servers of the new release never reach the old release's supervisor (or its workers)."""
    from plugins.functions.invoke import runtime
    from plugins.functions.runtime import deno

    old = make_app(FUNCTIONS_DENO_DIR=str(deno_dir))
    old_socket = runtime(old).client.settings.socket
    monkeypatch.setattr(deno, "runtime_code", lambda: "the next release")
    new = make_app(FUNCTIONS_DENO_DIR=str(deno_dir), INSTANCE_PATH=old.instance_path)
    assert runtime(new).work_dir == runtime(old).work_dir
    assert runtime(new).client.settings.socket != old_socket


# `?late=1` outlives its 2 s timeout by half a second; the other call ends just after that.
LATE = """let lateReturned = false;
async function handler(req) {
  if (req.params.late) {
    await new Promise((resolve) => setTimeout(resolve, 2500));
    lateReturned = true;
    return "late";
  }
  for (let i = 0; i < 400 && !lateReturned; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return { sawLate: lateReturned };
}"""


def test_the_late_result_of_a_timed_out_call_spares_the_calls_beside_it(app, client, admin_headers):
    """A call answered 504 at its timeout still ends in its process: its result must not fail the others there."""
    from concurrent.futures import ThreadPoolExecutor

    deploy(client, admin_headers, "late", code=LATE, timeout_seconds=2)
    with ThreadPoolExecutor(2) as threads:
        late = threads.submit(call, app.test_client(), "late", admin_headers, query_string={"late": 1})
        time.sleep(1.0)  # the other call starts in the same process, before the late one times out
        other = call(app.test_client(), "late", admin_headers)
        assert late.result().status_code == 504
    assert other.status_code == 200, other.json
    assert other.json == {"sawLate": True}


# `?a=1` leaves work behind that `?b=1` sets off: it prints what call a read, after call a ended.
LEFT_OVER = """let release;
async function handler(req) {
  if (req.params.a) {
    const mine = secrets.get("k") ?? "none";
    new Promise((resolve) => { release = resolve; }).then(() => {
      console.dir("dir " + mine);
      console.table(["table " + mine]);
      console.assert(false, "assert " + mine);
      console.log("log " + mine);
      alert("alert " + mine);
    });
    return "a";
  }
  release();
  await new Promise((resolve) => setTimeout(resolve, 50));
  console.dir("b's own");
  return "b";
}"""


def test_work_left_over_from_a_call_prints_into_no_other_calls_log(client, admin_headers):
    secret = client.post("/api/v1/secrets", json={"name": "k", "value": "value-of-a"}, headers=admin_headers)
    assert secret.status_code == 201
    deploy(client, admin_headers, "left", code=LEFT_OVER)
    assert call(client, "left", admin_headers, query_string={"a": 1}).json == "a"
    assert call(client, "left", admin_headers, query_string={"b": 1}).json == "b"
    executions = client.get(f"{BASE}/left/executions", headers=admin_headers).json
    assert [[line["message"] for line in execution["logs"]] for execution in executions] == [["b's own"], []]


# Prints short lines on the real stdout (console.dir) for 3 s, as fast as it can.
FLOOD = """async function handler(req) {
  const started = Date.now();
  let lines = 0;
  while (Date.now() - started < 3000) { console.dir(1); lines++; }
  return { lines };
}"""


def test_a_flood_of_stray_output_stalls_neither_the_supervisor_nor_its_call(app, client, admin_headers):
    """Its stray lines are kept up to 64 KiB, counted as they come: the node's other functions answer meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    deploy(client, admin_headers, "flood", code=FLOOD, timeout_seconds=8)
    deploy(client, admin_headers, "hello")
    assert call(client, "hello", admin_headers).status_code == 200
    with ThreadPoolExecutor(1) as threads:
        flood = threads.submit(call, app.test_client(), "flood", admin_headers)
        time.sleep(1)  # flooding now
        hello = call(client, "hello", admin_headers)
        assert not flood.done()  # answered while the flood goes on
        assert hello.status_code == 200
        flooded = flood.result()
    assert flooded.status_code == 200, flooded.json
    assert flooded.json["lines"] > 1000
    [execution] = client.get(f"{BASE}/flood/executions", headers=admin_headers).json
    messages = [line["message"] for line in execution["logs"]]
    assert set(messages) == {"1"} and sum(len(message) + 1 for message in messages) <= 64 * 1024


EMPTY_LINES = """async function handler(req) {
  for (let i = 0; i < 400000; i++) console.log("");
  return "done";
}"""


def test_empty_log_lines_are_capped_too(client, admin_headers):
    """An empty line is no byte of the 64 KiB: 400,000 of them were all stored (24 MB in one execution's row)."""
    deploy(client, admin_headers, "empty", code=EMPTY_LINES)
    assert call(client, "empty", admin_headers).json == "done"
    [execution] = client.get(f"{BASE}/empty/executions", headers=admin_headers).json
    assert execution["logs_truncated"] is True
    assert len(execution["logs"]) == 4096


# `?spin=1` never yields; the other calls wait for a timer that can then never fire.
SPINS = """async function handler(req) {
  if (req.params.spin) while (true) {}
  if (req.params.wait) await new Promise((resolve) => setTimeout(resolve, 200));
  return Deno.pid;
}"""


def test_a_spinning_call_takes_its_process_and_the_calls_beside_it_down_but_not_the_next(app, client, admin_headers):
    from concurrent.futures import ThreadPoolExecutor

    from tests.functions.test_orphans import alive

    deploy(client, admin_headers, "spins", code=SPINS, timeout_seconds=2)
    pid = call(client, "spins", admin_headers).json
    with ThreadPoolExecutor(2) as threads:
        spin = threads.submit(call, app.test_client(), "spins", admin_headers, query_string={"spin": 1})
        time.sleep(0.5)  # spinning
        beside = threads.submit(call, app.test_client(), "spins", admin_headers, query_string={"wait": 1})
        assert [spin.result().status_code, beside.result().status_code] == [504, 504]
    assert "timed out after 2 s" in beside.result().json["error"]
    assert not alive(pid)
    again = call(client, "spins", admin_headers, query_string={"wait": 1})
    assert again.status_code == 200 and again.json != pid
    executions = client.get(f"{BASE}/spins/executions", headers=admin_headers).json
    assert [execution["status"] for execution in executions] == ["success", "timeout", "timeout", "success"]


# Reads a secret, then waits until `?release=1` (or 5 s): a call waiting on a slow upstream.
READ_THEN_WAIT = """let open = false;
let reading = 0;
async function handler(req) {
  if (req.params.release) { open = true; return reading; }
  if (req.params.count) return reading;
  const value = secrets.get("k");
  reading += 1;
  for (let i = 0; i < 500 && !open; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return value;
}"""


def waiting(client, name: str, headers: dict, expected: int) -> None:
    """Until `expected` calls of a READ_THEN_WAIT function wait at once (or 3 s have passed)."""
    for _ in range(300):
        if call(client, name, headers, query_string={"count": 1}).json == expected:
            return
        time.sleep(0.01)


def test_a_call_that_read_a_secret_holds_no_database_connection_while_it_runs(app, client, admin_headers):
    """The database pool (5 + 10 on PostgreSQL) would be emptied by 15 such calls, and every request would wait."""
    from concurrent.futures import ThreadPoolExecutor

    from flux.api import db

    secret = client.post("/api/v1/secrets", json={"name": "k", "value": "the-value"}, headers=admin_headers)
    assert secret.status_code == 201
    deploy(client, admin_headers, "reads", code=READ_THEN_WAIT, timeout_seconds=10)
    with ThreadPoolExecutor(4) as threads:
        calls = [threads.submit(call, app.test_client(), "reads", admin_headers) for _ in range(4)]
        waiting(client, "reads", admin_headers, 4)
        with app.app_context():
            held = db.engine.pool.checkedout()
        assert call(client, "reads", admin_headers, query_string={"release": 1}).json == 4
        assert [each.result().json for each in calls] == ["the-value"] * 4
    assert held == 0


def test_threads_that_make_the_first_calls_at_once_share_one_supervisor_client(app, monkeypatch):
    """Each client another thread built meanwhile kept its connections open, unclosed, to the supervisor."""
    import threading

    from plugins.functions.runtime import deno

    tools = deno.sandbox_tools()

    def slow_tools():  # the lookup takes a moment, as on a loaded host
        time.sleep(0.05)
        return tools

    monkeypatch.setattr(deno, "sandbox_tools", slow_tools)
    fresh = deno.DenoRuntime(app)
    barrier = threading.Barrier(8)
    clients = []

    def first_call():
        barrier.wait()
        clients.append(fresh.client)

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(client) for client in clients}) == 1


NUL_NAME = """async function handler(req) {
  const name = "a" + String.fromCharCode(0) + "b";
  return [String(secrets.get(name)), String(Deno.env.get(name))];
}"""


def test_a_name_holding_a_nul_is_unset_not_a_500(client, admin_headers):
    """PostgreSQL refuses NUL in text: the read failed, and with it the call, unrecorded (a caller's
    `secrets.get(req.params.name)` was enough)."""
    from plugins.functions.runtime.base import Invocation
    from plugins.functions.runtime.client import SupervisorClient

    def store(name):
        raise AssertionError(f"asked the store for {name!r}")

    invocation = Invocation({}, secret=store, env=store)
    for kind in ("secret", "env"):
        assert SupervisorClient._answer(kind, {"name": "a\0b"}, invocation, lambda: None) == {}
    deploy(client, admin_headers, "nul", code=NUL_NAME, allow_env=True)
    response = call(client, "nul", admin_headers)
    assert (response.status_code, response.json) == (200, ["undefined", "undefined"])
    [execution] = client.get(f"{BASE}/nul/executions", headers=admin_headers).json
    assert execution["status"] == "success"


def test_a_killed_worker_fails_the_calls_in_it_and_the_next_call_gets_another(app, client, admin_headers):
    import os
    import signal
    from concurrent.futures import ThreadPoolExecutor

    deploy(client, admin_headers, "gated", code=READ_THEN_WAIT.replace('secrets.get("k")', "Deno.pid"))
    with ThreadPoolExecutor(3) as threads:
        calls = [threads.submit(call, app.test_client(), "gated", admin_headers) for _ in range(3)]
        waiting(client, "gated", admin_headers, 3)
        [process] = supervisor_folder(app).status()["processes"]
        assert process["inflight"] == 3
        os.kill(process["pid"], signal.SIGKILL)
        answers = [each.result() for each in calls]
    assert [answer.status_code for answer in answers] == [500] * 3
    assert {answer.json["error"] for answer in answers} <= {
        "Function used more CPU time than its timeout allows and was stopped",  # SIGKILL: also the hard CPU limit
        "Function worker exited unexpectedly (exit status -9)",
    }
    again = call(client, "gated", admin_headers, query_string={"count": 1})
    assert (again.status_code, again.json) == (200, 0)
    assert supervisor_folder(app).status()["processes"][0]["pid"] != process["pid"]


def test_stopping_a_worker_whose_fifos_already_closed_unwatches_them(app):
    """The worker died; asyncio's writer saw its FIFO close before the supervisor read EOF on `output`."""
    import asyncio
    import os
    import signal

    from tests.functions.conftest import started_process

    async def scenario():
        process = await started_process(app, PID)
        os.kill(process.pid, signal.SIGKILL)
        for transport in process._writers:
            transport.close()  # as asyncio does itself when the reading end goes
        await asyncio.sleep(0.05)
        process.kill()
        return process._fds, process.alive

    assert run_on_a_loop_of_its_own(scenario) == ([-1, -1, -1], False)


# Reads a secret, waits 300 ms, reads another: what each read answered comes back.
TWO_READS = """async function handler(req) {
  const first = secrets.get("first");
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { first, second: secrets.get("second"), request: req.body };
}"""


def test_a_call_left_mid_way_leaves_nothing_for_the_threads_next_call(app):
    """An exception no answer catches (BaseException) leaves the call running in the supervisor: its asks
    and outcome must not reach the next call this thread makes, nor that call's answers reach it."""
    from plugins.functions.invoke import runtime
    from plugins.functions.runtime.base import FunctionSpec, Invocation, Permissions

    class Left(BaseException):
        pass

    def leave(name):
        if name == "second":
            raise Left()
        return {"system": f"{name} of call 1"}

    deno = runtime(app)
    spec = FunctionSpec("two-reads", 1, TWO_READS, 5, 128, Permissions())
    request = {"method": "POST", "url": "http://x/", "headers": {}, "body": "call 1", "params": {}}
    try:
        deno.invoke(spec, Invocation(request, secret=leave))
    except Left:
        pass
    else:
        raise AssertionError("the exception was swallowed")
    other = FunctionSpec("other", 1, TWO_READS, 5, 128, Permissions())
    outcome = deno.invoke(
        other, Invocation({**request, "body": "call 2"}, secret=lambda name: {"system": f"{name} of call 2"})
    )
    assert (outcome.status, outcome.http_status) == ("success", 200), outcome
    assert outcome.response["body"] == '{"first":"first of call 2","second":"second of call 2","request":"call 2"}'
