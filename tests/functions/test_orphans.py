"""Deno workers end with their server and enforce their own CPU budget, whatever the server does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from plugins.functions.runtime.base import FunctionSpec, Permissions
from plugins.functions.runtime.worker import Worker
from tests.functions.conftest import BASE, call, deploy

SPIN = "async function handler(req) { while (true) {} }"
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


def deno_children(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == parent and b"worker.js" in command:
                children.append(int(entry.name))
    return children


def test_a_killed_server_takes_its_busy_worker_with_it(tmp_path, deno_dir):
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "instance"), str(deno_dir)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert server.stdout is not None and server.stdout.readline() == b"calling\n"
        deadline = time.monotonic() + 30
        while not (workers := deno_children(server.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        [worker] = workers
        time.sleep(0.5)  # inside its call, spinning
        assert alive(worker)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
        server.stdout.close()
    deadline = time.monotonic() + 5
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


def test_a_call_nobody_watches_stops_at_its_own_cpu_budget(app, client, admin_headers):
    from plugins.functions.invoke import runtime

    spec = FunctionSpec("spin", 1, SPIN, 1, 128, Permissions())
    worker = Worker(runtime(app), spec, calls=1)
    try:
        worker._limit_cpu(spec.timeout_seconds)
        worker._send({"request": REQUEST})  # and never read the answer, as a server that hung or died
        worker.process.wait(timeout=30)
        assert worker.process.returncode in (-signal.SIGXCPU, -signal.SIGKILL)
    finally:
        worker.kill()
    assert not alive(worker.process.pid) and os.path.exists(worker._channel) is False
