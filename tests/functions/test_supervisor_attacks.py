"""Attacks on the runtime supervisor: what a function, a caller or the host can do to it, and what it must withstand."""

from __future__ import annotations

import shutil
import time

from tests.functions.conftest import BASE, HELLO, call, deploy

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
