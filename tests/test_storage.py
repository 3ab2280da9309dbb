"""The contract suite on every built-in storage backend."""

from __future__ import annotations

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
