"""Functions tests: real Deno workers, with one Deno cache for the session so repeated code type-checks once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from flux.db import db
from plugins.functions.invoke import runtime

T = TypeVar("T")
BASE = "/api/v1/functions"
HELLO = """async function handler(req) {
  const data = JSON.parse(req.body || '{}')
  return {
    status: 200,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ message: `Hello ${data.name || 'World'}!` })
  }
}"""


@pytest.fixture
def app(make_app, deno_dir) -> Iterator:
    app = make_app(FUNCTIONS_DENO_DIR=str(deno_dir))
    yield app
    runtime = app.extensions["functions"]["runtime"]
    if runtime is not None:
        runtime.close()


@pytest.fixture
def npm_reachable(app) -> None:
    """Bundling fetches Deno's bundler (esbuild), and packages, from the npm registry: skip where it cannot be had."""
    problem = runtime(app).fetch_bundler()
    if problem is not None:
        pytest.skip(f"the npm registry is unreachable from here: {problem}")


def deploy(client, headers: dict, name: str, code: str = HELLO, **fields: Any) -> dict:
    response = client.post(BASE, json={"name": name, "code": code, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def stored_bundle(app, name: str) -> str | None:
    """The bundle stored for the function of that name (in any tenant), or None."""
    query = "SELECT bundle FROM function_bundles JOIN functions ON functions.id = function_id WHERE name = :name"
    with app.app_context(), db.engine.connect() as connection:
        return connection.execute(sa.text(query), {"name": name}).scalar()


def call(client, name: str, headers: dict | None = None, method: str = "POST", **kwargs: Any):
    return client.open(f"{BASE}/{name}/invoke", method=method, headers=headers or {}, **kwargs)


def run_on_a_loop_of_its_own(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run` in a thread of its own: Playwright's sync API leaves a loop running in the test thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(scenario())).result()


async def started_process(app, code: str, timeout: int = 5, calls: int = 10):
    """A Deno process of `code` started on this event loop, outside any supervisor: for protocol tests."""
    from plugins.functions.invoke import runtime
    from plugins.functions.runtime.base import Permissions
    from plugins.functions.runtime.process import DenoProcess, Target

    deno = runtime(app)
    process = DenoProcess(deno.client.settings.sandbox, Target("f", 1, timeout, 128, Permissions()), calls=calls)
    await process.start(deno.module_for(code))
    return process


def worker_pids(app) -> list[int]:
    """The node's Deno processes, as its runtime supervisor reports them."""
    runtime = app.extensions["functions"]["runtime"]
    return [] if runtime is None else [process["pid"] for process in runtime.status()["processes"]]


def warm_workers(app) -> int:
    return len(worker_pids(app))
