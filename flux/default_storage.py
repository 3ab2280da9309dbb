"""Built-in storage backends (`sql`, `memory`) and the migration branch of the `flux_kv` table."""

from pathlib import Path

from flux.hookspecs import hookimpl
from flux.storage import MemoryStore, SqlStore


@hookimpl
def register_storage_backends():
    return [SqlStore, MemoryStore]


@hookimpl
def register_migrations():
    return Path(__file__).parent / "storage" / "migrations"
