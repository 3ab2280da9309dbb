"""Feature flags (issue 14): OFREP over HTTP against `/health`, and what a bulk evaluation costs in the server.

Targets, each measured in the same run as its reference:

- one OFREP evaluation (`POST /ofrep/v1/evaluate/flags/{key}`, a flag with three rules
  and a split, a service key) over HTTP: >= 0.5x the req/s of Fluxbase's own
  `/health`, both under gunicorn (2 sync workers) and wrk, alternating per round;
- a bulk evaluation of 100 flags for one context, in the server (the Flask app called
  in process, from the request to its JSON answer): p50 under 2 ms;
- the compiled flag sets kept per process (`plugins/flags/evaluator.py`) must earn their
  place: the bulk evaluation with them against recompiling every request, >= 10 % faster.

One flag's evaluation in process (< 5 µs) is `bench/flag_evaluation.py`'s. Exit status
0 when every target passes, 1 when one fails, 2 when it could not run.

    .venv/bin/python bench/flags.py [--rounds N] [--duration S]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import run
from run import BenchContext, BenchError, Endpoint, Settings
from timing import timed

FLAGS = 100
OFREP_TARGET, BULK_TARGET_MS, CACHE_GAIN = 0.5, 2.0, 0.10
CONTEXT = {"targetingKey": "user-42", "email": "ann@acme.com", "plan": "pro", "app": {"version": "2.3.1"}}


def flag(index: int) -> dict:
    """A string flag with three rules (text, membership, semver) and a split fallthrough."""
    return {
        "key": f"flag-{index:03d}",
        "type": "string",
        "variants": {"a": "A", "b": "B", "c": "C"},
        "default_variant": "a",
        "rules": [
            {"conditions": [{"attribute": "email", "operator": "ends_with", "value": "@globex.com"}], "variant": "b"},
            {"conditions": [{"attribute": "plan", "operator": "in", "value": ["enterprise", "gold"]}], "variant": "c"},
            {"conditions": [{"attribute": "app.version", "operator": "semver_lt", "value": "1.0.0"}], "variant": "b"},
        ],
        "rollout": [{"variant": "a", "weight": 50}, {"variant": "c", "weight": 50}],
    }


def populate(context: BenchContext) -> dict[str, str]:
    """100 flags through the API, and a service key that may evaluate them; returns the key's headers."""
    admin = run.admin_token(context)["headers"]
    for index in range(FLAGS):
        created = context.session.post(f"{context.base_url}/api/v1/admin/flags", json=flag(index), headers=admin)
        if created.status_code not in (201, 409):
            raise BenchError(f"could not create a flag: HTTP {created.status_code} {created.text[:200]}")
    body = {"name": "bench-flags", "scopes": ["flags:read"]}
    key = context.session.post(f"{context.base_url}/api/v1/admin/service-keys", json=body, headers=admin)
    if key.status_code != 201:
        raise BenchError(f"could not create the service key: HTTP {key.status_code} {key.text[:200]}")
    return {"X-Service-Key": key.json()["key"]}


def over_http(settings: Settings, wrk: str) -> tuple[list[float], list[float]]:
    """req/s of `/health` and of one OFREP evaluation, per round, on one Fluxbase under gunicorn."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fluxbase-bench-flags-")))
        instance = workdir / "instance"
        command = [str(run.VENV_BIN / "fluxbase"), "serve", "--instance", str(instance), "--host", run.HOST]
        command += ["--port", "{port}", "--workers", str(run.WORKERS), "--threads", "1", "--no-access-log"]
        server = stack.enter_context(run.running_server("fluxbase", command, workdir, "/health"))
        context = BenchContext(base_url=server.base_url, instance_path=instance, session=run.local_session())
        key = populate(context)
        health: Endpoint = {"name": "/health", "method": "GET", "path": "/health"}
        ofrep: Endpoint = {
            "name": "OFREP one flag",
            "method": "POST",
            "path": "/ofrep/v1/evaluate/flags/flag-042",
            "headers": {**key, "Content-Type": "application/json"},
            "body": json.dumps({"context": CONTEXT}),
        }
        prepared = [run.prepare(endpoint, context) for endpoint in (health, ofrep)]
        rates: list[list[float]] = [[], []]
        for round_number in range(settings.rounds):
            order = [0, 1] if round_number % 2 == 0 else [1, 0]
            for index in order:
                print(f"round {round_number + 1}/{settings.rounds}: {prepared[index]['name']}", flush=True)
                rates[index].append(
                    run.run_wrk(wrk, server.base_url, prepared[index], settings, workdir).requests_per_s
                )
        return rates[0], rates[1]


def in_server(calls: int) -> tuple[float, float]:
    """p50 ms of a bulk evaluation of 100 flags through the app in process: with the compiled sets, and without."""
    from flux import create_app
    from flux.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="fluxbase-bench-flags-") as folder:
        app = create_app({"INSTANCE_PATH": folder, "DATABASE_URL": "", "SECURITY_SETUP_TOKEN": run.SETUP_TOKEN})
        upgrade(app)
        client = app.test_client()
        setup = {"email": "bench-admin@example.com", "password": run.BENCH_PASSWORD, "setup_token": run.SETUP_TOKEN}
        token = client.post("/api/v1/admin/setup", json=setup).json["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        for index in range(FLAGS):
            client.post("/api/v1/admin/flags", json=flag(index), headers=admin)

        def bulk() -> None:
            response = client.post("/ofrep/v1/evaluate/flags", json={"context": CONTEXT}, headers=admin)
            if response.status_code != 200 or len(response.json["flags"]) < FLAGS:
                raise BenchError(f"bulk evaluation answered {response.status_code}")

        cache = app.extensions["flags"].compiled
        cached = timed(bulk, calls, warmup=20).p50_ms
        cache.get, cache.put = (lambda *_: None), (lambda *_: None)  # every request compiles again
        uncached = timed(bulk, calls, warmup=5).p50_ms
        return cached, uncached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="wrk rounds, alternating the two requests (default 4)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--calls", type=int, default=300, help="in-process bulk evaluations timed (default 300)")
    args = parser.parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed; run `bash bench/run.sh`, which installs it", file=sys.stderr)
        return 2
    settings = Settings(duration_s=args.duration, warmup_s=1, connections=16, threads=2, rounds=args.rounds)
    measured = run.measured_or_exit_status(lambda: (over_http(settings, wrk), in_server(args.calls)))
    if isinstance(measured, int):
        return measured
    (health, ofrep), (cached_ms, uncached_ms) = measured
    ratios = [flag_rate / health_rate for health_rate, flag_rate in zip(health, ofrep, strict=True)]
    ratio, gain = statistics.median(ratios), 1 - cached_ms / uncached_ms
    rows = [
        ("/health req/s (median)", f"{statistics.median(health):.0f}", ""),
        (
            "OFREP one flag req/s (median)",
            f"{statistics.median(ofrep):.0f}",
            f"ratio {ratio:.2f} (rounds {', '.join(f'{r:.2f}' for r in ratios)})",
        ),
        ("bulk 100 flags in server, p50 ms", f"{cached_ms:.2f}", f"target < {BULK_TARGET_MS}"),
        ("  the same, compiling every request", f"{uncached_ms:.2f}", f"compiled sets save {gain:.0%}"),
    ]
    for name, value, note in rows:
        print(f"{name:<40} {value:>10}  {note}")
    verdicts = [
        (ratio >= OFREP_TARGET, f"OFREP one flag >= {OFREP_TARGET}x /health: {ratio:.2f}"),
        (cached_ms < BULK_TARGET_MS, f"bulk of {FLAGS} flags < {BULK_TARGET_MS} ms in the server: {cached_ms:.2f} ms"),
        (gain >= CACHE_GAIN, f"compiled flag sets >= {CACHE_GAIN:.0%} faster than recompiling: {gain:.0%}"),
    ]
    for passed, text in verdicts:
        print(f"{'PASS' if passed else 'FAIL'}  {text}")
    return 0 if all(passed for passed, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
