"""What each cache and fast path buys: the same request timed with it on and off, in-process.

Our rule: a cache or fast path stays only if a benchmark shows it makes its request at
least 10 % faster. Each one is turned off here by monkeypatching inside this process
(production code has no switch for it); requests go through the Flask test client
straight into the WSGI app of a fresh SQLite instance, migrated as the other bench
scripts do. Every round times N requests with the path on and N with it off, the order
flipped each round; a row shows the medians over rounds of the per-round median.
Gain = (off - on) / off; KEEP at 10 % or more, else REMOVE.

No HTTP endpoint answers with a decrypted value, and the hello-world function reads
none, so the encryptor's memos are timed on what an invocation that reads a secret
calls: `invocation_secret` for each of 15 names, for an app user, in an app context. The invoke rows need
Deno and bubblewrap, as the functions tests do.

    .venv/bin/python -m bench.fast_paths [--rounds N] [--requests N] [--only NAME]

Exit status 0 (it is a report), 2 when it could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

# The other bench scripts run as files and import their siblings by module name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import functions_runtime
import run
from timing import timed

import flux.auth.api_users
import flux.crypto.encryptor
import flux.schemas
import flux.tenancy
import plugins.functions.store
import plugins.settings.store
from flux import create_app, migrate
from flux.app import FluxState
from flux.db import db
from flux.tenancy import default_tenant_id, tenant_scope
from plugins.functions import invoke
from plugins.functions.secret_layers import invocation_secret

KEEP_AT = 0.10
USER = {"email": "bench-user@example.com", "password": run.BENCH_PASSWORD}
NAMESPACE = "production"


class NeverStores(dict):
    """A memo dict that forgets what it is given, so every lookup misses."""

    def __setitem__(self, key, value) -> None:
        pass


@dataclass
class Bench:
    """One fresh instance: the app, its state, and the credentials the requests use."""

    app: object
    state: FluxState
    admin: dict[str, str]
    user: dict[str, str]
    user_id: str
    tenant_id: str


@dataclass
class FastPath:
    """A fast path, the request that shows it, and how to turn it off for a while."""

    name: str
    request: str
    call: Callable[[Bench], Callable[[], None]]
    off: Callable[[Bench], contextlib.AbstractContextManager]
    around: Callable[[Bench], contextlib.AbstractContextManager] = lambda bench: contextlib.nullcontext()
    note: Callable[[Bench], str] | None = None
    on_us: list[float] = field(default_factory=list)
    off_us: list[float] = field(default_factory=list)


def checked(response, expected: int = 200) -> None:
    if response.status_code != expected:
        raise SystemExit(f"HTTP {response.status_code}: {response.get_data(as_text=True)[:300]}")


def get(path: str, who: str) -> Callable[[Bench], Callable[[], None]]:
    """A GET of `path` as the admin or the app user, checked for 200."""

    def build(bench: Bench) -> Callable[[], None]:
        client, headers = bench.app.test_client(), getattr(bench, who)
        return lambda: checked(client.get(path, headers=headers))

    return build


def invoke_hello(bench: Bench) -> Callable[[], None]:
    client = bench.app.test_client()
    return lambda: functions_runtime.checked_invoke(client, bench.admin)


def secrets_of_invocation(bench: Bench) -> Callable[[], None]:
    """What a function's reads of 15 secrets cost: as in an invocation, the session has committed before."""
    names = [f"bench/secret-{index}" for index in range(5)] + [f"FUNCTION_{index}" for index in range(10)]

    def call() -> None:
        db.session.commit()
        found = [invocation_secret(bench.tenant_id, NAMESPACE, bench.user_id, name) for name in names]
        if [len(layers) for layers in found] != [1] * len(names):
            raise SystemExit(f"unexpected secrets: {[sorted(layers) for layers in found]}")

    return call


def in_tenant(bench: Bench) -> contextlib.AbstractContextManager:
    stack = contextlib.ExitStack()
    stack.enter_context(bench.app.app_context())
    stack.enter_context(tenant_scope(bench.tenant_id))
    return stack


def never_hits(cache: Callable[[Bench], object]) -> Callable[[Bench], contextlib.AbstractContextManager]:
    """A TtlCache (or the tenant directory) whose entries expire as soon as they are stored (a TTL below zero)."""
    return lambda bench: mock.patch.object(cache(bench), "ttl", -1)


def unmemoized_open_text(bench: Bench) -> contextlib.AbstractContextManager:
    encryptor = bench.state.encryptor
    return mock.patch.object(encryptor, "open_text", encryptor._open_text)


def underived_keys(bench: Bench) -> contextlib.AbstractContextManager:
    """`derive_user_key` runs HKDF every time; the open_text memo is off in both arms, or it is never asked."""
    stack = contextlib.ExitStack()
    stack.enter_context(unmemoized_open_text(bench))
    stack.enter_context(
        mock.patch.object(flux.crypto.encryptor, "derive_user_key", flux.crypto.encryptor.derive_user_key.__wrapped__)
    )
    return stack


def scoped_anew(_bench: Bench) -> contextlib.AbstractContextManager:
    """Every statement is scoped anew (its copy and cache key built again), as when it is not weakly referenceable."""
    return mock.patch.object(flux.tenancy, "_SCOPED_FORMS", {True: NeverStores(), False: NeverStores()})


def memo_hits(bench: Bench) -> str:
    """How often a request's statements are found in `_SCOPED_FORMS` (the memo only helps then)."""
    call, original, found = get(SETTING_PATH, "user")(bench), flux.tenancy.scoped_form, []

    def counting(statement, orm=False):
        found.append(statement in flux.tenancy._SCOPED_FORMS[orm])
        return original(statement, orm)

    with mock.patch.object(flux.tenancy, "scoped_form", counting):
        for _ in range(10):
            call()
    return f"{sum(found)} of {len(found)} statements of 10 requests were found in the memo"


def through_the_session(module: object) -> Callable[[Bench], contextlib.AbstractContextManager]:
    """`read_rows` of this module replaced by the same statement through the request's ORM session."""

    def session_rows(statement, parameters):
        return db.session.execute(statement, parameters).all()

    return lambda _bench: mock.patch.object(module, "read_rows", session_rows)


def invocation_in_the_session(_bench: Bench) -> contextlib.AbstractContextManager:
    """The function's row read and its execution record written through the request's session, then committed."""

    def session_write(statement, parameters):
        changed = db.session.execute(statement, parameters).rowcount
        db.session.commit()
        return changed

    stack = contextlib.ExitStack()
    stack.enter_context(through_the_session(plugins.functions.store)(_bench))
    stack.enter_context(mock.patch.object(plugins.functions.store, "write_rows", session_write))
    return stack


SETTING_PATH = "/api/v1/settings/user/bench/theme"
INVOKE = "POST /api/v1/functions/bench-hello/invoke (admin)"
FAST_PATHS = [
    FastPath(
        "tenancy.scoped_form memo (_SCOPED_FORMS)",
        "GET /api/v1/settings/user/<key> (app user)",
        get(SETTING_PATH, "user"),
        scoped_anew,
        note=memo_hits,
    ),
    FastPath(
        "read_rows instead of the ORM session",
        "GET /api/v1/settings/user/<key> (app user)",
        get(SETTING_PATH, "user"),
        through_the_session(plugins.settings.store),
    ),
    FastPath(
        "read_rows instead of the ORM session",
        "GET /api/v1/auth/user (app user)",
        get("/api/v1/auth/user", "user"),
        through_the_session(flux.auth.api_users),
    ),
    FastPath(
        "invocation apart from the session (read_rows, write_rows)",
        INVOKE,
        invoke_hello,
        invocation_in_the_session,
    ),
    FastPath(
        "TenantDirectory copy (TENANT_CACHE_SECONDS)",
        "GET /api/v1/settings/user/<key> (app user)",
        get(SETTING_PATH, "user"),
        never_hits(lambda bench: bench.state.tenants),
    ),
    FastPath(
        "live_sessions TtlCache (AUTH_SESSION_CACHE_SECONDS)",
        "GET /api/v1/auth/user (app user)",
        get("/api/v1/auth/user", "user"),
        never_hits(lambda bench: bench.state.live_sessions),
    ),
    FastPath(
        "verified_tokens TtlCache (AUTH_SESSION_CACHE_SECONDS)",
        "GET /api/v1/auth/user (app user)",
        get("/api/v1/auth/user", "user"),
        never_hits(lambda bench: bench.state.verified_tokens),
    ),
    FastPath(
        "Encryptor.open_text memo (OPENED_MEMO_SIZE)",
        "invocation_secret: 5 user, 10 function secrets by name",
        secrets_of_invocation,
        unmemoized_open_text,
        around=in_tenant,
    ),
    FastPath(
        "derive_user_key lru_cache (open_text memo off in both)",
        "invocation_secret: 5 user, 10 function secrets by name",
        secrets_of_invocation,
        underived_keys,
        around=in_tenant,
    ),
    FastPath(
        "ApiModel.model_json_schema cache (_PLAIN_SCHEMAS)",
        "GET /api/v1/admin/plugins (admin, query model)",
        get("/api/v1/admin/plugins", "admin"),
        lambda bench: mock.patch.object(flux.schemas, "_PLAIN_SCHEMAS", NeverStores()),
    ),
]


def prepare(instance: str) -> Bench:
    """A migrated instance with an admin, an app user, secrets of both kinds and a user setting."""
    app = create_app({"INSTANCE_PATH": instance, "SECURITY_SETUP_TOKEN": run.SETUP_TOKEN, "DATABASE_URL": ""})
    migrate.upgrade(app)
    client = app.test_client()
    admin = functions_runtime.admin_headers(client)
    created = client.post("/api/v1/auth/signup", json=USER)
    checked(created, 201)
    user = {"Authorization": f"Bearer {created.json['access_token']}"}
    for index in range(10):
        body = {"name": f"FUNCTION_{index}", "value": f"function-value-{index}", "namespace": NAMESPACE}
        checked(client.post("/api/v1/secrets", json=body, headers=admin), 201)
    for index in range(5):
        body = {"key": f"bench/secret-{index}", "value": f"user-value-{index}"}
        checked(client.post("/api/v1/settings/secret", json=body, headers=user), 201)
    checked(client.put(SETTING_PATH, json={"value": "dark"}, headers=user))
    functions_runtime.create_function(client, admin, run.HELLO_NAME, functions_runtime.HELLO_CODE)
    with app.app_context():
        tenant_id = default_tenant_id()
    return Bench(app, app.extensions["flux"], admin, user, created.json["user"]["id"], tenant_id)


def median_us(call: Callable[[], None], requests: int) -> float:
    samples = timed(call, requests, warmup=max(3, requests // 10)).samples_ns
    return statistics.median(samples) / 1000


def measure(bench: Bench, path: FastPath, rounds: int, requests: int) -> None:
    call, count = path.call(bench), requests
    for number in range(rounds):
        for on in (True, False) if number % 2 == 0 else (False, True):
            with path.around(bench), contextlib.nullcontext() if on else path.off(bench):
                (path.on_us if on else path.off_us).append(median_us(call, count))


def report(paths: list[FastPath], notes: list[str], rounds: int, requests: int, took_s: float) -> None:
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nFast paths: medians over {rounds} rounds of the per-round median, {requests} requests a round")
    print(f"{took_s:.0f} s; load average {load}\n")
    print(f"{'fast path':<56} {'request':<48} {'ON µs':>8} {'OFF µs':>8} {'gain':>7}  verdict")
    for path in paths:
        on, off = statistics.median(path.on_us), statistics.median(path.off_us)
        gain = (off - on) / off
        verdict = "KEEP" if gain >= KEEP_AT else "REMOVE"
        print(f"{path.name:<56} {path.request:<48} {on:>8.1f} {off:>8.1f} {gain:>6.1%}  {verdict}")
    print("\nper round, gain %:")
    for path in paths:
        gains = " ".join(f"{(off - on) / off:>6.1%}" for on, off in zip(path.on_us, path.off_us, strict=True))
        print(f"  {path.name:<56} {gains}")
    for note in notes:
        print(f"\n{note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds, each timing ON and OFF (7)")
    parser.add_argument("--requests", type=int, default=400, help="requests per round and side (400)")
    parser.add_argument("--only", action="append", default=[], help="fast paths whose name contains this (repeatable)")
    args = parser.parse_args(argv)
    chosen = [path for path in FAST_PATHS if not args.only or any(word in path.name for word in args.only)]
    for name in [name for name in os.environ if name.startswith("FLUXBASE_")]:
        del os.environ[name]  # as bench/run.py: the shell's settings never reach the fresh instance
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="fluxbase-bench-") as instance:
            bench = prepare(instance)
            try:
                for path in chosen:
                    print(f"timing {path.name}: {path.request}", flush=True)
                    measure(bench, path, args.rounds, args.requests)
                notes = [f"{path.name}: {path.note(bench)}" for path in chosen if path.note]
            finally:
                invoke.runtime(bench.app).close()
    except (Exception, SystemExit) as error:  # noqa: BLE001 - any failure: it could not run (2)
        print(f"benchmark could not run: {error!r}", file=sys.stderr)
        return 2
    report(chosen, notes, args.rounds, args.requests, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
