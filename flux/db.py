"""The database: SQLAlchemy 2 through Flask-SQLAlchemy, SQLite by default, PostgreSQL by URL.

SQLite runs in WAL mode with a busy timeout. Its driver begins a transaction only
before the first INSERT, UPDATE or DELETE, and we make that BEGIN IMMEDIATE (as Django's
`transaction_mode` and Rails 8 do): reads run outside any transaction, so readers never
queue for the write lock, and a writer waits its turn for the lock instead of failing at
once with "database is locked", which a deferred transaction that read first and then
writes does when another connection wrote in between. PostgreSQL's connections run in
autocommit and anything but a plain SELECT begins the transaction (`_configure_postgresql`),
so there too a read pays no BEGIN and no ROLLBACK. Both databases therefore read
committed data statement by statement, as PostgreSQL's READ COMMITTED does, and write
one transaction at a time per row (PostgreSQL) or per database (SQLite). A connection
never goes back to the pool inside a transaction: the pool rolls back one that is.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

from flux.errors import Conflict

IDLE = psycopg.pq.TransactionStatus.IDLE  # a PostgreSQL connection between transactions


class Model(DeclarativeBase):
    """Base class of every ORM model, core and plugins alike."""


db = SQLAlchemy(model_class=Model)


def database_url(config: dict, instance_path: Path) -> str:
    """The configured URL, with `postgresql://` mapped to psycopg 3; SQLite in the instance by default."""
    url = config.get("DATABASE_URL") or f"sqlite:///{instance_path / 'flux.sqlite'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def engine_options(url: str, recycle_seconds: int) -> dict:
    """SQLite: the driver's transaction rule above. PostgreSQL: autocommit, no ping, connections renewed.

    On PostgreSQL the driver runs every statement on its own (reads pay no BEGIN before
    them and no ROLLBACK when their connection goes back) and `_configure_postgresql`
    begins a transaction for writes. `recycle_seconds` bounds how long a connection
    lives, so one that a firewall dropped without a word is not kept forever.
    """
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "isolation_level": "IMMEDIATE"}}
    return {"pool_recycle": recycle_seconds, "isolation_level": "AUTOCOMMIT"}


def _configure_postgresql(engine: sa.Engine) -> None:
    """Reads outside any transaction, everything else inside one, and dropped connections replaced at checkout."""

    @sa.event.listens_for(engine, "checkout")
    def replace_if_dropped(dbapi_connection: psycopg.Connection, _record: Any, _proxy: Any) -> None:
        """A connection the server ended while it sat in the pool is replaced before any statement uses it.

        The pool then connects anew and checks out again (SQLAlchemy's documented
        "pessimistic" handling, without `pool_pre_ping`'s round trip per checkout).
        """
        if closed_by_server(dbapi_connection):
            raise sa.exc.DisconnectionError("the database server closed this pooled connection")

    @sa.event.listens_for(engine, "before_execute")
    def begin_unless_reading(connection: sa.Connection, statement: Any, *_arguments: Any) -> None:
        """Anything but a plain SELECT (a write, FOR UPDATE, raw SQL, DDL) runs in a transaction until commit.

        Driver-level SQL (`exec_driver_sql`, a string) runs as written: the BEGIN below
        is one. PostgreSQL's READ COMMITTED reads committed data statement by statement
        inside a transaction too, so a read outside one sees the same rows.
        """
        reading = isinstance(statement, sa.sql.expression.GenerativeSelect) and statement._for_update_arg is None
        if not reading and not isinstance(statement, str):
            begin_writing(connection)


def closed_by_server(dbapi_connection: psycopg.Connection) -> bool:
    """Whether the server has written to, or hung up on, an idle connection: it does when it ends the session.

    Between statements the server sends nothing unasked (Fluxbase does not LISTEN), so
    a readable socket means a restart, `pg_terminate_backend` or an idle timeout: the
    server's last words, then end of file. Asking costs one `poll`, no round trip.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def _configure_sqlite(engine: sa.Engine, busy_timeout_ms: int) -> None:
    """WAL, a busy timeout and foreign keys on every new connection."""

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "before_execute")
    def lock_for_writes(connection: sa.Connection, statement: Any, *_arguments: Any) -> None:
        """Every write and every SELECT … FOR UPDATE begins the write transaction.

        SQLite has no row locks: FOR UPDATE takes its write lock instead, held until
        commit, so code that reads rows it is about to change writes `with_for_update()`,
        as it would for PostgreSQL, and concurrent writers take turns on both databases.
        The driver's own rule looks at a statement's first word, so a write that starts
        `WITH …` would run outside the transaction (and outlive a rollback) without this.
        """
        locking_read = isinstance(statement, sa.Select) and statement._for_update_arg is not None
        if locking_read or isinstance(statement, sa.sql.dml.UpdateBase):
            begin_writing(connection)


def begin_writing(connection: sa.Connection) -> None:
    """Begin the transaction now unless one is open: on SQLite it takes the write lock.

    Neither driver begins one for DDL (a migration), so it joins this one.
    """
    dbapi_connection = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite" and not dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql" and dbapi_connection.info.transaction_status == IDLE:
        connection.exec_driver_sql("BEGIN")


# Written by hand: SQLite's busy handler polls with sleeps of up to 100 ms, so threads of
# one process that write at once are served in no order, and some wait a second
# (bench/README.md, "Writers of one process take turns").
_SQLITE_WRITERS = threading.Lock()


def writer_turn(engine: sa.Engine) -> contextlib.AbstractContextManager[Any]:
    """Hold around a short write transaction: on SQLite this process's writers queue for it in order.

    Only for a transaction that runs no other code (no caller's work, no second write):
    a thread waiting here holds nothing another needs.
    """
    return _SQLITE_WRITERS if engine.dialect.name == "sqlite" else contextlib.nullcontext()


@contextlib.contextmanager
def separate_session() -> Iterator[orm.Session]:
    """A unit of work apart from the request's, committed when the block ends.

    For a write a read-only request must keep (a key's last use): committing the
    request's own session would expire what it has loaded. It is scoped to the current
    tenant like every session. On SQLite, do not use it while the request's session
    holds uncommitted writes: it would wait for that session's lock.
    """
    with orm.Session(db.engine) as session, session.begin():
        yield session


def upsert_insert(dialect_name: str | None = None) -> Callable[..., Any]:
    """The dialect's `insert`, which has `on_conflict_do_update` (INSERT … ON CONFLICT): SQLite or PostgreSQL.

    The dialect is the session's unless named.
    """
    dialect_name = dialect_name or db.session.get_bind().dialect.name
    return {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect_name]


def flush_or_conflict(message: str, code: str) -> None:
    """Flush the session; when a concurrent request won a unique constraint, roll back and answer 409."""
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise Conflict(message, code=code) from None


def private_sqlite_file(url: str, instance_path: Path) -> None:
    """Create the SQLite file readable by the server's user only (0600), or narrow an existing one.

    SQLite gives its `-wal` and `-shm` files the database file's mode, so they follow.
    A relative path is the instance folder's, as Flask-SQLAlchemy reads it.
    """
    database = sa.make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = instance_path / database
    if not path.parent.is_dir():
        return  # SQLite reports that itself, with the path
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)


def init_app(app: Flask) -> None:
    url = database_url(app.config, Path(app.instance_path))
    if url.startswith("sqlite"):
        private_sqlite_file(url, Path(app.instance_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url, app.config["DATABASE_POOL_RECYCLE_SECONDS"])
    db.init_app(app)
    if url.startswith("sqlite"):
        with app.app_context():
            _configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    else:
        with app.app_context():
            _configure_postgresql(db.engine)


def ping() -> bool:
    """True when the database answers a trivial query."""
    try:
        with db.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception:  # noqa: BLE001 - any driver's failure means "unreachable" here
        return False
    return True


class UtcDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC datetime on every database (SQLite returns naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use flux.db.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A new primary key: a lowercase 36-character UUID4 string."""
    return str(uuid.uuid4())
