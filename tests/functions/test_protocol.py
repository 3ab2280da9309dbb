"""The server trusts no frame it reads: the size limit and the frame order are checked on its side."""

from __future__ import annotations

import asyncio
import json

import pytest

from plugins.functions.runtime.base import ERROR
from plugins.functions.runtime.process import MAX_BODY_BYTES, MAX_LOG_BYTES
from tests.functions.conftest import BASE, call, deploy, run_on_a_loop_of_its_own, started_process

REQUEST = {"method": "POST", "url": "http://127.0.0.1/", "headers": {}, "body": "{}", "params": {}}
SLOW = "async function handler(req) { await new Promise((resolve) => setTimeout(resolve, 5000)); return 1 }"


def frame(call_id: int, body: str) -> bytes:
    """A result frame as the worker writes one, here one the worker itself did not check."""
    response = {"status": 200, "headers": {}, "body": body}
    result = {"type": "result", "id": call_id, "ok": True, "response": response, "logs": [], "cpu": 0}
    return json.dumps(result).encode() + b"\n"


async def forged(app, frames: bytes):
    """A call of a slow function answered first by `frames`, as if they had arrived on the worker's pipe."""
    process = await started_process(app, SLOW)
    try:
        process.inflight = 1
        pending = asyncio.ensure_future(process.call(REQUEST, asyncio.get_running_loop().time() + 5, None))
        await asyncio.sleep(0.05)
        process._frames += frames
        process._consume()
        return await pending, process.alive
    finally:
        process.kill()


def test_a_body_over_the_limit_is_refused_by_the_server(app):
    outcome, alive = run_on_a_loop_of_its_own(lambda: forged(app, frame(1, "x" * (MAX_BODY_BYTES + 1))))
    assert alive
    assert (outcome.status, outcome.http_status) == (ERROR, 502) and "limit is 6291456 bytes" in outcome.error


@pytest.mark.parametrize("second", [1, 2], ids=["the same call again", "a call never made"])
def test_a_result_no_call_waits_for_stops_the_worker(app, second):
    outcome, alive = run_on_a_loop_of_its_own(lambda: forged(app, frame(1, "first") + frame(second, "next caller's")))
    assert (outcome.status, outcome.response["body"]) == ("success", "first")
    assert not alive


# A function that plants `toJSON` on the prototypes changes how the worker serializes its frame.
RESHAPED_LOGS = """async function handler(req) {
  console.log("hello");
  (Array.prototype as any).toJSON = function (this: unknown[]) {
    return this.length === 1 ? LOGS : [...this];
  };
  return { status: 200, body: "ok" };
}"""


def test_logs_that_are_not_a_list_are_none_not_a_500(client, admin_headers):
    deploy(client, admin_headers, "reshaped", RESHAPED_LOGS.replace("LOGS", "5"))
    response = call(client, "reshaped", admin_headers)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")
    executions = client.get(f"{BASE}/reshaped/executions", headers=admin_headers).json
    assert executions[0]["logs"] == []


def test_log_fields_besides_the_message_count_toward_the_log_limit(client, admin_headers):
    entry = '[{ message: "m", level: "x".repeat(1 << 20), timestamp: "t".repeat(1 << 20), extra: "e".repeat(1 << 20) }]'
    deploy(client, admin_headers, "bloated", RESHAPED_LOGS.replace("LOGS", entry))
    assert call(client, "bloated", admin_headers).status_code == 200
    executions = client.get(f"{BASE}/bloated/executions", headers=admin_headers).json
    assert executions[0]["logs"] == [{"timestamp": "", "level": "info", "message": "m"}]
    assert len(json.dumps(executions[0]["logs"])) < MAX_LOG_BYTES


LONE_SURROGATES = """async function handler(req) {
  console.log("log \\ud800");
  if (req.params.throw) throw new Error("thrown \\udc00");
  return { status: 200, body: "body \\ud800", headers: { "X-Fine": "1" } };
}"""
DEEP_HEADERS = """async function handler(req) {
  let deep: unknown = "x";
  for (let i = 0; i < 3000; i++) deep = { a: deep };
  return { status: 200, body: "ok", headers: { deep } };
}"""


def test_lone_surrogates_a_function_sends_become_replacement_characters(client, admin_headers):
    """JSON carries a lone surrogate that no UTF-8 response or database row can hold; TextEncoder would write U+FFFD."""
    deploy(client, admin_headers, "surrogates", LONE_SURROGATES)
    answer = call(client, "surrogates", admin_headers)
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "body \ufffd")
    thrown = call(client, "surrogates", admin_headers, query_string={"throw": "1"})
    assert (thrown.status_code, thrown.json["message"]) == (500, "thrown \ufffd")
    executions = client.get(f"{BASE}/surrogates/executions", headers=admin_headers).json
    assert [[line["message"] for line in execution["logs"]] for execution in executions] == [["log \ufffd"]] * 2


def test_an_answer_nested_too_deep_to_parse_is_a_502(client, admin_headers):
    deploy(client, admin_headers, "deep", DEEP_HEADERS)
    answer = call(client, "deep", admin_headers)
    assert answer.status_code == 502 and "unreadable answer" in answer.json["error"]
    assert client.get(f"{BASE}/deep/executions", headers=admin_headers).json[0]["status_code"] == 502
