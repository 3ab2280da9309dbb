"""The storage contract suite: every key-value backend, third-party ones too, must pass it.

Subclass `StorageContract` in a test module and provide a `store` fixture returning a
fresh, empty store::

    class TestRedisStore(StorageContract):
        @pytest.fixture
        def store(self, app):
            return RedisStore(app)
"""

from __future__ import annotations

import threading

import pytest

from flux.storage.base import KeyValueStore, StorageError


class StorageContract:
    """Behaviour every `KeyValueStore` promises; a test class, collected where it is subclassed."""

    def test_missing_key_is_none(self, store: KeyValueStore) -> None:
        assert store.get("ns", "absent") is None
        assert store.get_json("ns", "absent", default={"d": 1}) == {"d": 1}

    def test_set_then_get_bytes(self, store: KeyValueStore) -> None:
        store.set("ns", "k", b"\x00\xffbinary")
        assert store.get("ns", "k") == b"\x00\xffbinary"

    def test_overwrite_replaces(self, store: KeyValueStore) -> None:
        store.set("ns", "k", b"one")
        store.set("ns", "k", b"two")
        assert store.get("ns", "k") == b"two"
        assert store.keys("ns") == ["k"]

    def test_json_round_trip(self, store: KeyValueStore) -> None:
        value = {"enabled": True, "limit": 3, "tags": ["a", "é"], "nested": {"x": None}}
        store.set_json("ns", "doc", value)
        assert store.get_json("ns", "doc") == value

    def test_namespaces_are_isolated(self, store: KeyValueStore) -> None:
        store.set("tenant:a", "k", b"a")
        store.set("tenant:b", "k", b"b")
        assert store.get("tenant:a", "k") == b"a"
        assert store.get("tenant:b", "k") == b"b"
        assert store.clear("tenant:a") == 1
        assert store.get("tenant:a", "k") is None
        assert store.get("tenant:b", "k") == b"b"

    def test_delete_reports_existence(self, store: KeyValueStore) -> None:
        store.set("ns", "k", b"v")
        assert store.delete("ns", "k") is True
        assert store.delete("ns", "k") is False
        assert store.get("ns", "k") is None

    def test_items_read_values_by_prefix(self, store: KeyValueStore) -> None:
        store.set_json("ns", "b.2", [2])
        store.set_json("ns", "a.1", 1)
        store.set_json("ns", "b.1", {"one": 1})
        store.set_json("other", "b.3", 3)
        assert store.items_json("ns", "b.") == {"b.1": {"one": 1}, "b.2": [2]}
        assert list(store.items("ns")) == ["a.1", "b.1", "b.2"]
        assert store.items("ns", "b%") == {}

    def test_keys_sorted_and_prefix_filtered(self, store: KeyValueStore) -> None:
        for key in ["b/2", "a/1", "b/1", "b%", "b_"]:
            store.set("ns", key, b"x")
        assert store.keys("ns") == sorted(["a/1", "b%", "b/1", "b/2", "b_"])
        assert store.keys("ns", "b/") == ["b/1", "b/2"]
        assert store.keys("ns", "b%") == ["b%"]
        assert store.keys("ns", "b_") == ["b_"]
        assert store.keys("other") == []

    def test_a_prefix_matches_case_and_all(self, store: KeyValueStore) -> None:
        for key in ["ABC.1", "abc.1", "Abc.2", "\u00c9t\u00e9.1", "\u00e9t\u00e9.1"]:
            store.set("ns", key, b"x")
        assert store.keys("ns", "abc.") == ["abc.1"]
        assert list(store.items("ns", "ABC.")) == ["ABC.1"]
        assert store.keys("ns", "\u00e9t\u00e9.") == ["\u00e9t\u00e9.1"]

    @pytest.mark.parametrize("namespace", ["", "has space", "x" * 129, None, "semi;colon"])
    def test_bad_namespace_rejected(self, store: KeyValueStore, namespace) -> None:
        with pytest.raises(StorageError):
            store.set(namespace, "k", b"v")
        with pytest.raises(StorageError):
            store.get(namespace, "k")

    @pytest.mark.parametrize("key", ["", "x" * 513, None, "nul\x00byte"])
    def test_bad_key_rejected(self, store: KeyValueStore, key) -> None:
        with pytest.raises(StorageError):
            store.set("ns", key, b"v")
        assert store.keys("ns") == []

    def test_value_must_be_bytes(self, store: KeyValueStore) -> None:
        with pytest.raises(StorageError):
            store.set("ns", "k", "text")  # type: ignore[arg-type]
        with pytest.raises(StorageError):
            store.set_json("ns", "k", {1, 2})
        assert store.get("ns", "k") is None

    def test_concurrent_writers_lose_nothing(self, store: KeyValueStore) -> None:
        def write(worker: int) -> None:
            for index in range(20):
                store.set("ns", f"w{worker}-{index:02d}", str(index).encode())

        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store.keys("ns")) == 80
        assert store.get("ns", "w3-19") == b"19"
