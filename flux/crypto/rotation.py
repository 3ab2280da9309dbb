"""Re-encrypt every declared encrypted column under the current primary key and cipher.

Rows are processed in small batches, each its own short transaction, and each update
is a compare-and-swap on the old ciphertext: a value a running server changes mid-way
is left as that server wrote it rather than overwritten with a stale one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from flux.crypto.ciphers import DecryptionError
from flux.crypto.encryptor import Encryptor
from flux.crypto.keyring import RELOAD_INTERVAL

BATCH_SIZE = 200
MAX_PASSES = 3


@dataclass(frozen=True)
class EncryptedColumn:
    """A column holding `Encryptor` output, declared through `register_encrypted_columns`.

    `aad(row)` rebuilds the associated data the plugin used when it wrote the row;
    `user_id(row)`, when given, names the user whose derived key sealed it.
    """

    table: sa.Table
    column: str
    aad: Callable[[Mapping], bytes]
    user_id: Callable[[Mapping], object | None] | None = None

    @property
    def label(self) -> str:
        return f"{self.table.name}.{self.column}"


@dataclass
class RotationReport:
    rotated: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    remaining: int = 0


def _pending_filter(column: EncryptedColumn, prefix: str) -> sa.ColumnElement[bool]:
    target = column.table.c[column.column]
    return sa.and_(target.is_not(None), sa.not_(target.startswith(prefix, autoescape=True)))


def count_pending(engine: sa.Engine, columns: list[EncryptedColumn], encryptor: Encryptor) -> int:
    """How many stored values are not yet under the primary key and configured cipher."""
    prefix = encryptor.current_prefix()
    total = 0
    with engine.connect() as connection:
        for column in columns:
            query = sa.select(sa.func.count()).select_from(column.table).where(_pending_filter(column, prefix))
            total += connection.execute(query).scalar_one()
    return total


def _batches(engine: sa.Engine, column: EncryptedColumn, prefix: str) -> Iterator[list[Mapping]]:
    keys = list(column.table.primary_key.columns)
    key_tuple = sa.tuple_(*keys) if len(keys) > 1 else keys[0]
    last = None
    while True:
        query = sa.select(column.table).where(_pending_filter(column, prefix)).order_by(*keys).limit(BATCH_SIZE)
        if last is not None:
            query = query.where(key_tuple > (sa.tuple_(*last) if len(keys) > 1 else last[0]))
        with engine.connect() as connection:
            rows = [row._mapping for row in connection.execute(query)]
        if not rows:
            return
        yield rows
        last = [rows[-1][key.name] for key in keys]


def _rotate_column(
    engine: sa.Engine,
    column: EncryptedColumn,
    encryptor: Encryptor,
    report: RotationReport,
    advance: Callable[[int], None],
) -> None:
    target = column.table.c[column.column]
    keys = list(column.table.primary_key.columns)
    prefix = encryptor.current_prefix()
    for rows in _batches(engine, column, prefix):
        with engine.begin() as connection:
            for row in rows:
                old = row[column.column]
                user_id = column.user_id(row) if column.user_id else None
                where = [key == row[key.name] for key in keys]
                try:
                    plaintext = encryptor.decrypt(old, aad=column.aad(row), user_id=user_id)
                except DecryptionError as error:
                    report.failed[f"{column.label} {[row[key.name] for key in keys]}"] = str(error)
                    continue
                new = encryptor.encrypt(plaintext, aad=column.aad(row), user_id=user_id)
                updated = connection.execute(sa.update(column.table).where(*where, target == old).values({target: new}))
                report.rotated += updated.rowcount
        advance(len(rows))


def rotate_columns(
    engine: sa.Engine,
    columns: list[EncryptedColumn],
    encryptor: Encryptor,
    advance: Callable[[int], None] = lambda _n: None,
    pause: float = RELOAD_INTERVAL + 0.5,
) -> RotationReport:
    """Re-encrypt everything pending; repeat (after `pause`) for values servers wrote meanwhile."""
    report = RotationReport()
    for attempt in range(MAX_PASSES):
        for column in columns:
            _rotate_column(engine, column, encryptor, report, advance)
        report.remaining = count_pending(engine, columns, encryptor) - len(report.failed)
        if report.remaining <= 0 or attempt == MAX_PASSES - 1:
            break
        time.sleep(pause)
    report.remaining = max(report.remaining, 0)
    return report
