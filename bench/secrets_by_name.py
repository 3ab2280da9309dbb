"""Secrets by name (issue 15): an invoke that reads 5 secrets, and the secrets list, at 10 and at 10,000 secrets.

Issue 15's targets, each a ratio of two instances measured in the same run:

- an invoke (the whole Flask request through the test client, a warm Deno worker) of
  a function that reads 5 secrets with 10,000 function secrets in its scope: at least
  0.8x the invokes/s of the same with 10 (the reads fetch 5 names, whatever exists);
- `GET /api/v1/secrets` (the first page): p50 at 10,000 secrets at most 1.25x the p50 at 10.

Both instances are fresh SQLite databases; the secrets are written in one transaction
(sealed as the API seals them, half global, half of the function's namespace), since
10,000 API calls would only slow the set-up. The two sizes alternate in rounds and a
target is met when the median of the rounds' ratios meets it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from timing import timed

from flux import create_app, migrate
from flux.db import db, new_id, utcnow
from flux.tenancy import default_tenant_id, tenant_scope
from plugins.secrets import store
from plugins.secrets.models import GLOBAL, NAMESPACE, FunctionSecret

INVOKE_TARGET, LIST_TARGET = 0.8, 1.25
SIZES = (10, 10_000)
SETUP_TOKEN = "bench-setup-token-0123456789abcdef"
PASSWORD = "Bench-password-123"
FUNCTION_NAMESPACE = "default"
READ = [f"SECRET_{i}" for i in range(5)]
READS_FIVE = (
    "async function handler(req) {\n"
    f"  const names = {READ!r};\n"
    '  return { status: 200, body: names.map((name) => secrets.getRequired(name)).join(",") };\n'
    "}\n"
)


def value_of(name: str) -> str:
    return f"value-of-{name}-" + "x" * 40


def instance(folder: str, secrets: int) -> tuple[Flask, FlaskClient, dict[str, str]]:
    """A migrated instance with an admin, `secrets` function secrets in scope and the reading function."""
    app = create_app({"INSTANCE_PATH": folder, "SECURITY_SETUP_TOKEN": SETUP_TOKEN, "DATABASE_URL": ""})
    migrate.upgrade(app)
    client = app.test_client()
    body = {"email": "bench@example.com", "password": PASSWORD, "name": "Bench", "setup_token": SETUP_TOKEN}
    headers = {"Authorization": f"Bearer {client.post('/api/v1/admin/setup', json=body).json['access_token']}"}
    with app.app_context():
        fill(app, default_tenant_id(), secrets)
    function = {"name": "reads-five", "code": READS_FIVE, "namespace": FUNCTION_NAMESPACE}
    created = client.post("/api/v1/functions", json=function, headers=headers)
    if created.status_code != 201:
        raise SystemExit(f"could not create the function: HTTP {created.status_code} {created.json}")
    return app, client, headers


def fill(app: Flask, tenant_id: str, count: int) -> None:
    """`count` secrets sealed as `store.create` seals them: even ones global, odd ones of the function's namespace."""
    encryptor, now, rows = app.extensions["flux"].encryptor, utcnow(), []
    for index in range(count):
        name = f"SECRET_{index}"
        scope, namespace = (GLOBAL, "") if index % 2 == 0 else (NAMESPACE, FUNCTION_NAMESPACE)
        sealed = encryptor.encrypt(value_of(name), aad=store.value_aad(tenant_id, scope, namespace, name))
        rows.append(
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "name": name,
                "env_name": store.env_name(name),
                "scope": scope,
                "namespace": namespace,
                "encrypted_value": sealed,
                "description": "",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    with tenant_scope(tenant_id):
        db.session.execute(sa.insert(FunctionSecret.__table__), rows)
        db.session.commit()


def invoker(client: FlaskClient, headers: dict[str, str]) -> Callable[[], None]:
    expected = ",".join(value_of(name) for name in READ)

    def call() -> None:
        response = client.post("/api/v1/functions/reads-five/invoke", headers=headers)
        if response.status_code != 200 or response.get_data(as_text=True) != expected:
            raise SystemExit(f"invoke: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}")

    return call


def lister(client: FlaskClient, headers: dict[str, str], secrets: int) -> Callable[[], None]:
    def call() -> None:
        response = client.get("/api/v1/secrets", headers=headers)
        if response.status_code != 200 or response.headers["X-Total-Count"] != str(secrets):
            raise SystemExit(f"list: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}")

    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (7)")
    parser.add_argument("--calls", type=int, default=200, help="measured calls per size per round (200)")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        calls: dict[int, dict[str, Callable[[], None]]] = {}
        for secrets in SIZES:
            app, client, headers = instance(stack.enter_context(tempfile.TemporaryDirectory()), secrets)
            stack.callback(lambda app=app: app.extensions["functions"]["runtime"].close())
            calls[secrets] = {"invoke": invoker(client, headers), "list": lister(client, headers, secrets)}
        p50: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.rounds):
            for kind in ("invoke", "list"):
                for secrets in SIZES:
                    timings = timed(calls[secrets][kind], args.calls, warmup=min(50, args.calls))
                    p50.setdefault((kind, secrets), []).append(timings.p50_ms)
    small, large = SIZES
    invoke_ratio = statistics.median(s / b for s, b in zip(p50["invoke", small], p50["invoke", large], strict=True))
    list_ratio = statistics.median(b / s for s, b in zip(p50["list", small], p50["list", large], strict=True))
    print(f"\nSecrets by name: {args.rounds} rounds of {args.calls} calls per size, p50 in ms")
    for kind in ("invoke", "list"):
        row = "  ".join(f"{secrets:>6} secrets {statistics.median(p50[kind, secrets]):7.3f}" for secrets in SIZES)
        print(f"{kind + ':':<8} {row}")
    checks = [
        (
            f"invoke reading 5 at {large} / at {small} (invokes/s)",
            invoke_ratio,
            f">= {INVOKE_TARGET}",
            invoke_ratio >= INVOKE_TARGET,
        ),
        (
            f"GET /api/v1/secrets p50 at {large} / at {small}",
            list_ratio,
            f"<= {LIST_TARGET}",
            list_ratio <= LIST_TARGET,
        ),
    ]
    for name, ratio, target, met in checks:
        print(f"{name:<50} {ratio:6.2f}x  target {target}  {'PASS' if met else 'FAIL'}")
    return 0 if all(met for *_, met in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
