"""Benchmark Fluxbase under gunicorn against a bare Flask baseline, with wrk.

Absolute req/s depend on the machine, so every endpoint is reported as a ratio to a
bare Flask app served with the same gunicorn settings in the same run; targets are
set on that ratio. Run it through `bash bench/run.sh` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict, TypeVar

import requests
from bare_app import HELLO_CODE

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "latest.json"

# The only address this harness ever talks to.
HOST = "127.0.0.1"
WORKERS = 2

# Upper bounds on each step, so a run always ends.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
WRK_SLACK_S = 30.0
REQUEST_TIMEOUT_S = 5.0


@dataclass
class BenchContext:
    """What a setup callable may use: the running server and its instance folder."""

    base_url: str
    instance_path: Path
    session: requests.Session


class Overrides(TypedDict, total=False):
    """What a setup callable may return to change how its endpoint is requested."""

    path: str
    headers: dict[str, str]
    body: str


class Endpoint(TypedDict):
    """One benchmarked request. `min_ratio` makes it a target: req/s / baseline req/s."""

    name: str
    method: str
    path: str
    headers: NotRequired[dict[str, str]]
    body: NotRequired[str]
    # Runs once before the endpoint is measured (create a record, log in, ...).
    setup: NotRequired[Callable[[BenchContext], Overrides | None]]
    min_ratio: NotRequired[float]
    # "baseline" to request bench/bare_app.py instead of Fluxbase.
    server: NotRequired[str]
    # Lua appended to wrk's script, e.g. a `request()` that varies a header per request.
    lua: NotRequired[str]


SETUP_TOKEN = "bench-setup-token-0123456789abcdef"
BENCH_PASSWORD = "Bench-password-123"  # the default password policy wants an uppercase letter and a number


def _bearer(response: requests.Response) -> Overrides:
    if response.status_code not in (200, 201):
        raise BenchError(f"could not sign in for the benchmark: HTTP {response.status_code} {response.text[:200]}")
    return {"headers": {"Authorization": f"Bearer {response.json()['access_token']}"}}


def admin_token(context: BenchContext) -> Overrides:
    """The first instance admin, created through the setup endpoint (or signed in again)."""
    credentials = {"email": "bench-admin@example.com", "password": BENCH_PASSWORD}
    url = context.base_url + "/api/v1/admin"
    created = context.session.post(f"{url}/setup", json={**credentials, "setup_token": SETUP_TOKEN}, timeout=30)
    if created.status_code == 409:
        created = context.session.post(f"{url}/login", json=credentials, timeout=30)
    return _bearer(created)


def user_token(context: BenchContext) -> Overrides:
    """An app user of the default tenant, signed up for the run."""
    credentials = {"email": "bench-user@example.com", "password": BENCH_PASSWORD}
    url = context.base_url + "/api/v1/auth"
    created = context.session.post(f"{url}/signup", json=credentials, timeout=30)
    if created.status_code == 409:
        created = context.session.post(f"{url}/signin", json=credentials, timeout=30)
    return _bearer(created)


def user_with_system_default(context: BenchContext) -> Overrides:
    """A system setting created by the admin, read by a user who has not set it (the fallback path)."""
    created = context.session.post(
        context.base_url + "/api/v1/admin/settings/custom",
        json={"key": "bench/theme", "value": {"mode": "dark"}},
        headers=admin_token(context)["headers"],
        timeout=30,
    )
    if created.status_code not in (201, 409):
        raise BenchError(f"could not create the system setting: HTTP {created.status_code} {created.text[:200]}")
    return user_token(context)


HELLO_NAME = "bench-hello"
HELLO_BODY = '{"name": "Bench"}'


def hello_function(context: BenchContext) -> Overrides:
    """The hello-world function, created through the API by the admin, who then invokes it with a JSON body.

    Creating it type-checks the code with Deno (a second or two), which is why it is
    done here and not timed; the first invoke then starts a warm worker per gunicorn
    worker, which the check before measuring and wrk's warm-up absorb.
    """
    headers = admin_token(context)["headers"]
    created = context.session.post(
        context.base_url + "/api/v1/functions",
        json={"name": HELLO_NAME, "code": HELLO_CODE},
        headers=headers,
        timeout=60,
    )
    if created.status_code not in (201, 409):
        raise BenchError(f"could not create the function: HTTP {created.status_code} {created.text[:200]}")
    headers = {**headers, "Content-Type": "application/json"}
    return {"path": f"/api/v1/functions/{HELLO_NAME}/invoke", "headers": headers, "body": HELLO_BODY}


# The baseline, served by bench/bare_app.py.
BASELINE: Endpoint = {"name": "baseline /health (bare Flask)", "method": "GET", "path": "/health"}

# Add new endpoints here; see bench/README.md.
ENDPOINTS: list[Endpoint] = [
    {"name": "/health", "method": "GET", "path": "/health", "min_ratio": 0.7},
    {"name": "/api/v1/admin/plugins (admin)", "method": "GET", "path": "/api/v1/admin/plugins", "setup": admin_token},
    {
        "name": "/api/v1/auth/user (JWT)",
        "method": "GET",
        "path": "/api/v1/auth/user",
        "setup": user_token,
        "min_ratio": 0.5,
    },
    {
        "name": "/api/v1/settings/user/<key> (system fallback)",
        "method": "GET",
        "path": "/api/v1/settings/user/bench/theme",
        "setup": user_with_system_default,
        "min_ratio": 0.5,
    },
    {
        "name": "/api/v1/functions/<name>/invoke (hello world)",
        "method": "POST",
        "path": f"/api/v1/functions/{HELLO_NAME}/invoke",
        "setup": hello_function,
        "min_ratio": 0.5,
    },
    # No target: what the invoke above would reach with nothing of Fluxbase around the Deno round trip.
    {
        "name": "baseline POST /invoke (bare Flask + warm Deno)",
        "server": "baseline",
        "method": "POST",
        "path": "/invoke",
        "headers": {"Content-Type": "application/json"},
        "body": HELLO_BODY,
    },
]


@dataclass
class Settings:
    """Load settings of one run, recorded in the results so runs can be compared."""

    duration_s: int
    warmup_s: int
    connections: int
    threads: int
    rounds: int


@dataclass
class WrkResult:
    """What one wrk run measured."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)


@dataclass
class Measurement:
    """One endpoint over all rounds: medians, plus each round for the record."""

    name: str
    method: str
    path: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    ratio: float | None = None
    min_ratio: float | None = None
    passed: bool | None = None
    problems: list[str] = field(default_factory=list)
    rounds: list[WrkResult] = field(default_factory=list)


class BenchError(RuntimeError):
    """The harness could not measure (server did not start, wrk failed); exit code 2."""


# --- processes ---------------------------------------------------------------------


def free_port() -> int:
    """A port the kernel reports free on 127.0.0.1, so parallel runs do not collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def child_environment(runtime_dir: Path) -> dict[str, str]:
    """The environment for a server: no FLUXBASE_* settings from the caller, own runtime dir.

    A caller's FLUXBASE_DATABASE_URL would point the benchmark (and its migrations) at a
    real database; and gunicorn puts its control socket in $XDG_RUNTIME_DIR, which
    would otherwise be shared with any other gunicorn of the same user.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLUXBASE_")}
    env["FLUXBASE_SECURITY_SETUP_TOKEN"] = SETUP_TOKEN
    env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    env["BENCH_SERVER_DIR"] = str(runtime_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Server:
    """A server process group this harness started, and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's output, to explain a failure."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def stop_server(server: Server) -> None:
    """Stop the process group we started (gunicorn master and workers): TERM, then KILL.

    The group id is the master's pid because it was started in a new session, so
    nothing outside what this harness started is signalled.
    """
    process = server.process
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
    # Workers can outlive a master killed hard; they share its group.
    _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def running_server(name: str, command: list[str], workdir: Path, health_path: str) -> Iterator[Server]:
    """Start a server on a free port, wait until it answers, and always stop it afterwards."""
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    runtime_dir = workdir / f"{_slug(name)}-runtime"
    runtime_dir.mkdir(mode=0o700)
    log_path = workdir / f"{_slug(name)}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=child_environment(runtime_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name=name, process=process, port=port, log_path=log_path)
    try:
        wait_until_healthy(server, health_path)
        yield server
    finally:
        stop_server(server)


def wait_until_healthy(server: Server, path: str) -> None:
    """Poll until the server answers 200 on `path`; gunicorn binds before workers are ready."""
    deadline = time.monotonic() + START_TIMEOUT_S
    session = local_session()
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            response = session.get(server.base_url + path, timeout=REQUEST_TIMEOUT_S)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}: {response.text[:200]}"
        except requests.RequestException as error:
            last_error = str(error)
        time.sleep(0.2)
    waited = f"{START_TIMEOUT_S:.0f}s"
    raise BenchError(f"{server.name} did not answer {path} in {waited} ({last_error}):\n{server.log_tail()}")


def local_session() -> requests.Session:
    """A session that ignores HTTP(S)_PROXY from the environment: requests stay on 127.0.0.1."""
    session = requests.Session()
    session.trust_env = False
    return session


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "endpoint"


# --- wrk -----------------------------------------------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m|h)"


def parse_wrk_output(text: str) -> WrkResult:
    """Requests/s, p50 and p99 (ms) and error counts from `wrk --latency` output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    p50 = re.search(rf"^\s+50(?:\.0+)?%\s+{_DURATION}", text, re.MULTILINE)
    p99 = re.search(rf"^\s+99(?:\.0+)?%\s+{_DURATION}", text, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", text, re.MULTILINE)
    if not (rps and p50 and p99 and total):
        raise BenchError(f"could not parse wrk output:\n{text}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = {}
    if errors:
        socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True))
    return WrkResult(
        requests_per_s=float(rps.group(1)),
        p50_ms=float(p50.group(1)) * _UNIT_MS[p50.group(2)],
        p99_ms=float(p99.group(1)) * _UNIT_MS[p99.group(2)],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors={kind: count for kind, count in socket_errors.items() if count},
    )


def lua_string(text: str) -> str:
    """`text` as a Lua string literal of decimal escapes: safe for any bytes."""
    return '"' + "".join(f"\\{byte}" for byte in text.encode()) + '"'


def wrk_command(
    wrk: str, url: str, request: Endpoint, settings: Settings, duration_s: int, script: Path | None
) -> list[str]:
    """The wrk command line for one run; a Lua script carries method and body when needed."""
    if not url.startswith(f"http://{HOST}:"):
        raise BenchError(f"refusing to load anything but {HOST}: {url}")
    command = [wrk, f"-t{settings.threads}", f"-c{settings.connections}", f"-d{duration_s}s", "--latency"]
    command += ["--timeout", "5s"]
    for name, value in request.get("headers", {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    return [*command, url]


def write_wrk_script(request: Endpoint, workdir: Path) -> Path | None:
    """A Lua script setting method and body, then the endpoint's own Lua; None for a plain GET."""
    if request["method"].upper() == "GET" and "body" not in request and "lua" not in request:
        return None
    lines = [f"wrk.method = {lua_string(request['method'].upper())}"]
    if "body" in request:
        lines.append(f"wrk.body = {lua_string(request['body'])}")
    if "lua" in request:
        lines.append(request["lua"])
    script = workdir / f"{_slug(request['name'])}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


def run_wrk(wrk: str, base_url: str, request: Endpoint, settings: Settings, workdir: Path) -> WrkResult:
    """Warm up, then measure one endpoint once with wrk (bounded by a timeout)."""
    url = base_url + request["path"]
    script = write_wrk_script(request, workdir)
    if settings.warmup_s > 0:
        _wrk(wrk_command(wrk, url, request, settings, settings.warmup_s, script), settings.warmup_s)
    output = _wrk(wrk_command(wrk, url, request, settings, settings.duration_s, script), settings.duration_s)
    return parse_wrk_output(output)


def _wrk(command: list[str], duration_s: int) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + WRK_SLACK_S, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish in {duration_s + WRK_SLACK_S:.0f}s: {' '.join(command)}") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


# --- the run -------------------------------------------------------------------------


def prepare(endpoint: Endpoint, context: BenchContext) -> Endpoint:
    """Apply the endpoint's setup, then check it answers 2xx, so wrk never times errors."""
    prepared: Endpoint = {key: value for key, value in endpoint.items() if key != "setup"}  # type: ignore[assignment]
    setup = endpoint.get("setup")
    if setup is not None:
        overrides = setup(context) or {}
        if "headers" in overrides:
            prepared["headers"] = {**prepared.get("headers", {}), **overrides["headers"]}
        if "path" in overrides:
            prepared["path"] = overrides["path"]
        if "body" in overrides:
            prepared["body"] = overrides["body"]
    response = context.session.request(
        prepared["method"],
        context.base_url + prepared["path"],
        headers=prepared.get("headers"),
        data=prepared.get("body", "").encode() or None,
        timeout=REQUEST_TIMEOUT_S,
    )
    if not 200 <= response.status_code < 300:
        raise BenchError(f"{prepared['name']}: HTTP {response.status_code} before benchmarking: {response.text[:300]}")
    return prepared


def summarize(endpoint: Endpoint, results: list[WrkResult]) -> Measurement:
    """Medians over rounds, and what went wrong in any round."""
    problems = []
    non_2xx = sum(result.non_2xx for result in results)
    if non_2xx:
        problems.append(f"{non_2xx} non-2xx responses")
    errors: dict[str, int] = {}
    for result in results:
        for kind, count in result.socket_errors.items():
            errors[kind] = errors.get(kind, 0) + count
    if errors:
        problems.append("socket errors: " + ", ".join(f"{kind} {count}" for kind, count in errors.items()))
    return Measurement(
        name=endpoint["name"],
        method=endpoint["method"],
        path=endpoint["path"],
        requests_per_s=statistics.median(result.requests_per_s for result in results),
        p50_ms=statistics.median(result.p50_ms for result in results),
        p99_ms=statistics.median(result.p99_ms for result in results),
        min_ratio=endpoint.get("min_ratio"),
        problems=problems,
        rounds=results,
    )


def measure(settings: Settings, wrk: str, selected: list[Endpoint]) -> tuple[Measurement, list[Measurement], str]:
    """Start both servers, then in each round measure the baseline and every endpoint."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fluxbase-bench-")))
        instance = workdir / "instance"
        bind = f"{HOST}:{{port}}"
        flux_command = [str(VENV_BIN / "fluxbase"), "serve", "--instance", str(instance), "--host", HOST]
        flux_command += ["--port", "{port}", "--workers", str(WORKERS), "--threads", "1", "--no-access-log"]
        bare_command = [str(VENV_BIN / "gunicorn"), "-w", str(WORKERS), "-k", "sync", "--threads", "1", "-b", bind]
        bare_command.append("bench.bare_app:app")
        print(f"starting fluxbase and the baseline ({WORKERS} sync workers each) in {workdir}", flush=True)
        flux = stack.enter_context(running_server("fluxbase", flux_command, workdir, "/health"))
        bare = stack.enter_context(running_server("baseline", bare_command, workdir, BASELINE["path"]))
        session = local_session()
        version = session.get(flux.base_url + "/health", timeout=REQUEST_TIMEOUT_S).json().get("version", "?")
        servers = {"fluxbase": flux, "baseline": bare}
        contexts = {
            "fluxbase": BenchContext(base_url=flux.base_url, instance_path=instance, session=session),
            "baseline": BenchContext(base_url=bare.base_url, instance_path=workdir, session=session),
        }
        baseline = prepare(BASELINE, contexts["baseline"])
        prepared = [prepare(endpoint, contexts[endpoint.get("server", "fluxbase")]) for endpoint in selected]

        baseline_runs: list[WrkResult] = []
        endpoint_runs: list[list[WrkResult]] = [[] for _ in prepared]
        for round_number in range(1, settings.rounds + 1):
            print(f"round {round_number}/{settings.rounds}: {baseline['name']}", flush=True)
            baseline_runs.append(run_wrk(wrk, bare.base_url, baseline, settings, workdir))
            for runs, endpoint in zip(endpoint_runs, prepared, strict=True):
                print(f"round {round_number}/{settings.rounds}: {endpoint['name']}", flush=True)
                server = servers[endpoint.get("server", "fluxbase")]
                runs.append(run_wrk(wrk, server.base_url, endpoint, settings, workdir))
            for server in (flux, bare):
                if server.process.poll() is not None:
                    raise BenchError(f"{server.name} died during the run:\n{server.log_tail()}")

    base = summarize(baseline, baseline_runs)
    base.ratio = 1.0
    measured = [summarize(endpoint, runs) for endpoint, runs in zip(prepared, endpoint_runs, strict=True)]
    for item in measured:
        item.ratio = item.requests_per_s / base.requests_per_s if base.requests_per_s else 0.0
        if item.min_ratio is not None:
            item.passed = item.ratio >= item.min_ratio and not item.problems
    return base, measured, version


def print_table(base: Measurement, measured: list[Measurement]) -> None:
    """The results as a fixed-width table, then PASS/FAIL per target."""
    rows = [base, *measured]
    width = max(len("endpoint"), *(len(row.name) for row in rows))
    print()
    print(f"{'endpoint':<{width}}  {'req/s':>9}  {'p50 ms':>8}  {'p99 ms':>8}  {'ratio':>6}  notes")
    for row in rows:
        notes = "; ".join(row.problems)
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        line = f"{row.name:<{width}}  {row.requests_per_s:>9.1f}  {row.p50_ms:>8.2f}  {row.p99_ms:>8.2f}  {ratio:>6}"
        print(f"{line}  {notes}".rstrip())
    print()
    for row in measured:
        if row.min_ratio is not None:
            verdict = "PASS" if row.passed else "FAIL"
            why = f" ({'; '.join(row.problems)})" if row.problems else ""
            print(f"{verdict}  {row.name}: ratio {row.ratio:.2f}, target >= {row.min_ratio:.2f}{why}")


def write_results(path: Path, settings: Settings, version: str, base: Measurement, measured: list[Measurement]) -> None:
    """Save the run as JSON, so a later run (or CI) can compare against it."""
    targets = [row for row in measured if row.min_ratio is not None]
    document: dict[str, Any] = {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "fluxbase_version": version,
        "git_commit": _git_commit(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": asdict(settings) | {"workers": WORKERS, "worker_class": "sync"},
        "baseline": asdict(base),
        "endpoints": [asdict(row) for row in measured],
        "passed": all(row.passed for row in targets),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def _git_commit() -> str | None:
    try:
        command = ["git", "rev-parse", "--short", "HEAD"]
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def parse_args(argv: list[str] | None) -> tuple[Settings, argparse.Namespace]:
    """Command-line flags; `--quick` is a ~3 s measurement per endpoint for a fast check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per endpoint, 1 round (overrides both)")
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per endpoint and round (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each (default 1)")
    parser.add_argument("--connections", type=int, default=16, help="open connections (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported (default 3)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="only this endpoint (repeatable)")
    parser.add_argument("--output", type=Path, default=RESULTS_FILE, help=f"JSON results (default {RESULTS_FILE})")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 3, 1
    for flag in ("duration", "connections", "threads", "rounds"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    threads = min(args.threads, args.connections)  # wrk refuses more threads than connections
    settings = Settings(args.duration, args.warmup, args.connections, threads, args.rounds)
    return settings, args


def measured_or_exit_status(measuring: Callable[[], T]) -> T | int:
    """What `measuring` returns, or the exit status when it could not finish: 2 (BenchError) or 130 (Ctrl-C).

    A plain `kill` stops the servers as Ctrl-C does: the context managers that started
    them only run their cleanup when the exception unwinds through them.
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return measuring()
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every target passes, 1 when one fails, 2 when it could not run."""
    settings, args = parse_args(argv)
    selected = [endpoint for endpoint in ENDPOINTS if not args.only or endpoint["name"] in args.only]
    if not selected:
        print(f"no endpoint named {args.only}; known: {[endpoint['name'] for endpoint in ENDPOINTS]}", file=sys.stderr)
        return 2
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed; run `bash bench/run.sh`, which installs it", file=sys.stderr)
        return 2
    for tool in ("fluxbase", "gunicorn"):
        if not (VENV_BIN / tool).exists():
            print(f"{VENV_BIN / tool} is missing; run `bash bench/run.sh`, which installs it", file=sys.stderr)
            return 2
    outcome = measured_or_exit_status(lambda: measure(settings, wrk, selected))
    if isinstance(outcome, int):
        return outcome
    base, measured, version = outcome
    print_table(base, measured)
    write_results(args.output, settings, version, base, measured)
    print(f"\nresults written to {args.output}")
    return 0 if all(row.passed for row in measured if row.min_ratio is not None) else 1


if __name__ == "__main__":
    sys.exit(main())
