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


def lister(client: FlaskClient, headers: dict[str, str], secrets: int, query: str = "") -> Callable[[], None]:
    def call() -> None:
        response = client.get(f"/api/v1/secrets{query}", headers=headers)
        if response.status_code != 200 or response.headers["X-Total-Count"] != str(secrets):
            raise SystemExit(f"list: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}")

    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (7)")
    parser.add_argument("--calls", type=int, default=200, help="measured calls per size per round (200)")
    args = parser.parse_args(argv)
    kinds = ("invoke", "list", "list ?limit=10")
    with ExitStack() as stack:
        calls: dict[tuple[str, int], Callable[[], None]] = {}
        for secrets in SIZES:
            app, client, headers = instance(stack.enter_context(tempfile.TemporaryDirectory()), secrets)
            stack.callback(lambda app=app: app.extensions["functions"]["runtime"].close())
            calls["invoke", secrets] = invoker(client, headers)
            calls["list", secrets] = lister(client, headers, secrets)
            calls["list ?limit=10", secrets] = lister(client, headers, secrets, "?limit=10")
        p50: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.rounds):
            for kind in kinds:
                for secrets in SIZES:
                    timings = timed(calls[kind, secrets], args.calls, warmup=min(50, args.calls))
                    p50.setdefault((kind, secrets), []).append(timings.p50_ms)
    small, large = SIZES
    # Per round, large over small: p50 for the lists; calls/s (small p50 over large) for the invoke.
    ratio = {
        kind: statistics.median(
            (s / b if kind == "invoke" else b / s) for s, b in zip(p50[kind, small], p50[kind, large], strict=True)
        )
        for kind in kinds
    }
    print(f"\nSecrets by name: {args.rounds} rounds of {args.calls} calls per size, p50 in ms")
    for kind in kinds:
        row = "  ".join(f"{secrets:>6} secrets {statistics.median(p50[kind, secrets]):7.3f}" for secrets in SIZES)
        print(f"{kind + ':':<16} {row}")
    checks = [
        (f"invoke reading 5, invokes/s at {large} / at {small}", ratio["invoke"], ">=", INVOKE_TARGET),
        (f"GET /api/v1/secrets (first page) p50 at {large} / at {small}", ratio["list"], "<=", LIST_TARGET),
        ("the same, 10 a page at both sizes (not a target)", ratio["list ?limit=10"], "", None),
    ]
    failed = False
    for name, value, sign, target in checks:
        met = target is None or (value >= target if sign == ">=" else value <= target)
        failed |= not met
        verdict = "" if target is None else f"target {sign} {target}  {'PASS' if met else 'FAIL'}"
        print(f"{name:<62} {value:6.2f}x  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
