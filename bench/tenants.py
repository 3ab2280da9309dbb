"""Tenants at scale (issue 13): does a request naming its tenant slow down when there are 1,000 tenants?

The target: with 1,000 tenants, an authenticated request naming a tenant in
`X-FB-Tenant` runs at >= 0.9x the req/s of the same request with one tenant, in the
same run. Two fresh instances run side by side under gunicorn (`bench/run.py`'s
machinery): "one" holds the `default` tenant and `acme`; "many" holds `default`,
`acme` and 999 more, each created through the API with 3 secrets and the bench tenant
admin as its admin. The request is `GET /api/v1/secrets?limit=10`, which reads
tenant-owned rows, as two callers:

- the instance admin, who may act in any tenant;
- a tenant admin (a dashboard account with the `tenant_admin` role), whose membership
  in the named tenant is checked on every request: where the count of tenants could
  matter, as the membership table grows with them.

Each caller names `acme` in every request, then a different tenant per request (a wrk
Lua script cycling through every slug of the instance: on "one" that is `acme` again).
A run that always names one tenant tests only the tenant cache; cycling through 1,000
also makes each worker read tenants its cache has not seen or has let expire. Every
request is measured on both instances in turn, which one goes first flipping each
round, so the machine's drift falls on both. Each round's ratio is the pair's req/s on
"many" over "one", measured seconds apart; the verdict takes the median of the rounds'
ratios, PASS at 0.9 or more. On a shared machine req/s follow whatever else runs, so
beside them the table shows the gunicorn workers' own CPU time per request (user +
system, from /proc, warm-up excluded) and its ratio one/many, a steadier reading of the
same cost. Exit status 0 when every row passes, 1 when one fails, 2 when it could not
run.

    .venv/bin/python bench/tenants.py [--rounds N] [--duration S] [--tenants N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import requests
import run
from run import BenchContext, BenchError, Endpoint, Settings, WrkResult

from flux.default_auth import TENANT_HEADER

TARGET = 0.9
NAMED_SLUG = "acme"
SECRETS_PER_TENANT = 3
TENANT_ADMIN = {"email": "bench-tenant-admin@example.com", "password": run.BENCH_PASSWORD}
SECRETS_PATH = "/api/v1/secrets?limit=10"
PROGRESS_EVERY = 100
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Instance:
    """One running Fluxbase, its tenants' slugs, and the two callers' headers."""

    label: str
    server: run.Server
    context: BenchContext
    slugs: list[str]
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def workers_cpu_s(self) -> float:
        """User + system CPU seconds of the gunicorn master's children (its workers), so far."""
        pid = self.server.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for child in children:
            fields = Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
        return total / CLOCK_TICKS


@dataclass
class Sample:
    """One wrk run, and the workers' CPU time per request during it."""

    wrk: WrkResult
    cpu_us: float


@dataclass
class Row:
    """One request measured on both instances: every round's sample on each."""

    name: str
    one: list[Sample] = field(default_factory=list)
    many: list[Sample] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        """Each round's req/s on "many" over "one", measured seconds apart."""
        return [b.wrk.requests_per_s / a.wrk.requests_per_s for a, b in zip(self.one, self.many, strict=True)]

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios: what the target is judged on."""
        return statistics.median(self.ratios)

    @property
    def cpu_ratio(self) -> float:
        """Median CPU time per request on "one" over "many": below 1 when "many" costs more."""
        return statistics.median(a.cpu_us / b.cpu_us for a, b in zip(self.one, self.many, strict=True))

    @property
    def problems(self) -> list[str]:
        """Non-2xx answers and socket errors: a row with any fails whatever its ratio."""
        results = [sample.wrk for sample in [*self.one, *self.many]]
        found = [f"{count} non-2xx" for count in [sum(result.non_2xx for result in results)] if count]
        return found + [f"socket errors {result.socket_errors}" for result in results if result.socket_errors]


def checked(response: requests.Response, doing: str) -> dict:
    """The JSON answer of a setup call, or BenchError: a setup that fails must stop the run."""
    if response.status_code not in (200, 201):
        raise BenchError(f"{doing}: HTTP {response.status_code} {response.text[:300]}")
    return response.json() if response.content else {}


def add_tenant_admin_account(instance_path: Path) -> None:
    """A dashboard account with the `tenant_admin` role, written straight into the instance's database.

    No endpoint creates one (the setup endpoint and `fluxbase admin create` make
    instance admins); the account then signs in through the API like any other.
    """
    from flux import create_app
    from flux.auth.models import PlatformAccount
    from flux.auth.passwords import hash_password
    from flux.db import db

    app = create_app({"INSTANCE_PATH": str(instance_path), "DATABASE_URL": ""})
    with app.app_context():
        password_hash = hash_password(TENANT_ADMIN["password"])
        db.session.add(PlatformAccount(email=TENANT_ADMIN["email"], password_hash=password_hash, role="tenant_admin"))
        db.session.commit()
        db.engine.dispose()


def populate(instance: Instance, count: int) -> None:
    """`count` tenants through the API, `acme` first, each with its secrets and the tenant admin as its admin."""
    context = instance.context
    url = context.base_url
    admin = run.admin_token(context)["headers"]
    add_tenant_admin_account(context.instance_path)
    login = context.session.post(f"{url}/api/v1/admin/login", json=TENANT_ADMIN, timeout=30)
    account_id = checked(login, "the tenant admin's sign-in")["user"]["id"]
    started = time.monotonic()
    for index in range(count):
        slug = NAMED_SLUG if index == 0 else f"tenant-{index:04d}"
        body = {"slug": slug, "name": f"Bench tenant {index}"}
        checked(context.session.post(f"{url}/api/v1/admin/tenants", json=body, headers=admin, timeout=30), slug)
        in_tenant = {**admin, TENANT_HEADER: slug}
        for number in range(SECRETS_PER_TENANT):
            secret = {"name": f"BENCH_SECRET_{number}", "value": f"value {number} of {slug}"}
            checked(context.session.post(f"{url}/api/v1/secrets", json=secret, headers=in_tenant, timeout=30), slug)
        made_admin = {"user_id": account_id}
        post = context.session.post(f"{url}/api/v1/admin/tenants/{slug}/admins", json=made_admin, headers=admin)
        checked(post, f"{slug} admin")
        instance.slugs.append(slug)
        if (index + 1) % PROGRESS_EVERY == 0 or index + 1 == count:
            print(f"  {instance.label}: {index + 1}/{count} tenants ({time.monotonic() - started:.0f} s)", flush=True)
    # Signed in again: the token's home tenant is the account's first membership, `acme`.
    login = context.session.post(f"{url}/api/v1/admin/login", json=TENANT_ADMIN, timeout=30)
    instance.headers = {"instance admin": admin, "tenant admin": run._bearer(login)["headers"]}


def rotating_lua(slugs: list[str]) -> str:
    """A wrk `request()` naming the next slug in every request; each thread starts at another point."""
    table = ", ".join(run.lua_string(slug) for slug in slugs)
    return f"""
local slugs = {{{table}}}
local started = 0
function setup(thread)
  started = started + 1
  thread:set("offset", started * 7919)
end
local index = nil
function request()
  if index == nil then index = (offset or 0) % #slugs end
  index = index % #slugs + 1
  wrk.headers["{TENANT_HEADER}"] = slugs[index]
  return wrk.format()
end
"""


def endpoints(instance: Instance) -> dict[str, Endpoint]:
    """Every measured request by row name, as this instance's callers and tenants make it."""
    made: dict[str, Endpoint] = {}
    for caller, headers in instance.headers.items():
        named: Endpoint = {"name": f"{caller}, names acme", "method": "GET", "path": SECRETS_PATH}
        named["headers"] = {**headers, TENANT_HEADER: NAMED_SLUG}
        made[named["name"]] = named
        cycling: Endpoint = {"name": f"{caller}, a tenant per request", "method": "GET", "path": SECRETS_PATH}
        cycling["headers"], cycling["lua"] = headers, rotating_lua(instance.slugs)
        made[cycling["name"]] = cycling
    return made


def measure(settings: Settings, wrk: str, count: int) -> list[Row]:
    """Start both instances, fill them, then measure every request on both in turn, round after round."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fluxbase-tenants-")))
        instances: list[Instance] = []
        for label, tenants in (("one", 1), ("many", count)):
            path = workdir / label
            command = [str(run.VENV_BIN / "fluxbase"), "serve", "--instance", str(path), "--host", run.HOST]
            command += ["--port", "{port}", "--workers", str(run.WORKERS), "--threads", "1", "--no-access-log"]
            print(f"starting {label} ({run.WORKERS} sync workers) in {path}", flush=True)
            server = stack.enter_context(run.running_server(label, command, workdir, "/health"))
            context = BenchContext(base_url=server.base_url, instance_path=path, session=run.local_session())
            instance = Instance(label=label, server=server, context=context, slugs=[])
            populate(instance, tenants)
            instances.append(instance)
        one, many = instances
        requests_of = {instance.label: endpoints(instance) for instance in instances}
        for instance in instances:
            for endpoint in requests_of[instance.label].values():
                run.prepare(endpoint, instance.context)
        rows = [Row(name) for name in requests_of["one"]]
        for round_number in range(1, settings.rounds + 1):
            order = (one, many) if round_number % 2 else (many, one)
            for row in rows:
                for instance in order:
                    print(f"round {round_number}/{settings.rounds}: {row.name} on {instance.label}", flush=True)
                    sample = measure_once(wrk, instance, requests_of[instance.label][row.name], settings, workdir)
                    getattr(row, instance.label).append(sample)
    return rows


def measure_once(wrk: str, instance: Instance, endpoint: Endpoint, settings: Settings, workdir: Path) -> Sample:
    """Warm up, then one wrk run with the workers' CPU time read around it (the warm-up left out)."""
    url = instance.context.base_url
    if settings.warmup_s:
        run.run_wrk(wrk, url, endpoint, replace(settings, duration_s=settings.warmup_s, warmup_s=0), workdir)
    before = instance.workers_cpu_s()
    result = run.run_wrk(wrk, url, endpoint, replace(settings, warmup_s=0), workdir)
    return Sample(result, (instance.workers_cpu_s() - before) * 1e6 / max(result.requests, 1))


def print_rows(rows: list[Row], count: int) -> bool:
    """The table, each round's ratios, and PASS/FAIL per row; True when every row passes."""
    print(f"\nGET {SECRETS_PATH}: 1 tenant against {count}, medians over rounds")
    print(f"{'request':38} {'req/s one':>9} {'many':>7} {'ratio':>6} {'CPU µs one':>10} {'many':>6} {'ratio':>6}")
    passed = True
    for row in rows:
        one = statistics.median(sample.wrk.requests_per_s for sample in row.one)
        many = statistics.median(sample.wrk.requests_per_s for sample in row.many)
        cpu_one = statistics.median(sample.cpu_us for sample in row.one)
        cpu_many = statistics.median(sample.cpu_us for sample in row.many)
        line = f"{row.name:38} {one:9.1f} {many:7.1f} {row.ratio:6.2f} {cpu_one:10.0f} {cpu_many:6.0f}"
        print(f"{line} {row.cpu_ratio:6.2f}")
    print("\nrounds' req/s ratios (many/one):")
    for row in rows:
        print(f"  {row.name:38} " + " ".join(f"{ratio:.2f}" for ratio in row.ratios))
    print()
    for row in rows:
        ok = row.ratio >= TARGET and not row.problems
        passed &= ok
        why = f" ({'; '.join(row.problems)})" if row.problems else ""
        print(f"{'PASS' if ok else 'FAIL'}  {row.name}: many/one {row.ratio:.2f}, target >= {TARGET}{why}")
    return passed


def main(argv: list[str] | None = None) -> int:
    """Run it; 0 when every row meets the target, 1 when one does not, 2 when it could not run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds, each measuring both instances (default 7)")
    parser.add_argument("--duration", type=int, default=3, help="seconds per request, instance and round (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each (default 1)")
    parser.add_argument("--connections", type=int, default=16, help="open connections (default 16)")
    parser.add_argument("--tenants", type=int, default=1000, help="tenants besides `default` on 'many' (default 1000)")
    args = parser.parse_args(argv)
    if min(args.rounds, args.duration, args.connections, args.tenants) < 1:
        parser.error("--rounds, --duration, --connections and --tenants must be at least 1")
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed; run `bash bench/run.sh`, which installs it", file=sys.stderr)
        return 2
    for name in [name for name in os.environ if name.startswith("FLUXBASE_")]:
        del os.environ[name]  # this process writes to the fresh instance, as the servers do: never elsewhere
    settings = Settings(args.duration, args.warmup, args.connections, min(2, args.connections), args.rounds)
    rows = run.measured_or_exit_status(lambda: measure(settings, wrk, args.tenants))
    if isinstance(rows, int):
        return rows
    return 0 if print_rows(rows, args.tenants) else 1


if __name__ == "__main__":
    sys.exit(main())
