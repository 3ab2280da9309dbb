"""The server trusts no frame it reads: the size limit and the frame order are checked on its side."""

from __future__ import annotations

import json

import pytest

from plugins.functions.invoke import runtime
from plugins.functions.runtime.base import ERROR, FunctionSpec, Invocation, Permissions
from plugins.functions.runtime.worker import MAX_BODY_BYTES, Worker, WorkerFailed
from tests.functions.conftest import HELLO

REQUEST = {"method": "POST", "url": "http://127.0.0.1/", "headers": {}, "body": "{}", "params": {}}


def frame(body: str) -> bytes:
    """A result frame as the worker writes one, here one the worker itself did not check."""
    response = {"status": 200, "headers": {}, "body": body}
    return json.dumps({"type": "result", "ok": True, "response": response, "logs": [], "cpu": 0}).encode() + b"\n"


@pytest.fixture
def worker(app):
    worker = Worker(runtime(app), FunctionSpec("hello", 1, HELLO, 5, 128, Permissions()), calls=10)
    yield worker
    worker.kill()


def test_a_body_over_the_limit_is_refused_by_the_server(worker):
    worker._frames += frame("x" * (MAX_BODY_BYTES + 1))  # as if it had arrived on the worker's pipe
    outcome = worker.call(Invocation(REQUEST), 5)
    assert (outcome.status, outcome.http_status) == (ERROR, 502) and "limit is 6291456 bytes" in outcome.error


def test_data_after_a_result_stops_the_worker(worker):
    worker._frames += frame("first") + frame("for the next caller")
    with pytest.raises(WorkerFailed, match="unexpected answer") as failed:
        worker.call(Invocation(REQUEST), 5)
    assert failed.value.http_status == 502
