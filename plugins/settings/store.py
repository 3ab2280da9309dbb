"""Settings and secrets of the current tenant: lookups with fallback, writes, encryption, audit.

Every query goes through the `Setting` model, so the core scopes it to the current
tenant; `user_id=None` means the tenant's system rows. The API modules (and a later
dashboard page) call these functions and only turn requests into arguments.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from flux.api import (
    BadRequest,
    Conflict,
    DecryptionError,
    NotFound,
    Page,
    associated_data,
    audit,
    current_actor,
    current_tenant_id,
    db,
    error_codes,
    flush_or_conflict,
    flux_state,
    new_id,
    page_of,
    read_rows,
    tenant_scope,
    unreadable_secret,
    upsert_insert,
    utcnow,
)
from plugins.settings.models import Setting
from plugins.settings.schemas import KEY_IS_SECRET, SecretChange

log = logging.getLogger("flux.settings")
AAD_PURPOSE = "settings-secret"
UNCHANGED: Any = object()  # "leave the value as it is": None is a value a setting may hold


def setting_secret_aad(tenant_id: str, user_id: str | None, key: str) -> bytes:
    """Associated data binding a sealed value to its tenant, owner and key."""
    return associated_data(AAD_PURPOSE, *_aad_parts(tenant_id, user_id, key))


def _aad_parts(tenant_id: str, user_id: str | None, key: str) -> tuple[str, str, str]:
    return tenant_id, user_id or "", key


def _owned_by(user_id: str | None) -> sa.ColumnElement[bool]:
    return Setting.user_id.is_(None) if user_id is None else Setting.user_id == user_id


def find(key: str, user_id: str | None) -> Setting | None:
    """The row of `key` owned by `user_id` (the system's with `None`), plain or secret."""
    return db.session.scalar(sa.select(Setting).where(Setting.key == key, _owned_by(user_id)))


def not_found(kind: str, key: str, where: str = "") -> NotFound:
    return NotFound(f"{kind} {key!r} not found {where}".rstrip(), code=error_codes.NOT_FOUND)


def nothing_to_update(fields: str) -> BadRequest:
    return BadRequest(f"nothing to update: give {fields}", code=error_codes.NOTHING_TO_UPDATE)


def get_setting(key: str, user_id: str | None) -> Setting:
    """A plain setting of one owner; 404 when there is none (a secret of that key is not one)."""
    row = find(key, user_id)
    if row is None or row.is_secret:
        raise not_found("setting", key)
    return row


def get_setting_secret(key: str, user_id: str | None) -> Setting:
    """A secret of one owner; 404 when there is none, whoever else has one of that key."""
    row = find(key, user_id)
    if row is None or not row.is_secret:
        raise not_found("secret", key)
    return row


# `GET /settings/user/<key>` is the hot path: a statement built once (building it per
# request cost about 8% of the request), read with `read_rows`.
_ENTRIES = Setting.__table__
_OWN_OR_SYSTEM = sa.select(_ENTRIES.c.key, _ENTRIES.c.value, _ENTRIES.c.user_id).where(
    _ENTRIES.c.key == sa.bindparam("key"),
    _ENTRIES.c.is_secret.is_(False),
    sa.or_(_ENTRIES.c.user_id == sa.bindparam("user_id"), _ENTRIES.c.user_id.is_(None)),
)


def resolve(key: str, user_id: str) -> sa.Row | None:
    """The user's own plain setting, else the system's (`key`, `value`, `user_id`); secrets never take part."""
    rows = read_rows(_OWN_OR_SYSTEM, {"key": key, "user_id": user_id})
    return next((row for row in rows if row.user_id is not None), rows[0] if rows else None)


def page_of_rows(user_id: str | None, secret: bool, page: Page) -> tuple[list[Setting], int]:
    """One page of an owner's plain settings or secrets, ordered by key, and how many there are."""
    query = sa.select(Setting).where(_owned_by(user_id), Setting.is_secret.is_(secret)).order_by(Setting.key)
    return page_of(query, page)


def visible_system_settings(
    include_private: bool, page: Page, keys: list[str] | None = None
) -> tuple[list[Setting], int]:
    """Plain system settings, public ones only unless `include_private`; optionally only `keys`."""
    query = sa.select(Setting).where(Setting.user_id.is_(None), Setting.is_secret.is_(False)).order_by(Setting.key)
    if not include_private:
        query = query.where(Setting.is_public.is_(True))
    if keys is not None:
        query = query.where(Setting.key.in_(keys))
    return page_of(query, page)


def create_setting(
    user_id: str | None, key: str, value: Any, description: str | None, is_public: bool | None = None
) -> Setting:
    """A new plain setting; 409 when the owner already has `key` (setting or secret)."""
    row = _new_row(user_id, key, description, secret=False)
    row.value = value
    row.is_public = bool(is_public) and user_id is None
    _store(row, "created")
    return row


def put_setting(user_id: str, key: str, value: Any, description: str | None) -> Setting:
    """Create or replace a user's plain setting; 409 when the user has a secret of that key.

    One INSERT … ON CONFLICT DO UPDATE: with a read first and an insert after, two
    concurrent PUTs of a new key both read nothing, and the second insert failed with
    409. The update leaves a secret of that key alone (no row comes back: 409).
    """
    now, fields = utcnow(), _new_fields(user_id, key, description, secret=False)
    insert = upsert_insert()(Setting).values(
        **fields, id=new_id(), value=value, is_public=False, created_at=now, updated_at=now
    )
    changes = {"value": insert.excluded["value"], "updated_by": fields["updated_by"], "updated_at": now}
    if description is not None:
        changes["description"] = description
    upsert = insert.on_conflict_do_update(
        index_elements=["tenant_id", "user_id", "key"],
        index_where=Setting.user_id.is_not(None),
        set_=changes,
        where=Setting.is_secret.is_(False),
    )
    row = db.session.scalar(upsert.returning(Setting), execution_options={"populate_existing": True})
    if row is None:
        raise _is_a_secret(key)
    return row


def change_setting(
    row: Setting, *, value: Any = UNCHANGED, description: str | None = None, is_public: bool | None = None
) -> Setting:
    """Update the given fields of a plain setting (`is_public` only for system settings)."""
    if row.is_secret:
        raise _is_a_secret(row.key)
    changed = []
    if value is not UNCHANGED:
        row.value = value
        changed.append("value")
    if description is not None:
        row.description = description
        changed.append("description")
    if is_public is not None and row.user_id is None:
        row.is_public = is_public
        changed.append("is_public")
    _touch(row)
    _store(row, "updated", fields=changed, is_public=row.is_public if row.user_id is None else None)
    return row


def create_setting_secret(user_id: str | None, key: str, plaintext: str, description: str | None) -> Setting:
    """A new secret, sealed with the user's derived key (the master key for system secrets)."""
    row = _new_row(user_id, key, description, secret=True)
    row.value = None
    _seal(row, plaintext)
    _store(row, "created")
    return row


def change_setting_secret(row: Setting, plaintext: str | None, description: str | None) -> Setting:
    """Re-seal a secret when `plaintext` is given, and/or change its description."""
    changed = []
    if plaintext is not None:
        _seal(row, plaintext)
        changed.append("value")
    if description is not None:
        row.description = description
        changed.append("description")
    _touch(row)
    _store(row, "updated", fields=changed)
    return row


def change_setting_secret_by_key(user_id: str | None, key: str, change: SecretChange) -> Setting:
    """Re-seal and/or describe the secret `key` of one owner; 400 when `change` names nothing."""
    row = get_setting_secret(key, user_id)
    if change.value is None and change.description is None:
        raise nothing_to_update("a new value, a new description, or both")
    return change_setting_secret(row, change.value, change.description)


def delete(row: Setting) -> None:
    _audit(row, "deleted")
    db.session.delete(row)
    db.session.flush()


def open_setting_secret(row: Setting | sa.Row) -> str:
    """The plaintext of a secret row; `DecryptionError` when it does not open for this row."""
    parts = _aad_parts(row.tenant_id, row.user_id, row.key)
    return flux_state().encryptor.open_text(row.encrypted_value or "", AAD_PURPOSE, parts, user_id=row.user_id)


# Built once: every invocation that reads a secret runs these, one key at a time. Each
# is an equality lookup on one of the partial unique indexes (system rows, user rows).
_SECRET_ROWS = sa.select(
    _ENTRIES.c.id, _ENTRIES.c.tenant_id, _ENTRIES.c.user_id, _ENTRIES.c.key, _ENTRIES.c.encrypted_value
).where(_ENTRIES.c.key == sa.bindparam("key"), _ENTRIES.c.is_secret.is_(True))
_SYSTEM_SECRET = _SECRET_ROWS.where(_ENTRIES.c.user_id.is_(None))
_USER_SECRET = _SECRET_ROWS.where(_ENTRIES.c.user_id == sa.bindparam("user_id"))


def invocation_setting_secret(tenant_id: str, user_id: str | None, key: str, layers: tuple[str, ...]) -> dict[str, str]:
    """The user's secret `key` (`user` layer) and the tenant's (`system`), as asked, decrypted for one invocation.

    A value that does not open (sealed with a key this server lacks, tampered with, or
    sealed for another row) fails the invocation (`flux.errors.unreadable_secret`)
    rather than reading as absent; it is logged by key and row id, never by value.
    """
    asked = []
    if "user" in layers and user_id is not None:
        asked.append(("user", _USER_SECRET))
    if "system" in layers:
        asked.append(("system", _SYSTEM_SECRET))
    found: dict[str, str] = {}
    with tenant_scope(tenant_id):
        for layer, statement in asked:
            row = db.session.execute(statement, {"key": key, "user_id": user_id}).first()
            if row is None:
                continue
            try:
                found[layer] = open_setting_secret(row)
            except DecryptionError as error:
                log.error("settings: secret %r (row %s) of tenant %s does not open: %s", key, row.id, tenant_id, error)
                raise unreadable_secret(error) from None
    return found


def _is_a_secret(key: str) -> Conflict:
    return Conflict(f"{key!r} is a secret; change it through the secrets API", code=KEY_IS_SECRET)


def _new_row(user_id: str | None, key: str, description: str | None, secret: bool) -> Setting:
    if find(key, user_id) is not None:
        raise Conflict(f"{key!r} already exists", code=error_codes.ALREADY_EXISTS)
    return Setting(**_new_fields(user_id, key, description, secret))


def _new_fields(user_id: str | None, key: str, description: str | None, secret: bool) -> dict[str, Any]:
    """The columns a new row starts with, by the current tenant and actor."""
    actor_id = current_actor().id
    # The tenant is set now rather than on flush: a secret's associated data needs it.
    return {
        "tenant_id": current_tenant_id(),
        "user_id": user_id,
        "key": key,
        "description": description or "",
        "is_secret": secret,
        "created_by": actor_id,
        "updated_by": actor_id,
    }


def _seal(row: Setting, plaintext: str) -> None:
    row.encrypted_value = flux_state().encryptor.encrypt(
        plaintext, aad=setting_secret_aad(row.tenant_id, row.user_id, row.key), user_id=row.user_id
    )


def _touch(row: Setting) -> None:
    row.updated_by = current_actor().id
    row.updated_at = utcnow()


def _store(row: Setting, verb: str, **details: Any) -> None:
    """Write the row (409 when a concurrent request took its key first), then audit it."""
    db.session.add(row)
    flush_or_conflict(f"{row.key!r} was just created by another request", error_codes.ALREADY_EXISTS)
    _audit(row, verb, **{name: value for name, value in details.items() if value is not None})


def _audit(row: Setting, verb: str, **details: Any) -> None:
    """System settings and every secret are audited (by key, never by value); user settings are not."""
    if row.user_id is None:
        kind = "secret" if row.is_secret else "system"
    elif row.is_secret:
        kind, details = "user_secret", {**details, "user_id": row.user_id}
    else:
        return
    audit.record(f"settings.{kind}.{verb}", row.key, **details)
