"""The key-value store interface that storage backends implement.

Public methods validate their input and call the `_primitives` a backend implements,
so every backend rejects the same bad input the same way (the Django `Storage` and
simplekv pattern).
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from flask import Flask

NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_KEY_LENGTH = 512


class StorageError(ValueError):
    """Bad input to a store: an invalid namespace or key, or a value of the wrong type."""


class KeyValueStore:
    """Namespaced keys to bytes (or JSON) values; a plugin picks its own namespace.

    Namespaces look like `tenant:<id>:settings`; keys are any non-empty text of at most
    512 characters. `keys()` returns keys sorted, so listings are stable.
    """

    name: ClassVar[str] = ""

    def __init__(self, app: Flask) -> None:
        """Backends are built once per app; `app` gives access to its config and database."""

    def get(self, namespace: str, key: str) -> bytes | None:
        return self._get(self._namespace(namespace), self._key(key))

    def set(self, namespace: str, key: str, value: bytes) -> None:
        if not isinstance(value, (bytes, bytearray)):
            raise StorageError(f"value must be bytes, got {type(value).__name__}; use set_json for JSON")
        self._set(self._namespace(namespace), self._key(key), bytes(value))

    def delete(self, namespace: str, key: str) -> bool:
        """Remove a key; True when it existed."""
        return self._delete(self._namespace(namespace), self._key(key))

    def keys(self, namespace: str, prefix: str = "") -> list[str]:
        if not isinstance(prefix, str):
            raise StorageError("prefix must be text")
        return self._keys(self._namespace(namespace), prefix)

    def items(self, namespace: str, prefix: str = "") -> dict[str, bytes]:
        """Every key of a namespace starting with `prefix`, with its value, in key order: one read."""
        if not isinstance(prefix, str):
            raise StorageError("prefix must be text")
        return self._items(self._namespace(namespace), prefix)

    def items_json(self, namespace: str, prefix: str = "") -> dict[str, Any]:
        return {key: json.loads(raw) for key, raw in self.items(namespace, prefix).items()}

    def clear(self, namespace: str) -> int:
        """Remove every key of a namespace; return how many there were."""
        return self._clear(self._namespace(namespace))

    def get_json(self, namespace: str, key: str, default: Any = None) -> Any:
        raw = self.get(namespace, key)
        return default if raw is None else json.loads(raw)

    def set_json(self, namespace: str, key: str, value: Any) -> None:
        try:
            encoded = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as error:
            raise StorageError(f"value is not JSON-serialisable: {error}") from error
        self.set(namespace, key, encoded)

    @staticmethod
    def _namespace(namespace: str) -> str:
        if not isinstance(namespace, str) or not NAMESPACE_PATTERN.match(namespace):
            raise StorageError("namespace must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")
        return namespace

    @staticmethod
    def _key(key: str) -> str:
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or "\x00" in key:
            raise StorageError(f"key must be non-empty text of at most {MAX_KEY_LENGTH} characters")
        return key

    def _get(self, namespace: str, key: str) -> bytes | None:
        raise NotImplementedError

    def _set(self, namespace: str, key: str, value: bytes) -> None:
        raise NotImplementedError

    def _delete(self, namespace: str, key: str) -> bool:
        raise NotImplementedError

    def _keys(self, namespace: str, prefix: str) -> list[str]:
        raise NotImplementedError

    def _items(self, namespace: str, prefix: str) -> dict[str, bytes]:
        """A key-by-key default, so older backends keep working; backends that can do it in one read should."""
        found = {key: self._get(namespace, key) for key in self._keys(namespace, prefix)}
        return {key: value for key, value in found.items() if value is not None}

    def _clear(self, namespace: str) -> int:
        raise NotImplementedError
