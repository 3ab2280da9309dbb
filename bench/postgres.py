"""PostgreSQL against SQLite (issue 15): the same requests on two fresh instances, one per database, in one run.

The target: every request runs on PostgreSQL at >= 0.85x its req/s on SQLite. Two
instances run side by side under gunicorn (`bench/run.py`'s machinery, 2 sync
workers each): one on SQLite in its instance folder, one on a new PostgreSQL database
(created on the server of `--pg-url`, the local one by default, and dropped at the
end). Both are filled alike through the API (an instance admin, an app user, 20
function secrets, a system setting), then each request is measured on both in turn,
which one goes first flipping each round, so the machine's drift falls on both. A
round's ratio is its PostgreSQL req/s over its SQLite req/s; the verdict takes the
median of the rounds' ratios. On a shared machine req/s follow whatever else runs, so
beside them the table shows the CPU time per request, from /proc: the gunicorn
workers' (`bench/tenants.py`), plus on PostgreSQL its server processes serving the
instance. Their ratio SQLite/PostgreSQL is what the throughput ratio tends to on a
machine whose CPUs are the limit. Exit status 0 when every row passes, 1 when one
fails, 2 when it could not run.

    .venv/bin/python bench/postgres.py [--rounds N] [--duration S] [--pg-url URL] [--no-commit-flush]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import run
import sqlalchemy as sa
from run import BenchContext, Endpoint, Settings
from tenants import CLOCK_TICKS, Instance, checked

TARGET = 0.85
SECRETS = 20
SETTING_PATH = "/api/v1/settings/user/bench/theme"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass
class Sample:
    """One wrk run, and the CPU time per request of the workers and of the database's server processes."""

    wrk: run.WrkResult
    cpu_us: float
    database_cpu_us: float

    @property
    def total_cpu_us(self) -> float:
        return self.cpu_us + self.database_cpu_us


@dataclass
class Row:
    """One request measured on both instances: every round's sample on each."""

    name: str
    sqlite: list[Sample] = field(default_factory=list)
    postgresql: list[Sample] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        """Each round's req/s on PostgreSQL over SQLite, measured seconds apart."""
        pairs = zip(self.sqlite, self.postgresql, strict=True)
        return [pg.wrk.requests_per_s / lite.wrk.requests_per_s for lite, pg in pairs]

    @property
    def cpu_ratios(self) -> list[float]:
        """Each round's CPU time per request (workers and database) on SQLite over PostgreSQL."""
        pairs = zip(self.sqlite, self.postgresql, strict=True)
        return [lite.total_cpu_us / pg.total_cpu_us for lite, pg in pairs]

    @property
    def problems(self) -> list[str]:
        """Non-2xx answers and socket errors: a row with any fails whatever its ratio."""
        results = [sample.wrk for sample in [*self.sqlite, *self.postgresql]]
        found = [f"{count} non-2xx" for count in [sum(result.non_2xx for result in results)] if count]
        return found + [f"socket errors {result.socket_errors}" for result in results if result.socket_errors]


@contextmanager
def new_database(admin_url: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database on the server of `admin_url`, dropped on exit."""
    name = f"flux_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def backends_cpu_s(admin: sa.Engine, database: str) -> float:
    """User + system CPU seconds, so far, of the PostgreSQL processes serving `database` (local server only)."""
    with admin.connect() as connection:
        query = sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()")
        pids = connection.scalars(query, {"name": database}).all()
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile, or not on this machine
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def request(name: str, method: str, path: str, headers: dict[str, str], body: str | None = None) -> Endpoint:
    made: Endpoint = {"name": name, "method": method, "path": path, "headers": headers}
    if body is not None:
        made["headers"] = {**headers, "Content-Type": "application/json"}
        made["body"] = body
    return made


def populate(context: BenchContext) -> list[Endpoint]:
    """The instance's callers and rows, made through the API; every measured request by row name."""
    url = context.base_url
    admin = run.admin_token(context)["headers"]
    user = run.user_with_system_default(context)["headers"]
    for number in range(SECRETS):
        secret = {"name": f"BENCH_SECRET_{number}", "value": f"value {number}"}
        checked(context.session.post(f"{url}/api/v1/secrets", json=secret, headers=admin, timeout=30), "a secret")
    secret = "/api/v1/secrets/by-name/BENCH_SECRET_0"
    return [
        request("GET /health", "GET", "/health", {}),
        request("GET /api/v1/auth/user", "GET", "/api/v1/auth/user", user),
        request("GET /api/v1/secrets (first page)", "GET", f"/api/v1/secrets?limit={SECRETS}", admin),
        request("GET setting (system fallback)", "GET", SETTING_PATH, user),
        request("PUT setting (user's own)", "PUT", SETTING_PATH, user, '{"value": {"mode": "light"}}'),
        request("PUT secret description", "PUT", secret, admin, '{"description": "changed by the bench"}'),
    ]


def measure(settings: Settings, wrk: str, pg_url: str, options: str) -> list[Row]:
    """Start both instances, fill them, then measure every request on both in turn, round after round."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fluxbase-postgres-")))
        pg_database = stack.enter_context(new_database(pg_url))
        pg_name = sa.make_url(pg_database).database
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        stack.callback(admin.dispose)
        database_cpu = {"sqlite": lambda: 0.0, "postgresql": lambda: backends_cpu_s(admin, pg_name)}
        instances: list[Instance] = []
        requests_of: dict[str, dict[str, Endpoint]] = {}
        for label, database_url in (("sqlite", ""), ("postgresql", pg_database + options)):
            path = workdir / label
            path.mkdir()
            (path / "config.py").write_text(f"DATABASE_URL = {database_url!r}\n")
            command = [str(run.VENV_BIN / "fluxbase"), "serve", "--instance", str(path), "--host", run.HOST]
            command += ["--port", "{port}", "--workers", str(run.WORKERS), "--threads", "1", "--no-access-log"]
            print(f"starting {label} ({run.WORKERS} sync workers) in {path}", flush=True)
            server = stack.enter_context(run.running_server(label, command, workdir, "/health"))
            context = BenchContext(base_url=server.base_url, instance_path=path, session=run.local_session())
            instances.append(Instance(label=label, server=server, context=context, slugs=[]))
            requests_of[label] = {endpoint["name"]: run.prepare(endpoint, context) for endpoint in populate(context)}
        rows = [Row(name) for name in requests_of["sqlite"]]
        for round_number in range(1, settings.rounds + 1):
            order = instances if round_number % 2 else instances[::-1]
            for row in rows:
                for instance in order:
                    print(f"round {round_number}/{settings.rounds}: {row.name} on {instance.label}", flush=True)
                    endpoint = requests_of[instance.label][row.name]
                    sample = measure_once(wrk, instance, endpoint, settings, workdir, database_cpu[instance.label])
                    getattr(row, instance.label).append(sample)
    return rows


def measure_once(
    wrk: str,
    instance: Instance,
    endpoint: Endpoint,
    settings: Settings,
    workdir: Path,
    database_cpu_s: Callable[[], float],
) -> Sample:
    """Warm up, then one wrk run with the CPU time of workers and database read around it (the warm-up left out)."""
    url = instance.context.base_url
    if settings.warmup_s:
        run.run_wrk(wrk, url, endpoint, replace(settings, duration_s=settings.warmup_s, warmup_s=0), workdir)
    before, database_before = instance.workers_cpu_s(), database_cpu_s()
    result = run.run_wrk(wrk, url, endpoint, replace(settings, warmup_s=0), workdir)
    count = max(result.requests, 1)
    cpu_us = (instance.workers_cpu_s() - before) * 1e6 / count
    return Sample(result, cpu_us, (database_cpu_s() - database_before) * 1e6 / count)


def print_rows(rows: list[Row]) -> bool:
    """The table, each round's ratios, and PASS/FAIL per row; True when every row passes."""
    print("\nPostgreSQL against SQLite, medians over rounds; CPU µs per request: workers + database server")
    print(f"{'request':34} {'req/s SQLite':>12} {'PG':>7} {'ratio':>6} {'CPU SQLite':>10} {'PG':>11} {'ratio':>6}")
    passed = True
    for row in rows:
        lite = statistics.median(sample.wrk.requests_per_s for sample in row.sqlite)
        pg = statistics.median(sample.wrk.requests_per_s for sample in row.postgresql)
        cpu_lite = statistics.median(sample.cpu_us for sample in row.sqlite)
        cpu_pg = statistics.median(sample.cpu_us for sample in row.postgresql)
        cpu_server = statistics.median(sample.database_cpu_us for sample in row.postgresql)
        ratios = f"{statistics.median(row.ratios):6.2f} {cpu_lite:10.0f} {cpu_pg:5.0f} + {cpu_server:3.0f}"
        print(f"{row.name:34} {lite:12.1f} {pg:7.1f} {ratios} {statistics.median(row.cpu_ratios):6.2f}")
    print("\nrounds' req/s ratios (PostgreSQL/SQLite):")
    for row in rows:
        print(f"  {row.name:34} " + " ".join(f"{ratio:.2f}" for ratio in row.ratios))
    print()
    for row in rows:
        ratio = statistics.median(row.ratios)
        ok = ratio >= TARGET and not row.problems
        passed &= ok
        why = f" ({'; '.join(row.problems)})" if row.problems else ""
        print(f"{'PASS' if ok else 'FAIL'}  {row.name}: PostgreSQL/SQLite {ratio:.2f}, target >= {TARGET}{why}")
    return passed


def main(argv: list[str] | None = None) -> int:
    """Run it; 0 when every row meets the target, 1 when one does not, 2 when it could not run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each measuring both instances (default 5)")
    parser.add_argument("--duration", type=int, default=3, help="seconds per request, instance and round (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each (default 1)")
    parser.add_argument("--connections", type=int, default=16, help="open connections (default 16)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server and a database to connect to")
    parser.add_argument(
        "--no-commit-flush",
        action="store_true",
        help="PostgreSQL's synchronous_commit off: a commit does not wait for its WAL flush, as SQLite's doesn't",
    )
    args = parser.parse_args(argv)
    if min(args.rounds, args.duration, args.connections) < 1:
        parser.error("--rounds, --duration and --connections must be at least 1")
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed; run `bash bench/run.sh`, which installs it", file=sys.stderr)
        return 2
    for name in [name for name in os.environ if name.startswith("FLUXBASE_")]:
        del os.environ[name]
    settings = Settings(args.duration, args.warmup, args.connections, min(2, args.connections), args.rounds)
    options = "?options=-c%20synchronous_commit%3Doff" if args.no_commit_flush else ""
    rows = run.measured_or_exit_status(lambda: measure(settings, wrk, args.pg_url, options))
    if isinstance(rows, int):
        return rows
    return 0 if print_rows(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
