"""A process-local store for tests and single-process tools; nothing survives a restart."""

from __future__ import annotations

import threading

from flask import Flask

from flux.storage.base import KeyValueStore


class MemoryStore(KeyValueStore):
    name = "memory"

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self._data: dict[str, dict[str, bytes]] = {}
        self._lock = threading.Lock()

    def _get(self, namespace: str, key: str) -> bytes | None:
        return self._data.get(namespace, {}).get(key)

    def _set(self, namespace: str, key: str, value: bytes) -> None:
        with self._lock:
            self._data.setdefault(namespace, {})[key] = value

    def _delete(self, namespace: str, key: str) -> bool:
        with self._lock:
            return self._data.get(namespace, {}).pop(key, None) is not None

    def _keys(self, namespace: str, prefix: str) -> list[str]:
        return sorted(key for key in self._data.get(namespace, {}) if key.startswith(prefix))

    def _items(self, namespace: str, prefix: str) -> dict[str, bytes]:
        with self._lock:
            stored = dict(self._data.get(namespace, {}))
        return {key: stored[key] for key in sorted(stored) if key.startswith(prefix)}

    def _clear(self, namespace: str) -> int:
        with self._lock:
            return len(self._data.pop(namespace, {}))
