"""Tenants, memberships, and the one mechanism that scopes tenant-owned rows.

Every tenant-owned model inherits `TenantScoped`. An ORM SELECT, UPDATE or DELETE on
such a model gets `tenant_id = <current tenant>` added by a session event, and a new
row gets the current tenant on flush, so no query has to remember a filter. A query
with no current tenant fails (`TenantRequired`) instead of seeing every tenant's rows;
code that must cross tenants says so with `.execution_options(all_tenants=True)`.
A table-level (Core) statement on a scoped table through the session is refused for
the same reason; raw `text()` SQL and statements on `db.engine` directly are not
checked, and must filter by tenant themselves.
"""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy import event, orm
from sqlalchemy.orm import Mapped, mapped_column

from flux.cache import TtlCache
from flux.db import UtcDateTime, db, immediate_transaction, new_id, read_connection, utcnow

DEFAULT_TENANT_SLUG = "default"

_explicit_tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("flux_tenant", default=None)


class TenantRequired(RuntimeError):
    """A tenant-scoped query ran with no current tenant; wrap it in `tenant_scope()`."""


class Tenant(db.Model):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "metadata": self.metadata_ or {},
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "deleted_at": self.deleted_at.isoformat() if self.deleted_at else None,
        }


class TenantMembership(db.Model):
    """A platform account's role in a tenant (the dashboard's tenant administrators)."""

    __tablename__ = "tenant_memberships"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "account_id"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("platform_accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TenantScoped:
    """Mixin of every tenant-owned model: a `tenant_id` column, filled and filtered automatically."""

    @orm.declared_attr
    def tenant_id(cls) -> Mapped[str]:
        return mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


def current_tenant_id(required: bool = True) -> str | None:
    """The tenant of this unit of work: an explicit `tenant_scope()`, else the request's."""
    explicit = _explicit_tenant.get()
    if explicit is not None:
        return explicit
    if has_request_context():
        from flux.context import current_tenant_id as request_tenant_id  # that module imports this one

        return request_tenant_id()
    if required:
        raise TenantRequired("no current tenant: run this inside a request or `with tenant_scope(tenant_id):`")
    return None


@contextlib.contextmanager
def tenant_scope(tenant_id: str) -> Iterator[None]:
    """Run a block (CLI command, background job, test) as one tenant."""
    token = _explicit_tenant.set(tenant_id)
    try:
        yield
    finally:
        _explicit_tenant.reset(token)


@event.listens_for(orm.Session, "do_orm_execute")
def _scope_statements(state: orm.ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("all_tenants") or state.is_column_load or state.is_relationship_load:
        return
    if not state.is_orm_statement:
        _refuse_unscoped_core(state.statement)
    elif (scoped := _scoped_form(state)) is not None:
        state.statement = scoped
        tenant = {TENANT_PARAMETER: current_tenant_id()}
        parameters = state.parameters
        if isinstance(parameters, list):
            state.parameters = [{**row, **tenant} for row in parameters]
        else:
            state.parameters = {**(parameters or {}), **tenant}


def _refuse_unscoped_core(statement: sa.Executable) -> None:
    """A table-level (Core) statement through the session would skip the tenant criteria."""
    tables = sa.sql.util.find_tables(statement, include_aliases=True, include_joins=True, include_crud=True)
    scoped = [table.name for table in tables if getattr(table, "name", None) in _scoped_table_names()]
    if scoped:
        raise TenantRequired(
            f"a table-level statement on tenant-scoped {scoped} would see every tenant: query the model "
            "instead, or filter by tenant_id yourself and pass execution_options(all_tenants=True)"
        )


def _scoped_table_names() -> set[str]:
    return {
        mapper.local_table.name
        for mapper in db.Model.registry.mappers
        if issubclass(mapper.class_, TenantScoped) and mapper.local_table is not None
    }


def _scoped_form(state: orm.ORMExecuteState) -> sa.Executable | None:
    """The statement with the tenant criteria added, or None when it touches no scoped model.

    A constant criteria with a named parameter keeps SQLAlchemy's statement cache warm (a
    closure over the tenant id costs a parameter-extraction pass per query). The scoped
    copy is remembered per statement object: statements are immutable, and one built
    once at import (the hot reads) then skips the copy and its cache-key computation,
    about 40 µs per query (measured in-process).
    """
    statement = state.statement
    try:
        return _SCOPED_FORMS[statement]
    except KeyError:
        pass
    except TypeError:  # not weakly referenceable: no memo
        return statement.options(_TENANT_CRITERIA) if _touches_scoped_model(state) else None
    scoped = statement.options(_TENANT_CRITERIA) if _touches_scoped_model(state) else None
    _SCOPED_FORMS[statement] = scoped
    return scoped


# Keys are weak: a statement built per call is forgotten with it.
_SCOPED_FORMS: weakref.WeakKeyDictionary[sa.Executable, sa.Executable | None] = weakref.WeakKeyDictionary()


def _touches_scoped_model(state: orm.ORMExecuteState) -> bool:
    mapper = state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, TenantScoped):
        return True
    return state.is_select and any(issubclass(other.class_, TenantScoped) for other in state.all_mappers)


TENANT_PARAMETER = "flux_current_tenant_id"
_TENANT_VALUE = sa.bindparam(TENANT_PARAMETER)
_TENANT_CRITERIA = orm.with_loader_criteria(
    TenantScoped, lambda cls: cls.tenant_id == _TENANT_VALUE, include_aliases=True
)


def tenant_filter(table: sa.Table) -> sa.ColumnElement[bool]:
    """`table.tenant_id = <current tenant>`, for a table-level SELECT run with `read_rows`."""
    return table.c.tenant_id == _TENANT_VALUE


def read_rows(statement: sa.Select, parameters: dict[str, Any]) -> Sequence[sa.Row]:
    """The rows of a table-level SELECT, read on a pooled connection outside the ORM session.

    For the hottest reads of safe requests: the session's transaction, ORM compilation
    and object loading cost more than the rest of such a request (about 240 µs of
    480, measured in-process). Scoping is checked instead of added: every tenant-scoped
    table the statement reads must be filtered at its top level by `tenant_filter`
    (checked once per statement object, `TenantRequired` otherwise), and the current
    tenant is bound here, never by the caller. It does not see the session's pending
    changes, so use it only in a request that has written nothing.
    """
    if statement not in _FILTERED_STATEMENTS:
        _check_tenant_filtered(statement)
        _FILTERED_STATEMENTS.add(statement)
    with read_connection() as connection:
        return connection.execute(statement, {**parameters, TENANT_PARAMETER: current_tenant_id()}).all()


def insert_row(table: sa.Table, values: dict[str, Any]) -> None:
    """Append one row to a tenant-scoped table on its own connection, committed on return.

    For append-only records written on a hot path (an execution per function call),
    where the session's unit of work would cost more than the call itself. The tenant
    is the current one, set here and never by the caller. Run it when the request's
    session holds no write transaction: on SQLite that would wait on its lock.
    """
    if "tenant_id" in values:
        raise TenantRequired("insert_row sets tenant_id itself; leave it out")
    with immediate_transaction() as connection:
        connection.execute(table.insert(), {**values, "tenant_id": current_tenant_id()})


def _check_tenant_filtered(statement: sa.Select) -> None:
    conjuncts = statement.whereclause
    if conjuncts is None:
        conjuncts = ()
    elif isinstance(conjuncts, sa.BooleanClauseList) and conjuncts.operator is sa.sql.operators.and_:
        conjuncts = conjuncts.clauses
    else:
        conjuncts = (conjuncts,)
    filtered = {
        criterion.left.table
        for criterion in conjuncts
        if isinstance(criterion, sa.BinaryExpression)
        and criterion.operator is sa.sql.operators.eq
        and isinstance(criterion.right, sa.BindParameter)
        and criterion.right.key == TENANT_PARAMETER
        and isinstance(criterion.left, sa.Column)
        and criterion.left.name == "tenant_id"
    }
    scoped_names = _scoped_table_names()
    for table in sa.sql.util.find_tables(statement, include_aliases=True, include_selects=True):
        if table is statement:
            continue
        # An alias or a nested SELECT could read a scoped table past the top-level filter.
        if not isinstance(table, sa.Table) or (table.name in scoped_names and table not in filtered):
            raise TenantRequired(
                f"read_rows needs plain tables, each tenant-scoped one filtered with tenant_filter(): {table}"
            )


_FILTERED_STATEMENTS: weakref.WeakSet[sa.Select] = weakref.WeakSet()


@event.listens_for(orm.Session, "before_flush")
def _stamp_new_rows(session: orm.Session, _context, _instances) -> None:
    for instance in session.new:
        if isinstance(instance, TenantScoped) and getattr(instance, "tenant_id", None) is None:
            instance.tenant_id = current_tenant_id()


def find_tenant(slug_or_id: str) -> Tenant | None:
    """A live (not deleted) tenant row by slug or id."""
    query = sa.select(Tenant).where(
        sa.or_(Tenant.id == slug_or_id, Tenant.slug == slug_or_id), Tenant.deleted_at.is_(None)
    )
    return db.session.scalar(query)


@dataclass(frozen=True)
class TenantInfo:
    """What a request needs to know of its tenant: immutable, so it can be cached and shared."""

    id: str
    slug: str
    name: str

    @classmethod
    def of(cls, tenant: Tenant | TenantInfo) -> TenantInfo:
        return tenant if isinstance(tenant, TenantInfo) else cls(tenant.id, tenant.slug, tenant.name)


class TenantDirectory:
    """Live tenants by id or slug, cached: every request needs its tenant, rarely a fresh one.

    A tenant deleted or renamed elsewhere is seen within the cache's time limit.
    """

    def __init__(self, cache: TtlCache[TenantInfo | None]) -> None:
        self._cache = cache

    def lookup(self, slug_or_id: str) -> TenantInfo | None:
        """A live tenant by slug or id, or None."""
        found = self._cache.get(slug_or_id, _UNKNOWN)
        if found is _UNKNOWN:
            row = find_tenant(slug_or_id)
            found = TenantInfo.of(row) if row is not None else None
            self._cache.put(slug_or_id, found)
        return found


_UNKNOWN = TenantInfo("", "", "")


def membership_role(account_id: str | None, tenant_id: str) -> str | None:
    """A dashboard account's role in a tenant (`tenant_admin`, `tenant_member`), or None.

    Remembered for the rest of the request: the tenant check and the role check both ask.
    """
    cache = g.setdefault("flux_memberships", {}) if has_request_context() else {}
    if (account_id, tenant_id) not in cache:
        cache[account_id, tenant_id] = db.session.scalar(
            sa.select(TenantMembership.role).where(
                TenantMembership.account_id == account_id, TenantMembership.tenant_id == tenant_id
            )
        )
    return cache[account_id, tenant_id]


def default_tenant_id() -> str:
    """The id of the `default` tenant, created by the core migration; cached per request."""
    if has_request_context() and "flux_default_tenant" in g:
        return g.flux_default_tenant
    tenant_id = db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == DEFAULT_TENANT_SLUG))
    if tenant_id is None:
        raise TenantRequired("the default tenant is missing; run `fluxbase db upgrade`")
    if has_request_context():
        g.flux_default_tenant = tenant_id
    return tenant_id
