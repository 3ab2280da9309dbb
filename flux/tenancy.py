"""Tenants, memberships, and the one mechanism that scopes tenant-owned rows.

Every tenant-owned model inherits `TenantScoped`. Every statement run through an ORM
session (the request's `db.session`, `separate_session()`) or `read_rows` is scoped by
`scoped_form`, so no statement has to remember a filter:

- an ORM SELECT, UPDATE or DELETE gets the criteria `tenant_id = <current tenant>` on
  every scoped model it reaches (joins, subqueries, relationships and aliases);
- a table-level SELECT, UPDATE or DELETE gets that WHERE on each scoped table it names
  directly;
- every INSERT into a scoped table writes the current tenant, and a new object gets it
  on flush.

What no filter could make safe is refused (`TenantRequired`): a scoped table hidden
from the WHERE (in a table-level join, alias, subquery or UPDATE … FROM, or named by
its table in an ORM statement without its model), raw SQL, an UPDATE or flush that
sets `tenant_id`, a bulk UPDATE by primary key, an INSERT that reads a scoped table,
an upsert whose conflict target leaves out `tenant_id`. So is a statement with no
current tenant; code that must cross tenants says `.execution_options(all_tenants=True)`.
Statements run on `db.engine` or on a session's connection are not seen: they are for
tables no tenant owns and for the operator's tools that work on every tenant
(migrations, key rotation); `tests/test_tenancy.py` keeps that list.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy import event, orm
from sqlalchemy.orm import Mapped, mapped_column

from flux.db import UtcDateTime, db, new_id, utcnow, writer_turn

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
    """Run a block (CLI command, background job, test) as one tenant.

    One session works for one tenant: objects it has already loaded stay in its identity
    map, and `session.get` answers those without asking the database. Use a fresh
    session (or `db.session.remove()`) before acting as another tenant.
    """
    token = _explicit_tenant.set(tenant_id)
    try:
        yield
    finally:
        _explicit_tenant.reset(token)


@event.listens_for(orm.Session, "do_orm_execute")
def _scope_statements(state: orm.ORMExecuteState) -> None:
    if state.execution_options.get("all_tenants") or state.is_column_load or state.is_relationship_load:
        return
    statement, parameters = state.statement, state.parameters
    if isinstance(statement, sa.Insert) and isinstance(parameters, list):  # one row per entry (executemany)
        if scoped_form(statement, state.is_orm_statement) is not None:
            state.parameters = [{**row, "tenant_id": current_tenant_id()} for row in parameters]
        return
    scoped = scoped_form(statement, state.is_orm_statement)
    if scoped is not None:
        if isinstance(statement, sa.Update):
            _refuse_moves(parameters)
            if state.is_orm_statement and isinstance(parameters, list):
                raise TenantRequired("a bulk UPDATE by primary key takes no criteria: update with a WHERE instead")
        state.statement = scoped
        state.parameters = _with_tenant(parameters)


def _with_tenant(parameters: dict | list | None) -> dict | list:
    tenant = {TENANT_PARAMETER: current_tenant_id()}
    if isinstance(parameters, list):
        return [{**row, **tenant} for row in parameters]
    return {**(parameters or {}), **tenant}


def scoped_form(statement: sa.Executable, orm: bool = False) -> sa.Executable | None:
    """The statement limited to the current tenant's rows, or None when it touches no tenant-scoped table.

    The tenant is a named parameter, `TENANT_PARAMETER`, bound at execution: the scoped
    form stays the same for every tenant, so SQLAlchemy's statement cache keeps it
    compiled. It is remembered per statement object (statements are immutable): one
    built once at import, as the hot reads are, then skips the checks, the copy and its
    cache key. ORM and table-level execution remember apart, as they scope differently.
    """
    memo = _SCOPED_FORMS[orm]
    try:
        return memo[statement]
    except KeyError:
        pass
    except TypeError:  # not weakly referenceable: no memo
        return _scope(statement, orm)
    scoped = memo[statement] = _scope(statement, orm)
    return scoped


# Keys are weak: a statement built per call is forgotten with it.
_SCOPED_FORMS: dict[bool, weakref.WeakKeyDictionary[sa.Executable, sa.Executable | None]] = {
    True: weakref.WeakKeyDictionary(),
    False: weakref.WeakKeyDictionary(),
}


def _scope(statement: sa.Executable, orm: bool) -> sa.Executable | None:
    """ORM statements get loader criteria (reaching every mapped entity); table-level ones a WHERE per table."""
    names = _scoped_table_names()
    survey = _Survey(statement, names)
    if survey.raw_sql:
        raise TenantRequired(
            "raw SQL (text()) cannot be limited to a tenant: use the models or tables, "
            "or say execution_options(all_tenants=True)"
        )
    if isinstance(statement, sa.Insert):
        return _scope_insert(statement, names)
    if isinstance(statement, sa.Update) and statement.table.name in names:
        _refuse_moves(statement._values or {})  # private: no public accessor for the SET
    if not orm:
        return _scope_table_statement(statement, names)
    if survey.by_table_only:
        raise TenantRequired(
            f"an ORM statement names tenant-scoped {sorted(survey.by_table_only)[0]} by its table, which the "
            "criteria do not reach: use the model's attributes"
        )
    return statement.options(_TENANT_CRITERIA) if survey.touched else None


class _Survey:
    """What a statement reaches, in one walk over it.

    `touched`: the tenant-scoped tables it reads or writes. `by_table_only`: those it
    names only through a table's columns, never through a model, which the ORM's
    criteria would not limit (columns of a table whose model is also there are fine:
    `session.get` builds those). `raw_sql`: whether `text()` appears anywhere.
    """

    def __init__(self, statement: sa.Executable, names: set[str]) -> None:
        self.raw_sql = False
        self.touched: set[str] = set()
        mapped: set[str] = set()
        plain: set[str] = set()
        for element in sa.sql.visitors.iterate(statement):
            if isinstance(element, sa.TextClause):
                self.raw_sql = True
            entity = getattr(element, "_annotations", {}).get("parententity")  # how the ORM marks what it built
            if entity is not None:
                mapped.add(entity.mapper.local_table.name)
            elif isinstance(element, sa.Column) and getattr(element.table, "name", None) in names:
                plain.add(element.table.name)
            elif isinstance(element, sa.Table) and element.name in names:
                self.touched.add(element.name)
        self.touched |= (mapped | plain) & names
        self.by_table_only = plain - mapped


def _refuse_moves(values: Any) -> None:
    """An UPDATE of scoped rows may not set their tenant: that would move them to another tenant."""
    rows = values if isinstance(values, list) else [values]
    if any(getattr(key, "key", key) == "tenant_id" for row in rows for key in (row or {})):
        raise TenantRequired("an UPDATE may not set tenant_id: rows stay in the tenant that owns them")


def _scope_insert(statement: sa.Insert, names: set[str]) -> sa.Insert | None:
    """An INSERT writes the current tenant; what it reads and what an upsert updates stay in it."""
    for element in sa.sql.util.find_tables(statement, include_selects=True, check_columns=True):
        if isinstance(element, sa.sql.selectable.SelectBase) and any(
            table.name in names for table in sa.sql.util.find_tables(element)
        ):
            raise TenantRequired("an INSERT reads a tenant-scoped table through a SELECT: insert the rows themselves")
    if statement.table.name not in names:
        return None
    conflict = statement._post_values_clause  # private: the dialects' ON CONFLICT
    if conflict is not None and hasattr(conflict, "update_values_to_set"):
        targets = {getattr(column, "key", column) for column in conflict.inferred_target_elements or ()}
        updates = {getattr(key, "key", key) for key in dict(conflict.update_values_to_set)}
        if "tenant_id" not in targets or "tenant_id" in updates:
            raise TenantRequired(
                "ON CONFLICT DO UPDATE on a tenant-scoped table must name tenant_id among its conflict "
                "columns and must not set it: otherwise a conflict could update another tenant's row"
            )
    return statement.values(tenant_id=_TENANT_VALUE)


def _scope_table_statement(statement: sa.Executable, names: set[str]) -> sa.Executable | None:
    """A table-level SELECT, UPDATE or DELETE with `tenant_id = <current tenant>` on each scoped table.

    Only where that WHERE is enough: the scoped tables must be plain tables of the
    statement itself, not in a join, an alias, a nested SELECT or an UPDATE's FROM,
    which it could not reach; those are refused (query the models: the ORM's criteria
    reach them).
    """
    if isinstance(statement, (sa.Update, sa.Delete)):
        targets = [statement.table]
    elif isinstance(statement, sa.Select):
        targets = [table for table in statement.get_final_froms() if isinstance(table, sa.Table)]
    else:
        targets = []
    found = sa.sql.util.find_tables(
        statement, include_aliases=True, include_joins=True, include_selects=True, check_columns=True
    )
    for element in found:
        if element is statement or element in targets:
            continue
        if isinstance(element, sa.Table):
            reached = [element] if element.name in names else []
        else:
            reached = [table for table in sa.sql.util.find_tables(element) if table.name in names]
        if reached:
            raise TenantRequired(
                f"a table-level statement reaches tenant-scoped {reached[0].name} where a WHERE cannot "
                f"limit it ({type(element).__name__}): query the model instead"
            )
    scoped = [table for table in targets if table.name in names]
    return statement.where(*(table.c.tenant_id == _TENANT_VALUE for table in scoped)) if scoped else None


def read_rows(statement: sa.Select, parameters: dict[str, Any]) -> Sequence[sa.Row]:
    """The rows of a SELECT, scoped as in a session, read on a pooled connection of its own.

    The fast path of the hottest reads (a user's setting, the signed-in user, the
    function an invocation runs): without the session's unit of work and ORM loading
    they cost about half as much (`bench/fast_paths.py`). Write the statement on tables
    (`Model.__table__.c`); the current tenant is added as for every statement. It reads
    committed rows only, so it does not see the session's own pending changes.
    """
    scoped, parameters = _apart(statement, parameters)
    with db.engine.connect() as connection:
        return connection.execute(scoped, parameters).all()


def write_rows(statement: sa.Executable, parameters: dict[str, Any]) -> int:
    """A table-level write, scoped as in a session, on a pooled connection of its own, committed at once.

    `read_rows`' twin, for the hottest write: an invocation's execution record, which
    then needs no session at all (`bench/fast_paths.py`). Returns the rows it changed.
    """
    scoped, parameters = _apart(statement, parameters)
    with writer_turn(db.engine), db.engine.begin() as connection:
        return connection.execute(scoped, parameters).rowcount


def _apart(statement: sa.Executable, parameters: dict[str, Any]) -> tuple[sa.Executable, dict[str, Any]]:
    scoped = scoped_form(statement, orm=False)
    if scoped is None:
        return statement, parameters
    return scoped, {**parameters, TENANT_PARAMETER: current_tenant_id()}


def _scoped_table_names() -> set[str]:
    return {
        mapper.local_table.name
        for mapper in db.Model.registry.mappers
        if issubclass(mapper.class_, TenantScoped) and mapper.local_table is not None
    }


TENANT_PARAMETER = "flux_current_tenant_id"
_TENANT_VALUE = sa.bindparam(TENANT_PARAMETER)
_TENANT_CRITERIA = orm.with_loader_criteria(
    TenantScoped, lambda cls: cls.tenant_id == _TENANT_VALUE, include_aliases=True
)


@event.listens_for(orm.Session, "before_flush")
def _stamp_new_rows(session: orm.Session, _context, _instances) -> None:
    """New objects get the current tenant; none may be written into, or moved to, another one."""
    current = current_tenant_id(required=False)
    for instance in session.new:
        if isinstance(instance, TenantScoped):
            if instance.tenant_id is None:
                instance.tenant_id = current_tenant_id()
            elif current is not None and instance.tenant_id != current:
                raise TenantRequired("a new row names another tenant than the one this work acts in")
    for instance in session.dirty:
        if isinstance(instance, TenantScoped) and sa.inspect(instance).attrs.tenant_id.history.deleted:
            raise TenantRequired("a row's tenant_id may not change: rows stay in the tenant that owns them")


def delete_tenant_rows(tenant_id: str, *models: type[TenantScoped]) -> None:
    """Delete every row of each model that belongs to `tenant_id`, in the order given (children first).

    For `delete_tenant_data` hooks, which run as that tenant: the scoping adds the same
    condition, so a call outside that tenant's scope deletes nothing.
    """
    for model in models:
        db.session.execute(
            sa.delete(model).where(model.tenant_id == tenant_id), execution_options={"synchronize_session": False}
        )


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
    """Every live tenant by id and by slug: one copy per process, read in one query, at most `ttl` seconds old.

    Every request needs its tenant. A copy per tenant would be read again whenever it
    expired, so with many tenants a large share of requests would miss
    (`bench/tenants.py`, 1,000 tenants); one query for all of them costs a few
    milliseconds per worker per `ttl`. A tenant deleted or renamed elsewhere is seen
    within `ttl`; `forget` makes this process see its own change at once.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._copy: tuple[float, dict[str, TenantInfo]] | None = None
        self._generation = 0  # how many times `forget` ran: a read begun before one is not kept
        self._lock = threading.Lock()

    def lookup(self, slug_or_id: str) -> TenantInfo | None:
        """A live tenant by slug or id, or None.

        A name the copy lacks is looked up on its own: a tenant created through another
        process is there at once, and only known tenants can be stale.
        """
        copy = self._copy
        tenants = self._reload() if copy is None or time.monotonic() - copy[0] > self.ttl else copy[1]
        found = tenants.get(slug_or_id)
        if found is None:
            row = find_tenant(slug_or_id)
            found = TenantInfo.of(row) if row is not None else None
        return found

    def _reload(self) -> dict[str, TenantInfo]:
        generation, read_at = self._generation, time.monotonic()
        tenants = live_tenants()
        with self._lock:
            if generation == self._generation:  # else a change committed during the read: it may be stale
                self._copy = (read_at, tenants)
        return tenants

    def forget(self) -> None:
        """Drop the copy: a tenant was deleted, recovered or renamed here."""
        with self._lock:
            self._generation += 1
            self._copy = None


def live_tenants() -> dict[str, TenantInfo]:
    """Every live tenant, by id and by slug."""
    tenants: dict[str, TenantInfo] = {}
    for tenant_id, slug, name in db.session.execute(_LIVE_TENANTS):
        tenants[tenant_id] = tenants[slug] = TenantInfo(tenant_id, slug, name)
    return tenants


_LIVE_TENANTS = sa.select(Tenant.id, Tenant.slug, Tenant.name).where(Tenant.deleted_at.is_(None))


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
