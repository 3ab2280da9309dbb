"""Deno workers end with their server and enforce their own CPU budget, whatever the server does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.functions.conftest import BASE, call, deploy, run_on_a_loop_of_its_own, started_process

SPIN = "async function handler(req) { while (true) {} }"
WAITS = """async function handler(req) {
  if (!req.params.quick) await new Promise((resolve) => setTimeout(resolve, 20000));
  return "done";
}"""
REQUEST = {"method": "POST", "url": "http://127.0.0.1/", "headers": {}, "body": "", "params": {}}
# A server process: a runtime whose warm worker is busy with a long call, on a request thread.
SERVER = f"""
import sys, threading, time
from flask import Flask
from plugins.functions.config import DEFAULTS
from plugins.functions.runtime.base import FunctionSpec, Invocation, Permissions
from plugins.functions.runtime.deno import DenoRuntime

app = Flask("orphans", instance_path=sys.argv[1])
app.config.update(DEFAULTS, FUNCTIONS_DENO_DIR=sys.argv[2])
runtime = DenoRuntime(app)
spec = FunctionSpec("spin", 1, {SPIN!r}, 60, 128, Permissions())
threading.Thread(target=runtime.invoke, args=(spec, Invocation({REQUEST!r}))).start()
print("calling", flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def deno_workers(instance: Path) -> list[int]:
    """Deno workers of this instance (children of its supervisor, wherever that runs)."""
    workers = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"worker.js" in command and str(instance).encode() in command and b"setpriv" not in command:
                workers.append(int(entry.name))
    return workers


def test_a_killed_server_takes_its_busy_worker_with_it(tmp_path, deno_dir):
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "instance"), str(deno_dir)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert server.stdout is not None and server.stdout.readline() == b"calling\n"
        deadline = time.monotonic() + 30
        while not (workers := deno_workers(tmp_path / "instance")) and time.monotonic() < deadline:
            time.sleep(0.1)
        [worker] = workers
        time.sleep(0.5)  # inside its call, spinning
        assert alive(worker)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
        server.stdout.close()
    deadline = time.monotonic() + 10  # the supervisor stops once no server has been connected for 2 s
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker)


def test_a_worker_outlives_the_request_thread_that_started_it(app, client, admin_headers):
    deploy(client, admin_headers, "pid", code="async function handler(req) { return Deno.pid }")
    first = []
    thread = threading.Thread(target=lambda: first.append(call(client, "pid", admin_headers).json))
    thread.start()
    thread.join()
    time.sleep(0.3)  # a parent-death signal tied to that thread would have fired by now
    assert call(client, "pid", admin_headers).json == first[0] and alive(first[0])
    assert client.get(f"{BASE}/pid/executions", headers=admin_headers).json[0]["status"] == "success"


def test_a_call_nobody_watches_stops_at_its_own_cpu_budget(app):
    async def unwatched() -> tuple[int, int | None]:
        process = await started_process(app, SPIN, timeout=1, calls=1)
        try:
            process.inflight = 1
            process._limit_cpu(1)
            process._send({"id": 1, "request": REQUEST})
            # Waited for without yielding to the event loop: nothing here reads or stops it.
            return process.pid, process.process.wait(timeout=30)
        finally:
            process.kill()

    pid, status = run_on_a_loop_of_its_own(unwatched)
    assert status in (-signal.SIGXCPU, -signal.SIGKILL) and not alive(pid)


def test_a_killed_supervisor_fails_its_calls_with_503_and_the_next_call_starts_another(app, client, admin_headers):
    deploy(client, admin_headers, "slow", code=WAITS)
    answers = []
    thread = threading.Thread(target=lambda: answers.append(call(client, "slow", admin_headers)))
    thread.start()
    runtime = app.extensions["functions"]
    deadline = time.monotonic() + 30
    while not (runtime["runtime"] and (status := runtime["runtime"].status())["processes"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [worker] = status["processes"]
    os.kill(status["pid"], signal.SIGKILL)
    thread.join(timeout=30)
    [answer] = answers
    assert (answer.status_code, answer.json) == (
        503,
        {"error": "The functions runtime stopped during this call; retry it"},
    )
    deadline = time.monotonic() + 5
    while alive(worker["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker["pid"])  # its parent-death signal
    again = call(client, "slow", admin_headers, query_string={"quick": 1})
    assert again.status_code == 200 and runtime["runtime"].status()["pid"] != status["pid"]
