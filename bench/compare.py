"""Compare two checkouts side by side: `bench/run.py` of each, rounds alternating, ratios against ratios.

A change's cost is judged by the ratio (endpoint req/s over the bare Flask baseline of
the same run), measured for both checkouts in the same minutes, alternating so that
the machine's drift falls on both alike:

    .venv/bin/python bench/compare.py --before ../before-checkout [--rounds 3] [--duration 5]

The other checkout needs its own `.venv` (`bash bench/run.sh` there installs it). Exit
status 1 when an endpoint's median ratio fell by more than `--tolerance` (10 %).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def run_once(checkout: Path, output: Path, duration: int, only: list[str]) -> dict[str, float]:
    """One round of `bench/run.py` in `checkout`; ratio by endpoint name."""
    command = [
        str(checkout / ".venv" / "bin" / "python"),
        str(checkout / "bench" / "run.py"),
        "--rounds",
        "1",
        "--duration",
        str(duration),
        "--output",
        str(output),
        *(argument for name in only for argument in ("--only", name)),
    ]
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=False)
    if done.returncode == 2 or not output.exists():
        raise SystemExit(f"bench/run.py failed in {checkout}:\n{done.stdout}\n{done.stderr}")
    return {row["name"]: row["ratio"] for row in json.loads(output.read_text())["endpoints"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (with its own .venv)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per endpoint and round")
    parser.add_argument("--tolerance", type=float, default=0.10, help="largest accepted fall of a ratio")
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    args = parser.parse_args()
    before: dict[str, list[float]] = {}
    after: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(args.rounds):
            for label, checkout, sink in (("before", args.before, before), ("after", HERE, after)):
                print(f"round {index + 1}/{args.rounds}: {label} ({checkout})", flush=True)
                ratios = run_once(checkout.resolve(), Path(scratch) / f"{label}-{index}.json", args.duration, args.only)
                for name, ratio in ratios.items():
                    sink.setdefault(name, []).append(ratio)
    print(f"\n{'endpoint':60} {'before':>8} {'after':>8} {'change':>8}")
    failed = False
    for name in after:
        if name not in before or name.startswith("baseline"):
            continue
        old, new = statistics.median(before[name]), statistics.median(after[name])
        change = new / old - 1
        failed |= change < -args.tolerance
        print(f"{name:60} {old:8.3f} {new:8.3f} {change:+8.1%}")
    print(f"\n{'FAIL' if failed else 'PASS'}: no ratio may fall by more than {args.tolerance:.0%}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
