"""The built-in store: one table in the application database, upserted per key."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask

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


class SqlStore(KeyValueStore):
    name = "sql"

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        with app.app_context():
            self._engine: sa.Engine = db.engine

    def _run(self, statement: sa.Executable) -> sa.CursorResult:
        with self._engine.begin() as connection:
            return connection.execute(statement)

    def _get(self, namespace: str, key: str) -> bytes | None:
        query = sa.select(kv_table.c.value).where(kv_table.c.namespace == namespace, kv_table.c.key == key)
        return self._run(query).scalar_one_or_none()

    def _set(self, namespace: str, key: str, value: bytes) -> None:
        now = datetime.now(UTC)
        with self._engine.begin() as connection:
            insert = upsert_insert(connection.dialect.name)(kv_table).values(
                namespace=namespace, key=key, value=value, updated_at=now
            )
            connection.execute(
                insert.on_conflict_do_update(
                    index_elements=[kv_table.c.namespace, kv_table.c.key], set_={"value": value, "updated_at": now}
                )
            )

    def _delete(self, namespace: str, key: str) -> bool:
        statement = sa.delete(kv_table).where(kv_table.c.namespace == namespace, kv_table.c.key == key)
        return self._run(statement).rowcount > 0

    def _keys(self, namespace: str, prefix: str) -> list[str]:
        query = (
            sa.select(kv_table.c.key)
            .where(kv_table.c.namespace == namespace, kv_table.c.key.startswith(prefix, autoescape=True))
            .order_by(kv_table.c.key)
        )
        return list(self._run(query).scalars())

    def _clear(self, namespace: str) -> int:
        return self._run(sa.delete(kv_table).where(kv_table.c.namespace == namespace)).rowcount
