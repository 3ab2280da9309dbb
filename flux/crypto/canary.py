"""The key canary: a known value sealed with the primary key, stored beside the secrets.

Servers share one database but each brings its own keys (a key file, or
`FLUXBASE_ENCRYPTION_KEY`). One whose keys differ from the others' cannot open what
they wrote; without the canary it noticed only value by value, and a secret read as
missing. Opening the canary shows it at once: `fluxbase serve` refuses to start, every
app logs it at start-up, `/health` answers 503, and `fluxbase keys rotate` re-seals it
with the new primary key. It lives in the core's `flux_kv` table whatever
`FLUXBASE_STORAGE_BACKEND` says, since it must sit in the database it vouches for.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask

from flux.crypto.ciphers import DecryptionError, KeyNotInRing
from flux.crypto.encryptor import Encryptor, associated_data
from flux.db import db, upsert_insert, utcnow
from flux.storage.sql import kv_table

log = logging.getLogger("flux.crypto")
NAMESPACE, KEY = "flux.core", "key-canary"
PLAINTEXT = b"fluxbase key canary v1"
AAD = associated_data("key-canary")
_ROW = sa.and_(kv_table.c.namespace == NAMESPACE, kv_table.c.key == KEY)


def _stored(connection: sa.Connection) -> str | None:
    value = connection.execute(sa.select(kv_table.c.value).where(_ROW)).scalar_one_or_none()
    return None if value is None else bytes(value).decode()


def ensure(connection: sa.Connection, encryptor: Encryptor) -> None:
    """Store the canary, sealed with the primary key, unless a server stored one first."""
    insert = upsert_insert(connection.dialect.name)(kv_table).values(
        namespace=NAMESPACE, key=KEY, value=encryptor.encrypt(PLAINTEXT, aad=AAD).encode(), updated_at=utcnow()
    )
    connection.execute(insert.on_conflict_do_nothing(index_elements=[kv_table.c.namespace, kv_table.c.key]))


def store_if_absent(app: Flask) -> None:
    """`ensure` on a connection of its own, for a database migrated before the canary existed."""
    with app.app_context(), db.engine.begin() as connection:
        ensure(connection, app.extensions["flux"].encryptor)


def problem(connection: sa.Connection, encryptor: Encryptor) -> str | None:
    """Why these keys cannot open the stored canary, or None (also when there is none yet)."""
    sealed = _stored(connection)
    if sealed is None:
        return None
    try:
        opened = encryptor.decrypt(sealed, aad=AAD)
    except KeyNotInRing as error:
        return (
            f"the key canary was sealed with key {error.key_id}, which this server's keys do not include, "
            "so it cannot open what the other servers wrote"
        )
    except DecryptionError as error:
        return f"the key canary does not open with this server's keys ({error})"
    return None if opened == PLAINTEXT else "the key canary opens to the wrong value"


def reseal(connection: sa.Connection, encryptor: Encryptor) -> bool:
    """Re-seal the canary with the current primary key (after a rotation); False when it does not open."""
    sealed = _stored(connection)
    if sealed is None or problem(connection, encryptor) is not None:
        return False
    if not sealed.startswith(encryptor.current_prefix()):
        fresh = encryptor.encrypt(PLAINTEXT, aad=AAD).encode()
        connection.execute(sa.update(kv_table).where(_ROW, kv_table.c.value == sealed.encode()).values(value=fresh))
    return True


def app_problem(app: Flask) -> str | None:
    """`problem` for this app's keys and database; None while the database has no `flux_kv` table yet."""
    try:
        return read_problem(app)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):
        return None  # not migrated yet, or unreachable: requests will say so


def read_problem(app: Flask) -> str | None:
    """`app_problem`, raising the driver's error when the canary's table cannot be read.

    `/health` learns from it that the database answers, with no query of its own.
    """
    with app.app_context(), db.engine.connect() as connection:
        return problem(connection, app.extensions["flux"].encryptor)


def log_problem(app: Flask) -> None:
    """At start-up: an error in the log when this server's keys cannot open the canary."""
    found = app_problem(app)
    if found is not None:
        log.error("encryption keys: %s; /health answers 503 until the keys match (README: Encryption keys)", found)
