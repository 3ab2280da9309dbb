"""Timing loops shared by the in-process benchmarks, so every script warms up and counts alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


@dataclass
class Timings:
    """How long each of a series of calls took, and the wall time of the whole series."""

    samples_ns: list[int]
    wall_ns: int

    @property
    def per_second(self) -> float:
        """Calls completed per second of wall time (with `parallel` > 1, more than 1 / latency)."""
        return len(self.samples_ns) / (self.wall_ns / 1e9) if self.wall_ns else 0.0

    def percentile_ms(self, percent: int) -> float:
        """The `percent`-th percentile of the latencies, interpolated between samples (50 is the median)."""
        if len(self.samples_ns) == 1:
            return self.samples_ns[0] / 1e6
        return statistics.quantiles(self.samples_ns, n=100, method="inclusive")[percent - 1] / 1e6

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(50)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(99)


def timed(call: Callable[[], object], calls: int, *, warmup: int = 0, parallel: int = 1) -> Timings:
    """Time `calls` calls of `call`, `parallel` at a time, after `warmup` untimed ones (caches, JIT, pools).

    Each call is timed on its own thread, so with `parallel` > 1 the latencies include
    waiting for a CPU, as a server's would.
    """
    for _ in range(warmup):
        call()

    def one(_: int) -> int:
        started = time.perf_counter_ns()
        call()
        return time.perf_counter_ns() - started

    started = time.perf_counter_ns()
    if parallel == 1:
        samples = [one(index) for index in range(calls)]
    else:
        with ThreadPoolExecutor(max_workers=parallel) as executor:
            samples = list(executor.map(one, range(calls)))
    return Timings(samples, time.perf_counter_ns() - started)


def median_ms(call: Callable[[], object], calls: int) -> float:
    """The median latency of `calls` calls, after up to 200 warm-up calls (statements, keys)."""
    samples = timed(call, calls, warmup=min(200, calls)).samples_ns
    return statistics.median(samples) / 1e6
