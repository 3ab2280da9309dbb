"""Big bundles: an invoke of a function whose bundle is megabytes costs what one of a few hundred bytes does.

A function bundled with its shared modules (or packages) runs its stored bundle. An
invoke reads the bundle's digest with the function's row, and the bundle itself only
when this node has no module file of that digest yet (`FunctionSpec.bundle_digest`).
Before, each invoke read the whole bundle and hashed it for the warm pool's key.

This script creates, on a fresh SQLite instance, two functions that import shared
modules: `small` (a module of a few bytes) and `big` (three modules of 900 KB each,
a bundle of about 2.7 MB), warms both, then times invokes through the whole Flask
stack (the test client) in alternating rounds. Target: a `big` invoke takes at most
1.1x a `small` one (median of the rounds' p50 ratios). Needs Deno's bundler (esbuild),
fetched from the npm registry on the first bundle.

    .venv/bin/python bench/bundle_invoke.py [--calls 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from functions_runtime import create_function, fresh_instance
from timing import timed

TARGET = 1.1
MODULE_BYTES = 900_000
SMALL = """import { word } from "_shared/word.ts";
async function handler(req) { return { status: 200, body: word }; }"""
BIG = """import { a } from "_shared/big/a.ts";
import { b } from "_shared/big/b.ts";
import { c } from "_shared/big/c.ts";
async function handler(req) { return { status: 200, body: String(a.length + b.length + c.length) }; }"""


def main(argv: list[str] | None = None) -> int:
    """Measure and print; 0 when the target passes, 1 when it fails, 2 when the benchmark could not run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="invokes of each function per round (300)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each timing both functions (5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fluxbase-bench-") as instance:
        app, client, headers = fresh_instance(instance)
        modules = {"_shared/word.ts": 'export const word = "small";'}
        modules |= {f"_shared/big/{name}.ts": f'export const {name} = "{name * MODULE_BYTES}";' for name in "abc"}
        for path, content in modules.items():
            answer = client.post(
                "/api/v1/functions/shared", json={"module_path": path, "content": content}, headers=headers
            )
            if answer.status_code != 201:
                print(f"could not create {path}: HTTP {answer.status_code} {answer.get_data(as_text=True)[:300]}")
                return 2
        create_function(client, headers, "small", SMALL)
        create_function(client, headers, "big", BIG)
        expected = {"small": b"small", "big": str(3 * MODULE_BYTES).encode()}

        def invoke(name: str) -> None:
            answer = client.post(f"/api/v1/functions/{name}/invoke", headers=headers)
            if answer.status_code != 200 or answer.data != expected[name]:
                raise SystemExit(f"{name}: HTTP {answer.status_code} {answer.get_data(as_text=True)[:300]}")

        ratios, p50s = [], {"small": [], "big": []}
        try:
            for number in range(1, args.rounds + 1):
                times = {name: timed(lambda name=name: invoke(name), args.calls, warmup=20) for name in p50s}
                for name, timing in times.items():
                    p50s[name].append(timing.p50_ms)
                ratios.append(times["big"].p50_ms / times["small"].p50_ms)
                print(f"round {number}/{args.rounds}: big/small {ratios[-1]:.2f}", flush=True)
        finally:
            runtime = app.extensions["functions"]["runtime"]
            if runtime is not None:
                runtime.close()
    ratio = statistics.median(ratios)
    print(f"{'function':<10}{'bundle':>12}{'p50 ms':>10}")
    print(f"{'small':<10}{'~200 B':>12}{statistics.median(p50s['small']):>10.3f}")
    print(f"{'big':<10}{'~2.7 MB':>12}{statistics.median(p50s['big']):>10.3f}")
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"big / small p50: {ratio:.2f} (target <= {TARGET}) {verdict}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
