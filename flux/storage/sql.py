"""The built-in store: one table in the application database, upserted per key."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, has_app_context
from sqlalchemy import orm

from flux.db import db, upsert_insert
from flux.storage.base import KeyValueStore

kv_table = sa.Table(
    "flux_kv",
    db.metadata,
    sa.Column("namespace", sa.String(128), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


# Built once: the core's tenant scoping remembers what it decided per statement object
# (`flux.tenancy.scoped_form`), and a statement built per call was surveyed on every read.
_NAMESPACE = kv_table.c.namespace == sa.bindparam("namespace")
_LIKE_ESCAPE = "/"
_GET = sa.select(kv_table.c.value).where(_NAMESPACE, kv_table.c.key == sa.bindparam("key"))
_PREFIXED = kv_table.c.key.like(sa.bindparam("pattern"), escape=_LIKE_ESCAPE)
_KEYS = sa.select(kv_table.c.key).where(_NAMESPACE, _PREFIXED).order_by(kv_table.c.key)
_ITEMS = sa.select(kv_table.c.key, kv_table.c.value).where(_NAMESPACE, _PREFIXED).order_by(kv_table.c.key)


def _prefixed(namespace: str, prefix: str) -> dict[str, str]:
    """The parameters of a prefix query: `prefix` with LIKE's wildcards escaped, then `%`."""
    escaped = prefix.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "/%").replace("_", "/_")
    return {"namespace": namespace, "pattern": escaped + "%"}


class SqlStore(KeyValueStore):
    """Keys in the application database, read and written through `db.session`.

    A write joins the caller's open transaction (a request's, once it has run a
    statement), so it commits or rolls back with the rest of that unit of work: a
    tenant's settings with their audit record, a hard delete with every row. With no
    transaction open, each call commits at once. On SQLite this also keeps a request
    from waiting on its own write lock, as a second connection would.
    """

    name = "sql"

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self._app = app

    @contextlib.contextmanager
    def _session(self) -> Iterator[orm.Session]:
        with contextlib.ExitStack() as stack:
            if not has_app_context():
                stack.enter_context(self._app.app_context())
            session = db.session()  # the scoped session's own, for `in_transaction`
            if not session.in_transaction():
                stack.enter_context(session.begin())
            yield session

    def _run(self, statement: sa.Executable) -> sa.CursorResult:
        with self._session() as session:
            return session.execute(statement)

    def _get(self, namespace: str, key: str) -> bytes | None:
        with self._session() as session:
            return session.execute(_GET, {"namespace": namespace, "key": key}).scalar_one_or_none()

    def _set(self, namespace: str, key: str, value: bytes) -> None:
        now = datetime.now(UTC)
        with self._session() as session:
            insert = upsert_insert()(kv_table).values(namespace=namespace, key=key, value=value, updated_at=now)
            session.execute(
                insert.on_conflict_do_update(
                    index_elements=[kv_table.c.namespace, kv_table.c.key], set_={"value": value, "updated_at": now}
                )
            )

    def _delete(self, namespace: str, key: str) -> bool:
        statement = sa.delete(kv_table).where(kv_table.c.namespace == namespace, kv_table.c.key == key)
        return self._run(statement).rowcount > 0

    # SQLite's LIKE ignores the case of ASCII letters (`abc.%` finds `ABC.1`): the rows are checked again here.
    def _keys(self, namespace: str, prefix: str) -> list[str]:
        with self._session() as session:
            found = session.execute(_KEYS, _prefixed(namespace, prefix)).scalars()
            return [key for key in found if key.startswith(prefix)]

    def _items(self, namespace: str, prefix: str) -> dict[str, bytes]:
        with self._session() as session:
            found = session.execute(_ITEMS, _prefixed(namespace, prefix))
            return {key: value for key, value in found if key.startswith(prefix)}

    def _clear(self, namespace: str) -> int:
        return self._run(sa.delete(kv_table).where(kv_table.c.namespace == namespace)).rowcount
