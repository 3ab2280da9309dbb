"""The database: SQLAlchemy 2 through Flask-SQLAlchemy, SQLite by default, PostgreSQL by URL.

SQLite runs in WAL mode with a busy timeout, and a transaction that may write starts
with `BEGIN IMMEDIATE` (as Rails 8 does): a deferred transaction that reads and then
writes fails at once with "database is locked" when another gunicorn worker wrote in
between, whatever the busy timeout, while an immediate one waits its turn. Requests
with a safe method (GET, HEAD, OPTIONS) read in deferred transactions, so readers never
queue behind each other; a GET that must write does so with `immediate_transaction()`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

from flux.errors import Conflict

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Set by `immediate_transaction()` (True) and `read_connection()` (False): their BEGIN is
# IMMEDIATE, or deferred, whatever the request's method.
_begin_immediate: contextvars.ContextVar[bool | None] = contextvars.ContextVar("flux_sqlite_immediate", default=None)


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


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False}}
    return {"pool_pre_ping": True}


def _configure_sqlite(engine: sa.Engine, busy_timeout_ms: int) -> None:
    """WAL, a busy timeout and foreign keys per connection; our own BEGIN per transaction.

    The BEGIN is emitted by the dialect's `do_begin`, not by SQLAlchemy's documented
    `begin` engine event: any engine event makes every connection join the engine's
    event dispatch and check it on every statement, about 100 function calls and
    30 µs per request (measured in-process). sqlite3 keeps its default
    `isolation_level` (it never begins a transaction by itself inside ours), so a
    connection SQLAlchemy switches to AUTOCOMMIT (isolation_level None) gets no BEGIN.
    """

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    engine.dialect.do_begin = _begin_sqlite_transaction  # type: ignore[method-assign]


def _begin_sqlite_transaction(connection: sa.PoolProxiedConnection) -> None:
    """BEGIN IMMEDIATE for a transaction that may write, a deferred BEGIN for a safe request."""
    dbapi_connection = connection.dbapi_connection
    if dbapi_connection.isolation_level is None:  # AUTOCOMMIT: the driver commits each statement
        return
    immediate = _begin_immediate.get()
    if immediate is None:
        immediate = not (has_request_context() and _session_reads_only())
    dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def session_reads_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view of an unsafe method whose session only reads (put it below the route decorator).

    On SQLite its session's transactions then begin deferred, like a GET's, so
    concurrent calls do not queue for the write lock. What it writes goes through
    `immediate_transaction()` or `flux.tenancy.insert_row` after its session committed;
    a write through the session itself could fail with "database is locked".
    """
    view.flux_session_reads_only = True  # type: ignore[attr-defined]
    return view


def _session_reads_only() -> bool:
    if request.method in SAFE_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "flux_session_reads_only", False)


@contextlib.contextmanager
def immediate_transaction() -> Iterator[sa.Connection]:
    """A short write transaction on a connection of its own, for a write beside a session that only reads.

    Never use it while the request's own session holds a write transaction (any
    request with an unsafe method): on SQLite it would wait for that lock forever.
    """
    with db.engine.connect() as connection:
        token = _begin_immediate.set(True)
        try:
            transaction = connection.begin()
        finally:
            _begin_immediate.reset(token)
        with transaction:
            yield connection


@contextlib.contextmanager
def read_connection() -> Iterator[sa.Connection]:
    """A connection of its own for reads, whatever the request's method; rolled back when closed.

    On SQLite the transaction it begins is deferred, so it reads beside the request's
    own write transaction instead of waiting for that lock.
    """
    with db.engine.connect() as connection:
        token = _begin_immediate.set(False)
        try:
            yield connection
        finally:
            _begin_immediate.reset(token)


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
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    db.init_app(app)
    if url.startswith("sqlite"):
        with app.app_context():
            _configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])


def ping() -> bool:
    """True when the database answers a trivial query.

    Uses a raw pooled connection so that SQLite's `BEGIN IMMEDIATE` is not taken: a
    health check must not queue behind writers.
    """
    try:
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            cursor.close()
        finally:
            connection.close()
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
