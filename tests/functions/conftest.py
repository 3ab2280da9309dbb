"""Functions tests: real Deno workers, with one Deno cache for the session so repeated code type-checks once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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


def deploy(client, headers: dict, name: str, code: str = HELLO, **fields: Any) -> dict:
    response = client.post(BASE, json={"name": name, "code": code, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def call(client, name: str, headers: dict | None = None, method: str = "POST", **kwargs: Any):
    return client.open(f"{BASE}/{name}/invoke", method=method, headers=headers or {}, **kwargs)


def warm_workers(app) -> int:
    runtime = app.extensions["functions"]["runtime"]
    return 0 if runtime is None else runtime.pool.warm_count()
