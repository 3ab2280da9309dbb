"""Named key-value storage backends; `FLUXBASE_STORAGE_BACKEND` picks the one in use."""

from __future__ import annotations

from flask import current_app

from flux.storage.base import KeyValueStore, StorageError
from flux.storage.memory import MemoryStore
from flux.storage.sql import SqlStore


def get_store() -> KeyValueStore:
    """The configured store of the current app."""
    return current_app.extensions["flux"].store


__all__ = ["KeyValueStore", "MemoryStore", "SqlStore", "StorageError", "get_store"]
