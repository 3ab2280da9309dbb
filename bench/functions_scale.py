"""Functions at scale (issue 15): waiting, warm processes per node, and hello world against its baselines.

Issue 15 asks for a redesign of how invocations are carried; this script measures its
targets on whatever code is checked out, all in one run on one fresh instance, so the
ratios compare numbers taken minutes apart on the same machine:

1. **Waiting.** A function that awaits a 50 ms timer, loaded by wrk with 32 clients:
   req/s >= 0.8 x min(32 / 0.05 s, hello world's req/s in the same run, same clients).
   Meanwhile a light client asks `/health` every 20 ms: its p99 < 100 ms.
2. **One warm pool per node.** Eight distinct functions invoked until every gunicorn
   worker has served each of them (read off the process tree: a Deno worker names its
   function's module file on its command line): Deno processes on the node <= 8.
   Counted are the server's descendants and any process whose command line names the
   instance folder, so a future supervisor outside the process tree is counted too.
3. **Hello world over HTTP** >= 10x a fresh `deno run` per call
   (`functions_runtime.fresh_runner`), and >= 0.5x bare Flask + warm Deno
   (`bare_app.py`'s `POST /invoke`, served with the same gunicorn settings).

Rounds alternate the fresh baseline and the HTTP loads, as this VM's speed drifts from
minute to minute; a ratio's verdict is the median of the rounds' ratios, the `/health`
p99 is over every sample of every round. `--workers` and `--threads` go to
`fluxbase serve` (and to the bare baseline's gunicorn), so sync workers (threads 1) and
gthread (threads > 1) can be compared; `--serve-arg` passes anything else to `fluxbase
serve`. Exit status 0 when every target passes, 1 when one fails, 2 when it could not
run.

    .venv/bin/python bench/functions_scale.py [--workers 2] [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import functions_runtime
import requests
import run
from bare_app import HELLO, HELLO_CODE
from flask import Flask
from run import BenchContext, BenchError, Endpoint, Settings, WrkResult
from timing import Timings, timed

from plugins.functions.config import DEFAULTS as FUNCTIONS_DEFAULTS
from plugins.functions.runtime.deno import DenoRuntime

SLEEP_MS = 50
SLEEP_NAME = "bench-sleep"
SLEEP_CODE = (
    f"async function handler(req) {{ await new Promise(r => setTimeout(r, {SLEEP_MS})); return {{ status: 200, "
    f'headers: {{"Content-Type": "application/json"}}, body: JSON.stringify({{ slept: {SLEEP_MS} }}) }} }}'
)
DISTINCT_FUNCTIONS = 8  # hello, sleep and this many minus two variants of hello
THROUGHPUT_TARGET, HEALTH_P99_TARGET_MS, FRESH_TARGET, BARE_TARGET = 0.8, 100.0, 10.0, 0.5
PROBE_EVERY_S = 0.02
SPREAD_CALLS, SPREAD_CONCURRENCY, SPREAD_BATCHES = 20, 4, 5


@dataclass
class Probe:
    """`/health` latencies seen by one light client: each request sent when the previous answered and 20 ms passed.

    A closed-loop client that waits 400 ms for one answer skips the 20 requests it
    meant to send meanwhile, which hides most of a stall from `sent_ms` (coordinated
    omission); `due_ms` adds, for each slow answer, the latencies those skipped requests
    would have seen (400, 380, 360 ... ms), as HdrHistogram's expected-interval
    correction does.
    """

    sent_ms: list[float] = field(default_factory=list)
    due_ms: list[float] = field(default_factory=list)
    failures: int = 0


@contextmanager
def probing(base_url: str, probe: Probe) -> Iterator[None]:
    """Ask `/health` every 20 ms on a thread of this process until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        session = run.local_session()
        every_ms = PROBE_EVERY_S * 1000
        while not stop.is_set():
            sent = time.perf_counter()
            try:
                ok = session.get(base_url + "/health", timeout=run.REQUEST_TIMEOUT_S).status_code == 200
            except requests.RequestException:
                ok = False
            took_ms = (time.perf_counter() - sent) * 1000
            if not ok:
                probe.failures += 1
            probe.sent_ms.append(took_ms)
            probe.due_ms += [took_ms - skipped * every_ms for skipped in range(max(1, int(took_ms // every_ms)))]
            stop.wait(max(0.0, PROBE_EVERY_S - took_ms / 1000))

    thread = threading.Thread(target=loop, name="health-probe", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=run.REQUEST_TIMEOUT_S + 1)


def percentile(samples: list[float], percent: int) -> float:
    """The `percent`-th percentile, interpolated (as `timing.Timings` does for its samples)."""
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


# --- the node's Deno processes -------------------------------------------------------


@dataclass
class DenoProcess:
    """One Deno process on the node: who it belongs to, and which module it runs (its function's code)."""

    pid: int
    owner: str  # "worker <pid>" (the gunicorn worker it descends from), "server" or "outside the server"
    module: str | None
    rss_kb: int


def _processes() -> dict[int, tuple[int, list[str]]]:
    """Every readable process: pid -> (parent pid, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
        found[int(entry.name)] = (parent, [arg.decode(errors="replace") for arg in argv if arg])
    return found


def deno_processes(server_pid: int, instance: Path) -> list[DenoProcess]:
    """Deno processes descending from the server, or naming the instance folder anywhere on their command line.

    A process is Deno when its program is named `deno` (wrappers such as `setpriv` exec
    it, so they are not counted twice; a `bwrap` parent is not Deno). Its owner is the
    child of the gunicorn master it descends from, which tells which worker spawned it.
    """
    table = _processes()
    folder = str(instance)
    counted = []
    for pid, (_, argv) in table.items():
        if not argv or Path(argv[0]).name != "deno":
            continue
        chain, parent = [pid], table[pid][0]
        while parent in table and parent not in chain:
            chain.append(parent)
            parent = table[parent][0]
        if server_pid in chain:
            below = chain[chain.index(server_pid) - 1] if chain.index(server_pid) > 0 else None
            owner = f"worker {below}" if below is not None and below != pid else "server"
        elif any(folder in arg for arg in argv):
            owner = "outside the server"
        else:
            continue
        module = next((arg.rpartition("/")[2] for part in argv for arg in part.split(",") if "/modules/" in arg), None)
        try:
            rss_kb = functions_runtime.memory_kb(pid)[0]
        except (OSError, StopIteration):
            rss_kb = 0
        counted.append(DenoProcess(pid, owner, module, rss_kb))
    return counted


def gunicorn_workers(server_pid: int) -> list[int]:
    """The gunicorn master's children: its workers (and anything else it started)."""
    return [pid for pid, (parent, _) in _processes().items() if parent == server_pid]


# --- the instance --------------------------------------------------------------------


def create_function(context: BenchContext, headers: dict[str, str], name: str, code: str) -> str:
    """Created through the API (type-checked with Deno, as a user's would be); returns its invoke path."""
    response = context.session.post(
        context.base_url + "/api/v1/functions", json={"name": name, "code": code}, headers=headers, timeout=60
    )
    if response.status_code not in (201, 409):
        raise BenchError(f"could not create {name}: HTTP {response.status_code} {response.text[:200]}")
    return f"/api/v1/functions/{name}/invoke"


def invoke_until_spread(
    context: BenchContext, endpoint: Endpoint, paths: list[str], server_pid: int, workers: int
) -> tuple[int, bool]:
    """Invoke every function in batches (20 calls each, 4 at a time) until each gunicorn worker has served each.

    Responses name no worker, so "served" is read off the process tree: a worker that
    served a function holds a warm Deno process running its module. Stops after 5
    batches even when the tree cannot tell (say, every Deno process lives under a
    supervisor); returns the calls made per function and whether the spread was seen.
    """
    local = threading.local()

    def call(path: str) -> None:
        if not hasattr(local, "session"):
            local.session = run.local_session()
        response = local.session.post(
            context.base_url + path, data=endpoint["body"], headers=endpoint["headers"], timeout=30
        )
        if response.status_code != 200:
            raise BenchError(f"{path}: HTTP {response.status_code} {response.text[:200]}")

    calls = 0
    with ThreadPoolExecutor(max_workers=SPREAD_CONCURRENCY) as executor:
        for _ in range(SPREAD_BATCHES):
            list(executor.map(call, [path for path in paths for _ in range(SPREAD_CALLS)]))
            calls += SPREAD_CALLS
            served: dict[str, set[str]] = {}
            for process in deno_processes(server_pid, context.instance_path):
                served.setdefault(process.owner, set()).add(process.module or "?")
            spread = [owner for owner, modules in served.items() if len(modules) >= len(paths)]
            if len(spread) >= workers:
                return calls, True
    return calls, False


def fresh_call(folder: Path) -> Callable[[], None]:
    """`functions_runtime`'s fresh `deno run` per call of hello world, with a runtime of its own in `folder`."""
    app = Flask(__name__, instance_path=str(folder))
    app.config.update(FUNCTIONS_DEFAULTS)
    runtime = DenoRuntime(app)
    runtime.close()  # only its command line and module files are used: no warm worker
    return functions_runtime.fresh_runner(runtime, HELLO, folder)


# --- the run -------------------------------------------------------------------------


@dataclass
class Round:
    """One round: the fresh baseline, then wrk on bare + warm Deno, hello world, and the 50 ms function."""

    fresh: Timings
    bare_invoke: WrkResult
    hello: WrkResult
    sleep: WrkResult
    clients: int

    @property
    def ceiling(self) -> float:
        """The 50 ms function's most: each client waiting 50 ms a call, or hello world's req/s if lower."""
        return min(self.clients / (SLEEP_MS / 1000), self.hello.requests_per_s)


@dataclass
class Outcome:
    """Everything measured, for the report."""

    rounds: list[Round]
    probe: Probe
    idle_probe: Probe
    spread_calls: int
    spread_seen: bool
    processes: list[DenoProcess]
    processes_after: list[DenoProcess]
    workers: list[int]
    problems: list[str]


def measure(args: argparse.Namespace, wrk: str) -> Outcome:
    """Start Fluxbase and the bare baseline, count Deno processes after the spread, then the rounds of load."""
    settings = Settings(args.duration, args.warmup, args.connections, min(2, args.connections), 1)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fluxbase-scale-")))
        instance = workdir / "instance"
        gunicorn = ["--workers", str(args.workers), "--threads", str(args.threads)]
        flux_command = [str(run.VENV_BIN / "fluxbase"), "serve", "--instance", str(instance), "--host", run.HOST]
        flux_command += ["--port", "{port}", *gunicorn, "--no-access-log", *args.serve_arg]
        bare_command = [str(run.VENV_BIN / "gunicorn"), "-w", str(args.workers), "-k", "sync"]
        bare_command += ["--threads", str(args.threads), "-b", f"{run.HOST}:{{port}}", "bench.bare_app:app"]
        print(f"starting fluxbase and the baseline ({' '.join(gunicorn + args.serve_arg)}) in {workdir}", flush=True)
        flux = stack.enter_context(run.running_server("fluxbase", flux_command, workdir, "/health"))
        bare = stack.enter_context(run.running_server("baseline", bare_command, workdir, "/health"))
        context = BenchContext(base_url=flux.base_url, instance_path=instance, session=run.local_session())
        bare_context = BenchContext(base_url=bare.base_url, instance_path=workdir, session=context.session)

        print("creating the functions through the API (each is type-checked)", flush=True)
        hello = run.prepare(functions_runtime.ENDPOINT, context)  # creates hello world, checks it answers
        bare_invoke = run.prepare(functions_runtime.BARE_INVOKE, bare_context)
        admin = run.admin_token(context)["headers"]
        sleep: Endpoint = {
            **hello,
            "name": f"{SLEEP_NAME} invoke",
            "path": create_function(context, admin, SLEEP_NAME, SLEEP_CODE),
        }
        paths = [hello["path"], sleep["path"]]
        for index in range(DISTINCT_FUNCTIONS - 2):
            paths.append(create_function(context, admin, f"bench-scale-{index}", f"{HELLO_CODE}\n// scale {index}\n"))

        print(f"invoking {len(paths)} functions until each of {args.workers} workers has served each", flush=True)
        spread_calls, spread_seen = invoke_until_spread(context, hello, paths, flux.process.pid, args.workers)
        processes = deno_processes(flux.process.pid, instance)
        workers = gunicorn_workers(flux.process.pid)

        idle_probe = Probe()
        with probing(flux.base_url, idle_probe):
            time.sleep(min(args.duration, 3))
        probe = Probe()
        fresh = fresh_call(workdir / "fresh")
        rounds = []
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds}: fresh `deno run`, bare + warm Deno, hello, {SLEEP_NAME}", flush=True)
            fresh_timings = timed(fresh, args.fresh_calls, warmup=2, parallel=args.workers)
            bare_result = run.run_wrk(wrk, bare.base_url, bare_invoke, settings, workdir)
            hello_result = run.run_wrk(wrk, flux.base_url, hello, settings, workdir)
            if settings.warmup_s:  # warm-up outside the probe: only the measured load counts
                warm = Settings(settings.warmup_s, 0, settings.connections, settings.threads, 1)
                run.run_wrk(wrk, flux.base_url, sleep, warm, workdir)
            with probing(flux.base_url, probe):
                no_warmup = Settings(settings.duration_s, 0, settings.connections, settings.threads, 1)
                sleep_result = run.run_wrk(wrk, flux.base_url, sleep, no_warmup, workdir)
            rounds.append(Round(fresh_timings, bare_result, hello_result, sleep_result, args.connections))
            for server in (flux, bare):
                if server.process.poll() is not None:
                    raise BenchError(f"{server.name} died during the run:\n{server.log_tail()}")
        processes_after = deno_processes(flux.process.pid, instance)
    problems = []
    for label, pick in (("bare + warm Deno", "bare_invoke"), ("hello", "hello"), (SLEEP_NAME, "sleep")):
        results: list[WrkResult] = [getattr(r, pick) for r in rounds]
        non_2xx = sum(result.non_2xx for result in results)
        errors = sum(sum(result.socket_errors.values()) for result in results)
        if non_2xx or errors:
            problems.append(f"{label}: {non_2xx} non-2xx, {errors} socket errors")
    if probe.failures:
        problems.append(f"/health: {probe.failures} failed probes under load")
    return Outcome(rounds, probe, idle_probe, spread_calls, spread_seen, processes, processes_after, workers, problems)


def describe(processes: list[DenoProcess]) -> str:
    """How many Deno processes, by owner, with their distinct modules and total RSS."""
    owners: dict[str, list[DenoProcess]] = {}
    for process in processes:
        owners.setdefault(process.owner, []).append(process)
    parts = [
        f"{owner}: {len(group)} ({len({p.module for p in group})} modules)" for owner, group in sorted(owners.items())
    ]
    rss_mb = sum(process.rss_kb for process in processes) / 1024
    return f"{len(processes)} Deno processes, {rss_mb:.0f} MB RSS in all; " + ", ".join(parts)


def report(outcome: Outcome, args: argparse.Namespace) -> int:
    """The measurements, each round's ratios, then one PASS/FAIL line per target; 1 when one fails."""
    rounds = outcome.rounds

    def median(values: Iterator[float] | list[float]) -> float:
        return statistics.median(list(values))

    config = f"--workers {args.workers} --threads {args.threads} {' '.join(args.serve_arg)}".rstrip()
    print(
        f"\nFunctions at scale ({config}), {len(rounds)} rounds, wrk -c{args.connections} for {args.duration} s; ",
        end="",
    )
    print(f"load average {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(f"{'measured (medians of rounds)':<46} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    rows = [
        (
            f"fresh `deno run` per call, {args.workers} at a time",
            lambda r: (r.fresh.per_second, r.fresh.p50_ms, r.fresh.p99_ms),
        ),
        (
            "HTTP bare Flask + warm Deno",
            lambda r: (r.bare_invoke.requests_per_s, r.bare_invoke.p50_ms, r.bare_invoke.p99_ms),
        ),
        ("HTTP hello invoke", lambda r: (r.hello.requests_per_s, r.hello.p50_ms, r.hello.p99_ms)),
        (
            f"HTTP {SLEEP_NAME} invoke (awaits {SLEEP_MS} ms)",
            lambda r: (r.sleep.requests_per_s, r.sleep.p50_ms, r.sleep.p99_ms),
        ),
    ]
    for name, pick in rows:
        values = [pick(r) for r in rounds]
        print(f"{name:<46} " + " ".join(f"{median(v[i] for v in values):>{w}.2f}" for i, w in ((0, 9), (1, 8), (2, 8))))
    for label, probe in (("idle", outcome.idle_probe), (f"under the {SLEEP_NAME} load", outcome.probe)):
        print(
            f"/health every {PROBE_EVERY_S * 1000:.0f} ms, {label}: {len(probe.sent_ms)} requests, "
            f"p50 {percentile(probe.sent_ms, 50):.1f} ms, p99 {percentile(probe.sent_ms, 99):.1f} ms, "
            f"max {max(probe.sent_ms, default=float('nan')):.1f} ms; with the skipped ones "
            f"(coordinated omission): p50 {percentile(probe.due_ms, 50):.1f}, p99 {percentile(probe.due_ms, 99):.1f} ms"
        )
    print("\neach round: sleep / min(ceiling, hello); hello / fresh; hello / bare + warm Deno")
    for number, r in enumerate(rounds, 1):
        sleep_ratio = r.sleep.requests_per_s / r.ceiling
        vs_fresh = r.hello.requests_per_s / r.fresh.per_second
        vs_bare = r.hello.requests_per_s / r.bare_invoke.requests_per_s
        print(f"  round {number}: {sleep_ratio:.3f} (of {r.ceiling:.0f}/s); {vs_fresh:.1f}x; {vs_bare:.2f}x")

    seen = "seen in the process tree" if outcome.spread_seen else "NOT confirmed by the process tree"
    print(
        f"\nafter {DISTINCT_FUNCTIONS} functions x {outcome.spread_calls} calls, {SPREAD_CONCURRENCY} at a time "
        f"(every worker served every function: {seen}); gunicorn master's children: {len(outcome.workers)}"
    )
    print(f"  {describe(outcome.processes)}")
    print(f"  after the loads as well: {describe(outcome.processes_after)}\n")

    deno_count = len(outcome.processes)
    targets = [
        (
            f"{SLEEP_NAME} req/s vs min({args.connections}/{SLEEP_MS / 1000} s, hello req/s)",
            median(r.sleep.requests_per_s / r.ceiling for r in rounds),
            f">= {THROUGHPUT_TARGET}",
            lambda value: value >= THROUGHPUT_TARGET,
        ),
        (
            f"/health p99 ms under the {SLEEP_NAME} load",
            percentile(outcome.probe.sent_ms, 99),
            f"< {HEALTH_P99_TARGET_MS:.0f}",
            lambda value: value < HEALTH_P99_TARGET_MS,
        ),
        (
            f"Deno processes after {DISTINCT_FUNCTIONS} functions on every worker",
            float(deno_count),
            f"<= {DISTINCT_FUNCTIONS}",
            lambda value: value <= DISTINCT_FUNCTIONS,
        ),
        (
            "hello invoke vs fresh `deno run`",
            median(r.hello.requests_per_s / r.fresh.per_second for r in rounds),
            f">= {FRESH_TARGET}x",
            lambda value: value >= FRESH_TARGET,
        ),
        (
            "hello invoke vs bare Flask + warm Deno",
            median(r.hello.requests_per_s / r.bare_invoke.requests_per_s for r in rounds),
            f">= {BARE_TARGET}x",
            lambda value: value >= BARE_TARGET,
        ),
    ]
    failed = bool(outcome.problems)
    for problem in outcome.problems:
        print(f"problem: {problem}")
    for name, value, target, meets in targets:
        verdict = "PASS" if meets(value) and not outcome.problems else "FAIL"
        failed |= verdict == "FAIL"
        print(f"{verdict}  {name}: {value:.4g}, target {target}")
    return 1 if failed else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Flags; the defaults take about 2 minutes, `--quick` about 40 s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, for both servers (2)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker: 1 is sync, more is gthread (1)")
    parser.add_argument(
        "--serve-arg", action="append", default=[], metavar="ARG", help="passed on to `fluxbase serve` (repeatable)"
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk's clients for every load (32)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk load per round (10)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each (1)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of fresh baseline + HTTP loads (3)")
    parser.add_argument("--fresh-calls", type=int, default=30, help="fresh `deno run` calls per round (30)")
    parser.add_argument("--quick", action="store_true", help="1 round, 5 s loads, 12 fresh calls (about 40 s)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.fresh_calls = 1, 5, 12
    if min(args.workers, args.threads, args.connections, args.duration, args.rounds, args.fresh_calls) < 1:
        parser.error("--workers, --threads, --connections, --duration, --rounds and --fresh-calls must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run it; 0 when every target passes, 1 when one fails, 2 when it could not run."""
    args = parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed; run `bash bench/run.sh`, which installs it", file=sys.stderr)
        return 2
    for name in [name for name in os.environ if name.startswith("FLUXBASE_")]:
        del os.environ[name]  # the fresh runtime of this process stays in the temporary folder, as the servers do
    outcome = run.measured_or_exit_status(lambda: measure(args, wrk))
    if isinstance(outcome, int):
        return outcome
    return report(outcome, args)


if __name__ == "__main__":
    sys.exit(main())
