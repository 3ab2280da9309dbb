"""The baselines: a bare Flask app served like Fluxbase, with nothing of Fluxbase in its requests.

Measured in the same run as the real server, it turns machine-dependent req/s into a
ratio that shows what Fluxbase itself costs per request on top of Flask + gunicorn.
`/health` is the baseline of every ratio. `POST /invoke` is the least an invoke can do
with warm Deno workers: seed 003's hello world through the project's own runtime, with
no authentication, database, secrets or execution record; it shows how much of an
invoke's cost is the Deno round trip itself.
"""

from __future__ import annotations

import atexit
import os
import tempfile

from flask import Flask, Response, jsonify, request

from plugins.functions.config import DEFAULTS as FUNCTIONS_DEFAULTS
from plugins.functions.runtime.base import FunctionSpec, Invocation, Permissions
from plugins.functions.runtime.deno import DenoRuntime

# Seed 003's hello world, as a user would paste it.
HELLO_CODE = (
    "async function handler(req) { const data = JSON.parse(req.body || '{}'); return { status: 200, "
    'headers: {"Content-Type": "application/json"}, body: JSON.stringify({ message: `Hello ${data.name || '
    "'World'}!` }) } }"
)
HELLO = FunctionSpec(
    function_id="bare-hello", version=1, code=HELLO_CODE, timeout_seconds=60, memory_mb=128, permissions=Permissions()
)

app = Flask(__name__)
# The harness gives each server a folder it removes after the run; the runtime keeps its modules there.
app.instance_path = os.environ.get("BENCH_SERVER_DIR") or tempfile.mkdtemp(prefix="fluxbase-bare-")
app.config.update(FUNCTIONS_DEFAULTS)
_runtimes: list[DenoRuntime] = []


@app.get("/health")
def health() -> Response:
    """The cheapest JSON answer Flask can give: the ceiling Fluxbase's /health is compared to."""
    return jsonify({"status": "ok"})


@app.post("/invoke")
def invoke() -> Response:
    """Hello world in a warm worker: the request object of seed 003, the handler's answer passed through."""
    if not _runtimes:  # one per gunicorn worker, started after the fork
        _runtimes.append(DenoRuntime(app))
        atexit.register(_runtimes[0].close)
    call = {
        "method": request.method,
        "url": request.url,
        "headers": dict(request.headers),
        "body": request.get_data(as_text=True),
        "params": request.args.to_dict(),
    }
    outcome = _runtimes[0].invoke(HELLO, Invocation(request=call))
    answer = outcome.response or {"status": 500, "body": outcome.error or ""}
    return Response(answer.get("body", ""), status=answer["status"], headers=answer.get("headers"))
