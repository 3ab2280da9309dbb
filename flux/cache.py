"""A small in-process cache with a time limit and a size limit.

Per-process caches are copies, never the only copy (DESIGN "Scale"): each entry lives
at most `ttl` seconds, so a change made on another worker or node is seen within it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")
_MISSING = object()


class TtlCache(Generic[V]):
    """Least-recently-used eviction beyond `max_entries`; entries expire after `ttl` seconds."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, default: V | None = None) -> V | None:
        with self._lock:
            found = self._entries.get(key, _MISSING)
            if found is _MISSING:
                return default
            value, stored_at = found  # type: ignore[misc]
            if time.monotonic() - stored_at > self.ttl:
                del self._entries[key]
                return default
            self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._entries[key] = (value, time.monotonic())
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
