"""The functions plugin's part of the Python client: functions, their executions, shared modules and sync.

    functions = FunctionsClient(FluxClient(url, token=token))
    functions.sync("default", [{"name": "hello", "code": code, "files": {}}])
    answer = functions.invoke("payments/charge", body=b'{"amount": 12}')

A function's env values are write-only: no answer holds one.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import requests

from flux.api import FluxClient, path_segment

BASE = "/api/v1/functions"
EXECUTION_HEADER = "X-Fluxbase-Execution-Id"  # set when the function ran, whatever it answered
# A call may run up to FUNCTIONS_MAX_TIMEOUT_SECONDS (300 by default), and the answer still has to come back.
INVOKE_TIMEOUT_SECONDS = 330.0
# A sync checks and bundles each new or changed function before it answers: seconds each.
SYNC_TIMEOUT_SECONDS, SYNC_SECONDS_PER_FUNCTION = 60.0, 10.0
ModuleChange = Literal["created", "updated", "unchanged"]


class FunctionsClient:
    """Edge functions (seed 003) through one `FluxClient`."""

    def __init__(self, client: FluxClient) -> None:
        self.client = client

    def list_functions(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every function (of `namespace`, or of all), without code; env by name only."""
        return self.client.list_all(BASE, params={"namespace": namespace})

    def executions(self, name: str, namespace: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The function's last `limit` executions, newest first, each with its console lines."""
        path = f"{BASE}/{path_segment(name)}/executions"
        return self.client.request("GET", path, params={"namespace": namespace, "limit": limit})

    def invoke(
        self, reference: str, method: str = "POST", body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        """Call `name` or `namespace/name`; the function's own answer, whatever its status.

        A refusal before the function ran (not found, disabled, no credential, rate
        limited) is a `ClientError`: only an answer that carries `EXECUTION_HEADER` came
        from the function.
        """
        path = f"{BASE}/{quote(reference, safe='/')}/invoke"
        response = self.client.send(method, path, data=body, headers=headers, timeout=INVOKE_TIMEOUT_SECONDS)
        if EXECUTION_HEADER not in response.headers:
            self.client.raise_for_error(response)
        return response

    def shared_module(self, module_path: str) -> dict[str, Any] | None:
        """The module at its current version, with its content; None when there is none."""
        response = self.client.send("GET", f"{BASE}/shared/{quote(module_path, safe='/')}")
        if response.status_code == 404:
            return None
        self.client.raise_for_error(response)
        return response.json()

    def put_shared_module(self, module_path: str, content: str, dry_run: bool = False) -> ModuleChange:
        """Make the module hold `content`: created, updated (a new version) or left as it is.

        With `dry_run`, only says which it would be.
        """
        stored = self.shared_module(module_path)
        if stored is not None and stored["content"] == content:
            return "unchanged"
        if not dry_run and stored is None:
            self.client.request("POST", f"{BASE}/shared", json={"module_path": module_path, "content": content})
        elif not dry_run:
            self.client.request("PUT", f"{BASE}/shared/{quote(module_path, safe='/')}", json={"content": content})
        return "created" if stored is None else "updated"

    def sync(
        self,
        namespace: str | None,
        functions: list[dict[str, Any]],
        delete_missing: bool = False,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Make the namespace hold `functions` in one transaction: `{namespace, summary, details, dry_run}`."""
        body = {"namespace": namespace, "functions": functions, "delete_missing": delete_missing, "dry_run": dry_run}
        timeout = SYNC_TIMEOUT_SECONDS + SYNC_SECONDS_PER_FUNCTION * len(functions)
        return self.client.request("POST", "/api/v1/admin/functions/sync", json=body, timeout=timeout)
