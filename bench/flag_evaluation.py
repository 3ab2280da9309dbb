"""What evaluating a feature flag costs in-process, against the cheapest possible answer.

The flags plugin evaluates on every OpenFeature request, many flags at once in bulk,
so `plugins.flags.evaluation` is held to targets: a flag with no rules well under
1 µs, a flag with three rules (equals, in, semver) and a rollout under 5 µs, on this
2-core machine. Timed, in the same run:

- the baseline: a function call that looks a constant up in a dict (the least any
  evaluation can cost: a call and a lookup);
- a flag with no rules (`STATIC`);
- three rules, the third matching and splitting (the worst path: every condition and a sha256);
- the same three rules, none matching (`DEFAULT`);
- `evaluate_all` over 100 flags for one context (a third each: no rules, three rules, disabled).

Each round times `--calls` calls in one loop per variant (a loop, not a clock per
call: a call is shorter than reading the clock); rounds alternate between the variants
so a drift in the machine's speed hits all alike; the table shows the medians. The
ratio is the variant's time per flag (the bulk call's over 100) over the baseline's.
Exit status 1 when a target fails.

    .venv/bin/python bench/flag_evaluation.py [--rounds N] [--calls N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from plugins.flags.definitions import FlagDefinition
from plugins.flags.evaluation import DEFAULT, SPLIT, STATIC, CompiledFlag, compile_flag, evaluate_all

CONTEXT = {
    "targetingKey": "user-8f3a2c",
    "email": "ada@example.com",
    "country": "DE",
    "plan": "team",
    "app": {"version": "2.4.1", "platform": "ios"},
}
THREE_RULES: dict[str, Any] = {
    "type": "string",
    "variants": {"control": "blue", "treatment": "green", "beta": "purple"},
    "default_variant": "control",
    "rules": [
        {"conditions": [{"attribute": "country", "operator": "equals", "value": "FR"}], "variant": "beta"},
        {
            "conditions": [{"attribute": "plan", "operator": "in", "value": ["enterprise", "internal"]}],
            "variant": "beta",
        },
        {
            "conditions": [{"attribute": "app.version", "operator": "semver_gte", "value": "2.0.0"}],
            "rollout": [{"variant": "treatment", "weight": 50}, {"variant": "control", "weight": 50}],
        },
    ],
}
TARGETS_US = {"no rules": 1.0, "3 rules, the third splits": 5.0, "3 rules, none match": 5.0, "100 flags (bulk)": 500.0}


def checked_flags() -> tuple[CompiledFlag, CompiledFlag, dict[str, Any]]:
    """The flag with no rules, the one with three, and a context none of the three matches."""
    no_rules = compile_flag(FlagDefinition(key="no-rules"), {})
    three = compile_flag(FlagDefinition.model_validate({"key": "three-rules", **THREE_RULES}), {})
    no_match = {**CONTEXT, "app": {"version": "1.9.0"}}
    reasons = (no_rules.evaluate(CONTEXT).reason, three.evaluate(CONTEXT).reason, three.evaluate(no_match).reason)
    if reasons != (STATIC, SPLIT, DEFAULT):
        raise SystemExit(f"the benchmark's flags take the wrong paths: {reasons}")
    return no_rules, three, no_match


def bulk_flags() -> list[CompiledFlag]:
    bodies: list[dict[str, Any]] = []
    for index in range(100):
        kind = index % 3
        if kind == 0:
            bodies.append({"key": f"flag-{index}"})
        elif kind == 1:
            bodies.append({"key": f"flag-{index}", **THREE_RULES})
        else:
            bodies.append({"key": f"flag-{index}", "enabled": False, **THREE_RULES})
    return [compile_flag(FlagDefinition.model_validate(body), {}) for body in bodies]


def loop_us(call: Callable[[], object], calls: int) -> float:
    """µs per call of `call`, timed over `calls` calls in one loop."""
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="rounds, alternating between variants (9)")
    parser.add_argument("--calls", type=int, default=100_000, help="calls per variant a round (100000)")
    args = parser.parse_args(argv)
    (no_rules, three, no_match), bulk = checked_flags(), bulk_flags()
    constants = {"no-rules": no_rules.evaluate(CONTEXT)}

    def baseline(context: dict[str, Any]) -> object:
        return constants["no-rules"]

    # name, call, calls a round, flags a call evaluates
    variants: list[tuple[str, Callable[[], object], int, int]] = [
        ("baseline (call + dict lookup)", lambda: baseline(CONTEXT), args.calls, 1),
        ("no rules", lambda: no_rules.evaluate(CONTEXT), args.calls, 1),
        ("3 rules, the third splits", lambda: three.evaluate(CONTEXT), args.calls, 1),
        ("3 rules, none match", lambda: three.evaluate(no_match), args.calls, 1),
        ("100 flags (bulk)", lambda: evaluate_all(bulk, CONTEXT), max(1, args.calls // len(bulk)), len(bulk)),
    ]
    for _, call, _, _ in variants:
        loop_us(call, 1000)  # warm-up: caches (the parsed versions), the interpreter's specialisation
    samples: dict[str, list[float]] = {name: [] for name, *_ in variants}
    for _ in range(args.rounds):
        for name, call, calls, _ in variants:
            samples[name].append(loop_us(call, calls))
    print(f"\nFlag evaluation in-process: medians of {args.rounds} rounds, µs per call")
    print(f"{'variant':<32} {'µs':>9} {'ratio':>8}  target")
    base = statistics.median(samples[variants[0][0]])
    failed = False
    for name, _, _, evaluated in variants:
        us = statistics.median(samples[name])
        target = TARGETS_US.get(name)
        verdict = "" if target is None else f"< {target:g} µs " + ("PASS" if us < target else "FAIL")
        failed |= verdict.endswith("FAIL")
        print(f"{name:<32} {us:>9.3f} {us / evaluated / base:>8.1f}  {verdict}")
    bulk_us = statistics.median(samples["100 flags (bulk)"])
    print(f"\nbulk: {bulk_us / len(bulk):.3f} µs per flag")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
