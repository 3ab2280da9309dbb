"""What warm Deno workers buy: the hello-world function, warm, against a fresh `deno run` per call.

The issue's targets for seed 003's hello world invoked over HTTP (gunicorn, 2 workers):
at least 0.5x the bare Flask baseline's req/s, and at least 10x a baseline that runs
the same handler in a fresh `deno run` per call, both measured in the same run. This
script prints, side by side, on this machine and in the same minute:

- the fresh baseline: a runner that imports the function's module, calls the handler
  once and prints the answer, under the worker's own sandbox flags, `WORKERS` at a time
  (as many as gunicorn has workers, so both sides may use as many CPUs);
- the warm path in-process: `DenoRuntime.invoke` alone, then the whole Flask request
  (authentication, secrets, execution record) through the test client;
- HTTP: bench/run.py's servers and the same endpoint as its table, measured with wrk
  for a short while, with the bare Flask baseline just before it, and bare Flask
  calling the same warm runtime with nothing else (the most an invoke could reach);
- cold start: the first invoke after creating a function (a worker spawns and loads);
- memory: RSS and PSS of each warm worker process.

The fresh baseline and the HTTP measurements alternate in rounds, each round within a
minute; a target is met when the median of the rounds' ratios meets it. The 10x target
compares HTTP req/s with the fresh baseline's calls/s of the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import run
from bare_app import HELLO_CODE
from flask import Flask
from flask.testing import FlaskClient
from timing import Timings, timed

from flux import create_app, migrate
from flux.tenancy import default_tenant_id, tenant_scope
from plugins.functions import invoke, store
from plugins.functions.runtime.base import SUCCESS, FunctionSpec, Invocation
from plugins.functions.runtime.deno import DenoRuntime
from plugins.functions.runtime.process import Target

HTTP_TARGET, FRESH_TARGET = 0.5, 10.0
ANSWER = {"message": "Hello Bench!"}
# What the handler sees in a warm worker, give or take the URL and headers.
REQUEST = {"method": "POST", "url": "http://127.0.0.1/invoke", "headers": {}, "body": run.HELLO_BODY, "params": {}}
INVOKE_PATH = f"/api/v1/functions/{run.HELLO_NAME}/invoke"
ENDPOINT = next(endpoint for endpoint in run.ENDPOINTS if endpoint.get("setup") is run.hello_function)
BARE_INVOKE = next(endpoint for endpoint in run.ENDPOINTS if endpoint.get("server") == "baseline")


def admin_headers(client: FlaskClient) -> dict[str, str]:
    """The first instance admin of a fresh instance, as a bearer header."""
    body = {"email": "bench@example.com", "password": run.BENCH_PASSWORD, "setup_token": run.SETUP_TOKEN}
    tokens = client.post("/api/v1/admin/setup", json=body).json
    return {"Authorization": f"Bearer {tokens['access_token']}", "Content-Type": "application/json"}


def fresh_instance(instance: str) -> tuple[Flask, FlaskClient, dict[str, str]]:
    """A migrated SQLite instance in the folder `instance`, its test client and its first admin's header."""
    app = create_app({"INSTANCE_PATH": instance, "SECURITY_SETUP_TOKEN": run.SETUP_TOKEN, "DATABASE_URL": ""})
    migrate.upgrade(app)
    client = app.test_client()
    return app, client, admin_headers(client)


def create_function(client: FlaskClient, headers: dict[str, str], name: str, code: str) -> None:
    """Created through the API, as a user would, so the code is type-checked and stored like theirs."""
    response = client.post("/api/v1/functions", json={"name": name, "code": code}, headers=headers)
    if response.status_code != 201:
        raise SystemExit(f"could not create {name}: HTTP {response.status_code} {response.get_data(as_text=True)}")


def checked_invoke(client: FlaskClient, headers: dict[str, str], path: str = INVOKE_PATH) -> None:
    """One invoke through the Flask stack; anything but the expected greeting stops the benchmark."""
    response = client.post(path, data=run.HELLO_BODY, headers=headers)
    if response.status_code != 200 or response.json != ANSWER:
        raise SystemExit(f"{path}: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}")


def fresh_runner(runtime: DenoRuntime, spec: FunctionSpec, folder: Path) -> Callable[[], None]:
    """One call in a fresh `deno run`: the worker's command line, with a one-shot runner as main module.

    The runner imports the same module file a warm worker imports, so both run the same
    handler under the same flags (permissions, V8 heap); only the worker's data limit
    (set through prlimit once V8 is up) is left out, as it needs the process running.
    """
    module = runtime.module_for(spec.code)
    runner = folder / "fresh-runner.ts"
    runner.write_text(
        f"import {{ __fluxbase_entry as handler }} from {json.dumps(module.as_uri())};\n"
        f"console.log(JSON.stringify(await handler({json.dumps(REQUEST)})));\n"
    )
    sandbox = runtime.client.settings.sandbox
    command = [*sandbox.command(Target.of(spec), module)[:-1], str(runner)]

    def call() -> None:
        done = subprocess.run(
            command, capture_output=True, text=True, env=sandbox.environment(), cwd=runtime.scratch, timeout=30
        )
        if done.returncode != 0 or json.loads(json.loads(done.stdout)["body"]) != ANSWER:
            raise SystemExit(f"the fresh runner failed ({done.returncode}): {done.stderr[-500:] or done.stdout}")

    return call


def warm_runtime_call(runtime: DenoRuntime, spec: FunctionSpec) -> Callable[[], None]:
    """One call through the runtime alone: no Flask, no database, only the pooled worker's pipe round trip."""
    invocation = Invocation(request=REQUEST)

    def call() -> None:
        outcome = runtime.invoke(spec, invocation)
        if outcome.status != SUCCESS:
            raise SystemExit(f"the warm invoke failed: {outcome.error}")

    return call


def cold_starts(client: FlaskClient, headers: dict[str, str], count: int) -> list[float]:
    """Milliseconds of each first invoke after create; each function's code differs, as real ones do."""
    took = []
    for index in range(count):
        name = f"bench-cold-{index}"
        create_function(client, headers, name, f"{HELLO_CODE}\n// cold start {index}\n")
        started = time.perf_counter()
        checked_invoke(client, headers, f"/api/v1/functions/{name}/invoke")
        took.append((time.perf_counter() - started) * 1000)
    return took


def memory_kb(pid: int) -> tuple[int, int | None]:
    """RSS of a process, and its PSS (its share of pages it shares, such as Deno's code) when readable."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return rss, None
    pss = next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), None)
    return rss, pss


@dataclass
class Round:
    """One round, measured within a minute: the fresh baseline, then bench/run.py's servers under wrk."""

    fresh: Timings
    base: run.Measurement
    http: run.Measurement
    bare_invoke: run.Measurement

    @property
    def ratios(self) -> tuple[float, float]:
        """HTTP invoke against the bare Flask baseline, and against the fresh baseline."""
        return self.http.requests_per_s / self.base.requests_per_s, self.http.requests_per_s / self.fresh.per_second


def measure_round(fresh_call: Callable[[], None], fresh_calls: int, duration_s: int) -> Round:
    """The fresh baseline, then bare Flask /health, the hello invoke and bare Flask + warm Deno (wrk)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise run.BenchError("wrk is not installed; run `bash bench/run.sh`, which installs it")
    fresh = timed(fresh_call, fresh_calls, warmup=2, parallel=run.WORKERS)
    settings = run.Settings(duration_s=duration_s, warmup_s=1, connections=16, threads=2, rounds=1)
    base, (http, bare_invoke) = run.measure(settings, wrk, [ENDPOINT, BARE_INVOKE])[:2]
    return Round(fresh, base, http, bare_invoke)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table; 0 when both targets pass, 1 when one fails, 2 when it could not run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh-calls", type=int, default=40, help="fresh `deno run` calls per round (40)")
    parser.add_argument("--warm-calls", type=int, default=2000, help="in-process warm invokes (2000)")
    parser.add_argument("--cold", type=int, default=5, help="functions created for the cold start (5)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk on each HTTP endpoint (5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of fresh baseline + HTTP (3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fluxbase-bench-") as instance:
        app, client, headers = fresh_instance(instance)
        create_function(client, headers, run.HELLO_NAME, HELLO_CODE)
        with app.app_context(), tenant_scope(default_tenant_id()):
            spec = store.spec_of(store.get(run.HELLO_NAME, None))
        runtime = invoke.runtime(app)
        assert isinstance(runtime, DenoRuntime), "this benchmark measures the Deno runtime"
        try:
            warm = timed(warm_runtime_call(runtime, spec), args.warm_calls, warmup=50)
            stack = timed(lambda: checked_invoke(client, headers), args.warm_calls // 4, warmup=20)
            cold = cold_starts(client, headers, args.cold)
            memory = [memory_kb(process["pid"]) for process in runtime.status()["processes"]]
        finally:
            runtime.close()
        fresh_call = fresh_runner(runtime, spec, Path(instance))
        try:
            rounds = []
            for number in range(1, args.rounds + 1):
                print(f"functions round {number}/{args.rounds}: fresh `deno run`, then HTTP", flush=True)
                rounds.append(measure_round(fresh_call, args.fresh_calls, args.duration))
        except run.BenchError as error:
            print(f"benchmark failed: {error}", file=sys.stderr)
            return 2
    return report(rounds, warm, stack, cold, memory)


def report(
    rounds: list[Round], warm: Timings, stack: Timings, cold: list[float], memory: list[tuple[int, int | None]]
) -> int:
    """The table (medians over rounds), each round's ratios, the targets as PASS/FAIL lines; 1 when one fails."""

    def median(values) -> float:
        return statistics.median(list(values))

    fresh_per_s = median(r.fresh.per_second for r in rounds)
    rows = [
        (
            f"fresh `deno run` per call, {run.WORKERS} at a time",
            fresh_per_s,
            median(r.fresh.p50_ms for r in rounds),
            median(r.fresh.p99_ms for r in rounds),
        ),
        ("warm DenoRuntime.invoke in-process, 1 at a time", warm.per_second, warm.p50_ms, warm.p99_ms),
        ("warm Flask test client in-process, 1 at a time", stack.per_second, stack.p50_ms, stack.p99_ms),
    ]
    for name, pick in (
        (f"HTTP bare Flask /health, {run.WORKERS} workers", lambda r: r.base),
        (f"HTTP bare Flask + warm Deno, {run.WORKERS} workers", lambda r: r.bare_invoke),
        (f"HTTP hello invoke, {run.WORKERS} workers", lambda r: r.http),
    ):
        measured = [pick(r) for r in rounds]
        rows.append(
            (
                name,
                median(m.requests_per_s for m in measured),
                median(m.p50_ms for m in measured),
                median(m.p99_ms for m in measured),
            )
        )
    print(f"\nFunctions: seed 003's hello world, medians of {len(rounds)} rounds; ", end="")
    print(f"load average {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(f"{'variant':<50} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x fresh':>8}")
    for name, per_second, p50, p99 in rows:
        print(f"{name:<50} {per_second:>9.1f} {p50:>8.2f} {p99:>8.2f} {per_second / fresh_per_s:>8.1f}")
    print("\neach round, HTTP invoke against: bare Flask /health (and bare Flask + warm Deno against it), fresh")
    for number, r in enumerate(rounds, 1):
        vs_base, vs_fresh = r.ratios
        ceiling = r.bare_invoke.requests_per_s / r.base.requests_per_s
        print(f"  round {number}: {vs_base:.2f}x ({ceiling:.2f}x), {vs_fresh:.1f}x")
    print(
        f"\ncold start (first invoke after create, {len(cold)} functions): median {statistics.median(cold):.1f} ms, ",
        end="",
    )
    print(f"min {min(cold):.1f}, max {max(cold):.1f}")
    rss = [kb / 1024 for kb, _ in memory]
    pss = [kb / 1024 for _, kb in memory if kb is not None]
    shown = f"RSS median {statistics.median(rss):.1f} MB" if rss else "no warm worker left"
    if pss:
        shown += f", PSS median {statistics.median(pss):.1f} MB"
    print(f"memory per warm worker ({len(rss)} workers): {shown}\n")
    problems = [problem for r in rounds for problem in r.http.problems]
    targets = [
        ("HTTP invoke vs bare Flask", median(r.ratios[0] for r in rounds), HTTP_TARGET),
        ("HTTP invoke vs fresh `deno run`", median(r.ratios[1] for r in rounds), FRESH_TARGET),
    ]
    failed = bool(problems)
    for name, ratio, target in targets:
        verdict = "PASS" if ratio >= target and not problems else "FAIL"
        failed |= verdict == "FAIL"
        why = f" ({'; '.join(problems)})" if problems else ""
        print(f"{verdict}  {name}: median {ratio:.2f}x, target >= {target}x{why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
