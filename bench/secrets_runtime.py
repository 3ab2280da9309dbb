"""How long `Deno.env.toObject()` waits for every secret in scope, measured in-process.

Issue 5's target: resolving 100 secrets in scope takes under 1 ms at the median. Since
issue 15 a function's reads fetch one name each (`bench/secrets_by_name.py`); only
`Deno.env.toObject()` still gathers the whole `env` layer, which is timed here. Two
numbers are measured, each over many calls on a fresh SQLite instance:

- the secrets plugin's hook (`plugins.secrets.store.invocation_env`), and
- what the runtime calls (`plugins.functions.secret_layers.invocation_env`: every plugin's answer);

against a floor measured in the same run: the same rows read with the `sqlite3`
module and opened with AES-GCM directly, with no ORM, tenancy or key ring. The ratio
is floor / measured (1.0 would be the floor itself). The runtime remembers what it
opened (`Encryptor.open_text`), so after the first call it opens nothing and beats
the floor, which opens every row on every call.
"""

from __future__ import annotations

import argparse
import base64
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from timing import median_ms

from flux import create_app, migrate
from flux.tenancy import default_tenant_id
from plugins.functions.secret_layers import invocation_env
from plugins.secrets import store

TARGET_MS = 1.0
NAMESPACE = "production"
SETUP_TOKEN = "bench-setup-token-0123456789abcdef"


def fill(app, in_scope: int) -> None:
    """`in_scope` secrets a function of NAMESPACE sees (half global, half its own), plus others it does not."""
    client = app.test_client()
    credentials = {"email": "bench@example.com", "password": "Bench-password-123", "name": "Bench"}
    tokens = client.post("/api/v1/admin/setup", json={**credentials, "setup_token": SETUP_TOKEN}).json
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    plan = [(f"GLOBAL_{i}", "") for i in range(in_scope // 2)]
    plan += [(f"OWN_{i}", NAMESPACE) for i in range(in_scope - in_scope // 2)]
    plan += [(f"OTHER_{i}", "staging") for i in range(20)]
    for name, namespace in plan:
        body = {"name": name, "value": f"value-of-{name}-" + "x" * 40, "namespace": namespace}
        response = client.post("/api/v1/secrets", json=body, headers=headers)
        if response.status_code != 201:
            raise SystemExit(f"could not create {name}: HTTP {response.status_code} {response.json}")


def floor(app, tenant_id: str) -> Callable[[], dict[str, str]]:
    """The least work that can answer without remembering: one indexed query and one AES-GCM open per row."""
    path = Path(app.instance_path) / "flux.sqlite"
    connection = sqlite3.connect(path)
    master = app.extensions["flux"].encryptor.keyring.primary.key
    query = (
        "SELECT name, scope, namespace, encrypted_value FROM function_secrets WHERE tenant_id = ? "
        "AND (scope = 'global' OR namespace = ?) AND (expires_at IS NULL OR expires_at > ?) ORDER BY scope"
    )

    def resolve() -> dict[str, str]:
        found = {}
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        for name, scope, namespace, sealed in connection.execute(query, (tenant_id, NAMESPACE, now)):
            body = sealed.split(":", 3)[3]
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            aad = store.value_aad(tenant_id, scope, namespace, name)
            found[name] = AESGCM(master).decrypt(raw[:12], raw[12:], aad).decode()
        return found

    return resolve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=int, default=100, help="secrets in the function's scope (100)")
    parser.add_argument("--calls", type=int, default=3000, help="measured calls per variant (3000)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fluxbase-bench-") as instance:
        app = create_app({"INSTANCE_PATH": instance, "SECURITY_SETUP_TOKEN": SETUP_TOKEN, "DATABASE_URL": ""})
        migrate.upgrade(app)
        fill(app, args.secrets)
        with app.app_context():
            tenant_id = default_tenant_id()
            plugin = lambda: store.invocation_env(tenant_id, NAMESPACE)  # noqa: E731
            merged = lambda: invocation_env(tenant_id, NAMESPACE)  # noqa: E731
            resolved = len(plugin())
            if resolved != args.secrets:
                raise SystemExit(f"expected {args.secrets} secrets in scope, resolved {resolved}")
            floor_call = floor(app, tenant_id)
            if {store.env_name(name): value for name, value in floor_call().items()} != plugin():
                raise SystemExit("the floor and the plugin disagree on the secrets")
            rows = [
                ("floor (sqlite3 + AES-GCM)", median_ms(floor_call, args.calls)),
                ("secrets plugin hook", median_ms(plugin, args.calls)),
                ("all plugins (runtime call)", median_ms(merged, args.calls)),
            ]
    base = rows[0][1]
    print(f"\nDeno.env.toObject(): {args.secrets} secrets in scope, median of {args.calls} calls")
    print(f"{'variant':<30} {'median ms':>10} {'ratio':>7}  target")
    failed = False
    for name, ms in rows:
        target = "" if name.startswith("floor") else f"< {TARGET_MS} ms " + ("PASS" if ms < TARGET_MS else "FAIL")
        failed |= target.endswith("FAIL")
        print(f"{name:<30} {ms:>10.3f} {base / ms:>7.2f}  {target}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
