"""Rate limits through the `limits` library; counters live where `FLUXBASE_RATE_LIMIT_STORAGE_URL` says.

`memory://` (the default) counts per process; point it at `redis://host:6379` so every
gunicorn worker and node shares the counters. Redis needs the `redis` package, an
extra: `pip install 'fluxbase[redis]'`.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse, storage, strategies

from flux.config import ConfigError


def parse_limit(text: str) -> RateLimitItem:
    """`"30/minute"` → a limit item; a ConfigError for text `limits` cannot read."""
    try:
        return parse(text)
    except ValueError as error:
        raise ConfigError(f"rate limit {text!r} is not of the form '30/minute': {error}") from error


REDIS_EXTRA_HINT = "pip install 'fluxbase[redis]'"


def require_redis_package(storage_url: str) -> None:
    """A ConfigError naming the extra to install when a Redis URL meets an install without `redis`.

    `limits` itself only says that version 0.0.0 of some package is too old.
    """
    if "redis" not in storage_url.split("://", 1)[0]:  # redis, rediss, redis+sentinel, redis+cluster…
        return
    try:
        importlib.import_module("redis")
    except ImportError:
        raise ConfigError(
            f"FLUXBASE_RATE_LIMIT_STORAGE_URL names Redis, but the redis package is not installed: {REDIS_EXTRA_HINT}"
        ) from None


@dataclass(frozen=True)
class Window:
    """Where a caller stands in a fixed window after one request: its `X-RateLimit-*` headers."""

    allowed: bool
    limit: int
    remaining: int
    resets: float  # unix time

    @property
    def reset_at(self) -> int:
        return math.ceil(self.resets)

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.resets - time.time()))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


class RateLimiter:
    """A moving-window limiter over named identifiers (an IP, an e-mail, a key id), and fixed windows for quotas."""

    def __init__(self, storage_url: str) -> None:
        require_redis_package(storage_url)
        try:
            backend = storage.storage_from_string(storage_url)
        except Exception as error:
            raise ConfigError(f"FLUXBASE_RATE_LIMIT_STORAGE_URL {storage_url!r} is not usable: {error}") from error
        self._limiter = strategies.MovingWindowRateLimiter(backend)
        # Quotas such as 10000/day: a counter per window, where a moving window keeps every hit.
        self._windows = strategies.FixedWindowRateLimiter(backend)

    def retry_after(self, limit: str, *identifiers: str) -> int | None:
        """Seconds to wait when the limit is used up, else None; does not count a hit."""
        item = parse_limit(limit)
        if self._limiter.test(item, *identifiers):
            return None
        reset_at, _remaining = self._limiter.get_window_stats(item, *identifiers)
        return max(1, math.ceil(reset_at - time.time()))

    def hit(self, limit: str, *identifiers: str) -> bool:
        """Count one event; False when it went over the limit."""
        return self._limiter.hit(parse_limit(limit), *identifiers)

    def take(self, limit: str, *identifiers: str) -> Window:
        """Count one request against a fixed-window quota (`"100/minute"`), over it or not, and say where it stands."""
        item = parse_limit(limit)
        allowed = self._windows.hit(item, *identifiers)
        reset_at, remaining = self._windows.get_window_stats(item, *identifiers)
        return Window(allowed, item.amount, max(0, remaining), reset_at)
