"""The contract suite on every built-in storage backend."""

from __future__ import annotations

import multiprocessing

import pytest

from flux.storage import MemoryStore, SqlStore
from flux.testing import StorageContract


class TestSqlStore(StorageContract):
    @pytest.fixture
    def store(self, app):
        return SqlStore(app)

    def test_values_survive_a_new_app(self, app, make_app, store):
        store.set_json("ns", "kept", {"v": 1})
        assert SqlStore(make_app(migrated=False)).get_json("ns", "kept") == {"v": 1}


class TestMemoryStore(StorageContract):
    @pytest.fixture
    def store(self, app):
        return MemoryStore(app)


def test_configured_store_is_the_sql_one(app):
    assert isinstance(app.extensions["flux"].store, SqlStore)


def _write_from_process(instance: str, database_url: str, worker: int) -> None:
    from flux import create_app as build

    store = SqlStore(build({"INSTANCE_PATH": instance, "DATABASE_URL": database_url}))
    for index in range(40):
        store.set_json("shared", f"w{worker}-{index:02d}", {"worker": worker, "index": index})
        assert store.get_json("shared", f"w{worker}-{index:02d}")["index"] == index


def test_several_processes_write_without_lock_errors(app):
    """Like gunicorn workers on one SQLite file: no "database is locked", nothing lost."""
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_write_from_process, args=(app.instance_path, app.config["DATABASE_URL"], worker))
        for worker in range(4)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [process.exitcode for process in workers] == [0, 0, 0, 0]
    assert len(app.extensions["flux"].store.keys("shared")) == 160
