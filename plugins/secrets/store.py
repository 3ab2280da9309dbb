"""Function secrets of the current tenant: lookups, versioned writes, rollback, and the runtime's view.

Every query goes through the models, so the core scopes it to the current tenant. The
API modules and the dashboard page call these functions and only turn requests into
arguments.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

import sqlalchemy as sa

from flux.api import (
    BadRequest,
    Conflict,
    DecryptionError,
    NotFound,
    associated_data,
    audit,
    current_actor,
    current_tenant_id,
    db,
    environment_variables,
    error_codes,
    flush_or_conflict,
    flux_state,
    new_id,
    tenant_scope,
    unreadable_secret,
    utcnow,
)
from plugins.secrets.models import ENV_PREFIX, GLOBAL, NAMESPACE, FunctionSecret, SecretVersion
from plugins.secrets.schemas import ENV_NAME_TAKEN, VERSION_UNREADABLE, FunctionSecretChange, FunctionSecretCreate

log = logging.getLogger("flux.secrets")
EXPIRING_SOON = timedelta(days=7)
CHANGEABLE = ("value", "description", "expires_at")
VALUE_PURPOSE = "function-secret"


def value_aad(tenant_id: str, scope: str, namespace: str, name: str) -> bytes:
    """Associated data binding a secret's current value to its tenant, scope, namespace and name."""
    return associated_data(VALUE_PURPOSE, tenant_id, scope, namespace, name)


def version_aad(tenant_id: str, secret_id: str, version: int) -> bytes:
    """Associated data binding a stored version to its secret and number, so versions cannot be swapped."""
    return associated_data("function-secret-version", tenant_id, secret_id, version)


def env_name(name: str) -> str:
    """The variable a function reads the secret from: `api-key.v2` → `FLUXBASE_SECRET_API_KEY_V2`."""
    return ENV_PREFIX + name.upper().replace(".", "_").replace("-", "_")


def secrets_query(scope: str | None = None, namespace: str | None = None, search: str = "") -> sa.Select:
    """The tenant's secrets ordered by scope, namespace and name; filters are optional."""
    query = sa.select(FunctionSecret).order_by(FunctionSecret.scope, FunctionSecret.namespace, FunctionSecret.name)
    if scope:
        query = query.where(FunctionSecret.scope == scope)
    if namespace:
        query = query.where(FunctionSecret.namespace == namespace)
    if search:
        query = query.where(FunctionSecret.name.ilike(f"%{_escape_like(search)}%", escape="\\"))
    return query


def stats(now: datetime | None = None) -> dict[str, int]:
    """Counts for the dashboard cards: all, expiring within 7 days (not yet expired), expired."""
    now = now or utcnow()
    expires = FunctionSecret.expires_at
    query = sa.select(
        sa.func.count(),
        sa.func.count().filter(expires > now, expires <= now + EXPIRING_SOON),
        sa.func.count().filter(expires <= now),
    ).select_from(FunctionSecret)
    total, soon, expired = db.session.execute(query).one()
    return {"total": total, "expiring_soon": soon, "expired": expired}


def by_id(secret_id: str, for_update: bool = False) -> FunctionSecret:
    return _one(FunctionSecret.id == secret_id, for_update, f"secret {secret_id!r} not found")


def by_name(name: str, namespace: str | None, for_update: bool = False) -> FunctionSecret:
    """A secret by name: the namespace-scoped one of `namespace`, or the global one without it."""
    scope, namespace = (NAMESPACE, namespace) if namespace else (GLOBAL, "")
    where = sa.and_(FunctionSecret.name == name, FunctionSecret.scope == scope, FunctionSecret.namespace == namespace)
    place = f"namespace {namespace!r}" if namespace else "global scope"
    return _one(where, for_update, f"secret {name!r} not found in {place}")


def create(new: FunctionSecretCreate) -> FunctionSecret:
    """A new secret at version 1; 409 when its name, or the variable it becomes, is taken."""
    name, scope, namespace = new.name, new.scope, new.namespace
    variable = env_name(name)
    clash = db.session.scalar(
        sa.select(FunctionSecret).where(
            FunctionSecret.scope == scope,
            FunctionSecret.namespace == namespace,
            sa.or_(FunctionSecret.name == name, FunctionSecret.env_name == variable),
        )
    )
    if clash is not None and clash.name == name:
        raise Conflict(f"secret {name!r} already exists in {_place(clash)}", code=error_codes.ALREADY_EXISTS)
    if clash is not None:
        raise Conflict(
            f"{name!r} would be {variable}, which secret {clash.name!r} already is: choose another name",
            code=ENV_NAME_TAKEN,
        )
    actor_id, now = current_actor().id, utcnow()
    row = FunctionSecret(
        id=new_id(),  # set now, not on flush: the first version refers to it
        tenant_id=current_tenant_id(),
        name=name,
        env_name=variable,
        scope=scope,
        namespace=namespace,
        description=new.description or "",
        version=0,
        expires_at=new.expires_at,
        created_by=actor_id,
        updated_by=actor_id,
        created_at=now,
        updated_at=now,
    )
    _new_version(row, new.value)
    db.session.add(row)
    _flush(row)
    audit.record("secrets.created", name, **_where(row), version=row.version)
    return row


def update(row: FunctionSecret, change: FunctionSecretChange) -> FunctionSecret:
    """Change what `change` gives; only a new value makes a new version. 400 for nothing, or a new identity."""
    changed = [field for field in CHANGEABLE if field in change.model_fields_set]
    if not changed:
        raise BadRequest("nothing to change: give value, description or expires_at", code=error_codes.NOTHING_TO_UPDATE)
    identity = {"name": row.name, "scope": row.scope, "namespace": row.namespace}
    if any(getattr(change, field) not in (None, stored) for field, stored in identity.items()):
        raise BadRequest(
            "a secret's name, scope and namespace cannot change: create a new secret and delete this one",
            code=error_codes.INVALID_FIELD,
        )
    if change.value is not None:
        _new_version(row, change.value)
    if "description" in changed:
        row.description = change.description or ""
    if "expires_at" in changed:
        row.expires_at = change.expires_at
    _touch(row)
    _flush(row)
    audit.record("secrets.updated", row.name, **_where(row), version=row.version, fields=changed)
    return row


def rollback(row: FunctionSecret, version: int) -> FunctionSecret:
    """Make version `version`'s value current again, as a new version (history only grows)."""
    old = db.session.scalar(
        sa.select(SecretVersion).where(SecretVersion.secret_id == row.id, SecretVersion.version == version)
    )
    if old is None:
        raise NotFound(f"secret {row.name!r} has no version {version}", code=error_codes.NOT_FOUND)
    try:
        value = open_version(old)
    except DecryptionError:
        log.warning("secrets: version %s of %r (%s) does not open; rollback refused", version, row.name, row.id)
        raise Conflict(
            f"version {version} of secret {row.name!r} cannot be decrypted (changed in the database, or sealed "
            "with a key no longer in the key ring): roll back to another version",
            code=VERSION_UNREADABLE,
        ) from None
    _new_version(row, value)
    _touch(row)
    _flush(row)
    audit.record("secrets.rolled_back", row.name, **_where(row), version=row.version, from_version=version)
    return row


def delete(row: FunctionSecret) -> None:
    """Delete a secret and its whole history."""
    audit.record("secrets.deleted", row.name, **_where(row), version=row.version)
    db.session.execute(sa.delete(SecretVersion).where(SecretVersion.secret_id == row.id))
    db.session.delete(row)
    db.session.flush()


def versions_query(row: FunctionSecret) -> sa.Select:
    """The secret's versions, newest first (values stay sealed)."""
    return sa.select(SecretVersion).where(SecretVersion.secret_id == row.id).order_by(SecretVersion.version.desc())


def open_version(version: SecretVersion) -> str:
    return flux_state().encryptor.decrypt_text(
        version.encrypted_value, aad=version_aad(version.tenant_id, version.secret_id, version.version)
    )


# Built once: the runtime runs these on every invocation that reads a secret. Global
# rows have the namespace "". The IN lists let a lookup by variable probe the unique
# index (tenant_id, scope, namespace, env_name) (an OR alone made SQLite walk every row
# of the tenant); the OR then keeps the two real pairs. The namespace's row comes first.
_SECRETS = FunctionSecret.__table__
_IN_SCOPE = sa.and_(
    _SECRETS.c.scope.in_((GLOBAL, NAMESPACE)),
    _SECRETS.c.namespace.in_(("", sa.bindparam("namespace"))),
    sa.or_(
        sa.and_(_SECRETS.c.scope == GLOBAL, _SECRETS.c.namespace == ""),
        sa.and_(_SECRETS.c.scope == NAMESPACE, _SECRETS.c.namespace == sa.bindparam("namespace")),
    ),
    sa.or_(_SECRETS.c.expires_at.is_(None), _SECRETS.c.expires_at > sa.bindparam("now")),
)
_RUNTIME_COLUMNS = (_SECRETS.c.name, _SECRETS.c.env_name, _SECRETS.c.scope, _SECRETS.c.namespace)
_ROWS_OF_VARIABLE = (
    sa.select(*_RUNTIME_COLUMNS, _SECRETS.c.encrypted_value)
    .where(_SECRETS.c.env_name == sa.bindparam("variable"), _IN_SCOPE)
    .order_by(_SECRETS.c.scope.desc())
)
_ROWS_IN_SCOPE = sa.select(*_RUNTIME_COLUMNS, _SECRETS.c.encrypted_value).where(_IN_SCOPE).order_by(_SECRETS.c.scope)


def invocation_function_secret(tenant_id: str, namespace: str, name: str, layers: tuple[str, ...]) -> dict[str, str]:
    """One name's value in the `function` layer (a secret name) and the `env` layer (a variable), as asked.

    One indexed read of at most two rows (the namespace's, then the global one), and at
    most one value opened. A server environment variable `FLUXBASE_SECRET_<NAME>` wins
    over a stored secret of that variable (seed 001), and is the `function` secret
    `<NAME>` when no stored secret in scope is that variable.
    """
    found: dict[str, str] = {}
    if "function" in layers:
        variable = env_name(name)
        rows = _rows_of_variable(tenant_id, namespace, variable)
        named = next((row for row in rows if row.name == name), None)
        from_server = _server_variable(variable)
        if from_server is not None:
            if named is not None or (not rows and name == variable.removeprefix(ENV_PREFIX)):
                found["function"] = from_server
        elif named is not None:
            found["function"] = _open_for_runtime(tenant_id, named)
    if "env" in layers and name.startswith(ENV_PREFIX):
        from_server = _server_variable(name)
        if from_server is not None:
            found["env"] = from_server
        elif rows := _rows_of_variable(tenant_id, namespace, name):
            found["env"] = _open_for_runtime(tenant_id, rows[0])
    return found


def invocation_env(tenant_id: str, namespace: str) -> dict[str, str]:
    """Every `FLUXBASE_SECRET_*` variable a function of `namespace` reads: its unexpired secrets, then the server's.

    For `Deno.env.toObject()` only, which shows them all: a namespace's secret
    overrides the global one of its variable, and the server's environment both.
    """
    with tenant_scope(tenant_id):
        rows = db.session.execute(_ROWS_IN_SCOPE, {"namespace": namespace, "now": utcnow()}).all()
    variables = {row.env_name: _open_for_runtime(tenant_id, row) for row in rows}
    return {**variables, **server_environment()}


def _rows_of_variable(tenant_id: str, namespace: str, variable: str) -> list[sa.Row]:
    with tenant_scope(tenant_id):
        return db.session.execute(
            _ROWS_OF_VARIABLE, {"variable": variable, "namespace": namespace, "now": utcnow()}
        ).all()


def _server_variable(variable: str) -> str | None:
    return os.environ.get(variable) if variable != ENV_PREFIX else None


def _open_for_runtime(tenant_id: str, row: sa.Row) -> str:
    """A secret's current value; one that does not open fails the invocation, logged by name, never by value."""
    try:
        return flux_state().encryptor.open_text(
            row.encrypted_value, VALUE_PURPOSE, (tenant_id, row.scope, row.namespace, row.name)
        )
    except DecryptionError as error:
        log.error(
            "secrets: %r (%s %r) of tenant %s does not open: %s", row.name, row.scope, row.namespace, tenant_id, error
        )
        raise unreadable_secret(error) from None


def server_environment() -> dict[str, str]:
    """`FLUXBASE_SECRET_*` variables of the server process: secrets given to every function."""
    return {name: value for name, value in environment_variables(ENV_PREFIX).items() if name != ENV_PREFIX}


def _one(where: sa.ColumnElement[bool], for_update: bool, missing: str) -> FunctionSecret:
    query = sa.select(FunctionSecret).where(where)
    if for_update:
        query = query.with_for_update()  # concurrent writers of one secret take turns
    row = db.session.scalar(query)
    if row is None:
        raise NotFound(missing, code=error_codes.NOT_FOUND)
    return row


def _new_version(row: FunctionSecret, value: str) -> None:
    """Seal `value` as the secret's current value and as its next version."""
    encryptor = flux_state().encryptor
    row.version += 1
    row.encrypted_value = encryptor.encrypt(value, aad=value_aad(row.tenant_id, row.scope, row.namespace, row.name))
    db.session.add(
        SecretVersion(
            tenant_id=row.tenant_id,
            secret_id=row.id,
            version=row.version,
            encrypted_value=encryptor.encrypt(value, aad=version_aad(row.tenant_id, row.id, row.version)),
            created_by=current_actor().id,
            created_at=utcnow(),
        )
    )


def _touch(row: FunctionSecret) -> None:
    row.updated_by = current_actor().id
    row.updated_at = utcnow()


def _flush(row: FunctionSecret) -> None:
    """Write the changes; 409 when a concurrent request took the name or the version first."""
    flush_or_conflict(
        f"secret {row.name!r} was just changed by another request; try again", error_codes.CONCURRENT_CHANGE
    )


def _where(row: FunctionSecret) -> dict[str, str]:
    return {"scope": row.scope, "namespace": row.namespace}


def _place(row: FunctionSecret) -> str:
    return f"namespace {row.namespace!r}" if row.scope == NAMESPACE else "global scope"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
