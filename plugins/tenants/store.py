"""Tenants, their members and their settings: who sees which tenant, every change, every audit record.

The API and the dashboard call these functions and only turn requests into arguments.
Who may see a tenant is decided here (`visible`), so every route answers an unknown
tenant and one the caller may not see with the same 404: probing reveals no names.
Soft-deleted tenants are invisible to every route but the deleted list, recovery and
hard deletion. The tenants' rows live in the core (`flux.tenancy`); this plugin manages them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from flux.api import (
    ALREADY_EXISTS,
    DEFAULT_TENANT_SLUG,
    MAX_LIMIT,
    NOT_FOUND,
    NOTHING_TO_UPDATE,
    Actor,
    BadRequest,
    Conflict,
    NotFound,
    Page,
    PlatformAccount,
    Tenant,
    TenantMembership,
    audit,
    db,
    default_tenant_id,
    error_codes,
    flush_or_conflict,
    flux_state,
    membership_role,
    page_of,
    tenant_scope,
    tenant_settings,
    utcnow,
)
from plugins.tenants.schemas import (
    DEFAULT_TENANT_FIXED,
    LAST_TENANT_ADMIN,
    TENANT_NOT_DELETED,
    SettingsChange,
    TenantChange,
    TenantCreate,
)

INSTANCE_ROLES = ("instance_admin", "admin")
TENANT_ADMIN, TENANT_MEMBER = "tenant_admin", "tenant_member"


def is_instance_wide(actor: Actor) -> bool:
    """Instance admins (and the seed's `admin` role) manage every tenant; service keys never do."""
    return actor.kind != "service_key" and actor.role in INSTANCE_ROLES


def administers(actor: Actor, tenant_id: str) -> bool:
    """Whether `actor` may read `tenant_id` and manage its members and settings."""
    if is_instance_wide(actor):
        return True
    if actor.kind == "service_key":
        return actor.tenant_id == tenant_id
    return actor.kind == "platform" and membership_role(actor.id, tenant_id) == TENANT_ADMIN


def _by_id_or_slug(id_or_slug: str) -> sa.ColumnElement[bool]:
    return sa.or_(Tenant.id == id_or_slug, Tenant.slug == id_or_slug)


def _unknown(id_or_slug: str) -> NotFound:
    return NotFound(f"tenant {id_or_slug!r} not found", code=error_codes.TENANT_NOT_FOUND)


def visible(id_or_slug: str, actor: Actor, lock: bool = False) -> Tenant:
    """A live tenant the actor administers, else 404 (unknown, deleted or someone else's alike).

    `lock` for a change: the tenant's row stays locked until commit, so a hard delete
    (which locks it too) runs wholly before the change, which then finds no tenant, or
    after it, and deletes what the change wrote (settings have no foreign key to stop them).
    """
    tenant = _live(id_or_slug, lock)
    if tenant is None or not administers(actor, tenant.id):
        raise _unknown(id_or_slug)
    return tenant


def _live(id_or_slug: str, lock: bool = False) -> Tenant | None:
    query = sa.select(Tenant).where(_by_id_or_slug(id_or_slug), Tenant.deleted_at.is_(None))
    return db.session.scalar(query.with_for_update() if lock else query)


def any_state(id_or_slug: str, lock: bool = False) -> Tenant:
    """A tenant, live or soft-deleted (instance admins only reach this); locked until commit if asked."""
    query = sa.select(Tenant).where(_by_id_or_slug(id_or_slug))
    tenant = db.session.scalar(query.with_for_update() if lock else query)
    if tenant is None:
        raise _unknown(id_or_slug)
    return tenant


def page_of_tenants(actor: Actor, page: Page, deleted: bool = False) -> tuple[list[Tenant], int]:
    """Live (or deleted) tenants the actor may see, oldest first."""
    query = sa.select(Tenant).where(Tenant.deleted_at.is_not(None) if deleted else Tenant.deleted_at.is_(None))
    if actor.kind == "service_key":
        query = query.where(Tenant.id == actor.tenant_id)
    elif not is_instance_wide(actor):
        administered = sa.select(TenantMembership.tenant_id).where(
            TenantMembership.account_id == actor.id, TenantMembership.role == TENANT_ADMIN
        )
        query = query.where(Tenant.id.in_(administered))
    return page_of(query.order_by(Tenant.created_at, Tenant.slug), page)


def memberships(account_id: str, page: Page) -> tuple[list[tuple[Tenant, str]], int]:
    """The live tenants an account is a member of, with its role in each."""
    query = (
        sa.select(Tenant, TenantMembership.role)
        .join(TenantMembership, TenantMembership.tenant_id == Tenant.id)
        .where(TenantMembership.account_id == account_id, Tenant.deleted_at.is_(None))
        .order_by(TenantMembership.created_at, Tenant.slug)
    )
    return page_of(query, page)


def switchable(actor: Actor) -> list[Tenant]:
    """The live tenants the dashboard's switcher offers: every one to instance admins, else the memberships.

    The first `MAX_LIMIT`, as one page of the API's lists; the core still checks each
    request's tenant (`may_act_in`), so this only decides what is offered.
    """
    page = Page(limit=MAX_LIMIT)
    if is_instance_wide(actor):
        return page_of_tenants(actor, page)[0]
    return [tenant for tenant, _role in memberships(actor.id, page)[0]]


def switch_target(actor: Actor, id_or_slug: str) -> Tenant:
    """A live tenant the actor may act in, for the switcher; else 404, as for an unknown tenant."""
    tenant = _live(id_or_slug)
    if tenant is None or not (is_instance_wide(actor) or membership_role(actor.id, tenant.id) is not None):
        raise _unknown(id_or_slug)
    return tenant


def create(body: TenantCreate) -> Tenant:
    tenant = Tenant(slug=body.slug, name=body.name, metadata_=body.metadata)
    db.session.add(tenant)
    flush_or_conflict(f"a tenant with the slug {body.slug!r} exists (perhaps soft-deleted)", ALREADY_EXISTS)
    _audit("tenant.create", tenant)
    return tenant


def change(tenant: Tenant, body: TenantChange) -> Tenant:
    given = body.model_dump(exclude_unset=True, exclude_none=True)
    if not given:
        raise BadRequest("name at least one of slug, name or metadata", code=NOTHING_TO_UPDATE)
    renames = {"slug", "name"} & given.keys()
    if tenant.slug == DEFAULT_TENANT_SLUG and any(given[field] != getattr(tenant, field) for field in renames):
        raise BadRequest("the default tenant cannot be renamed", code=DEFAULT_TENANT_FIXED)
    for field, value in given.items():
        setattr(tenant, "metadata_" if field == "metadata" else field, value)
    flush_or_conflict(f"a tenant with the slug {body.slug!r} exists (perhaps soft-deleted)", ALREADY_EXISTS)
    _audit("tenant.update", tenant, fields=sorted(given))
    return tenant


def soft_delete(tenant: Tenant) -> None:
    """Hide the tenant from every request; its rows stay until it is recovered or deleted for good."""
    _refuse_default(tenant)
    tenant.deleted_at = utcnow()
    _audit("tenant.delete", tenant, hard=False)


def recover(tenant: Tenant) -> Tenant:
    if tenant.deleted_at is None:
        raise Conflict(f"tenant {tenant.slug!r} is not deleted", code=TENANT_NOT_DELETED)
    tenant.deleted_at = None
    _audit("tenant.recover", tenant)
    return tenant


def hard_delete(tenant: Tenant) -> None:
    """Delete the tenant and every row any plugin keeps for it, in the caller's transaction.

    Each plugin's `delete_tenant_data` runs as that tenant; the tenant's row goes last,
    and the database's cascades remove whatever a plugin forgot. Its audit record goes to
    `default`, as the tenant's own trail goes with it.
    """
    _refuse_default(tenant)
    tenant_id = tenant.id
    with tenant_scope(tenant_id):
        flux_state().plugins.hook.delete_tenant_data(tenant_id=tenant_id)
    db.session.execute(sa.delete(TenantMembership).where(TenantMembership.tenant_id == tenant_id))
    db.session.execute(sa.delete(Tenant).where(Tenant.id == tenant_id))
    db.session.expunge(tenant)
    _audit("tenant.delete", tenant, trail=default_tenant_id(), hard=True)


def _audit(action: str, tenant: Tenant, /, trail: str | None = None, **details: Any) -> None:
    """Record in the managed tenant's own trail (or `trail`), where its admins read it, not the one acted in.

    An instance admin acts in `default`: its admins and `audit:read` keys would
    otherwise read every tenant's members and setting keys.
    """
    with tenant_scope(trail or tenant.id):
        audit.record(action, tenant.slug, tenant_id=tenant.id, **details)


def _refuse_default(tenant: Tenant) -> None:
    if tenant.slug == DEFAULT_TENANT_SLUG:
        raise BadRequest("the default tenant cannot be deleted", code=DEFAULT_TENANT_FIXED)


def forget_cached() -> None:
    """After a commit that deleted, recovered or renamed a tenant: this process sees it at once."""
    flux_state().tenants.forget()


# --- members and admins -------------------------------------------------------------------


def page_of_members(tenant: Tenant, page: Page, role: str | None = None) -> tuple[list[dict[str, Any]], int]:
    query = (
        sa.select(TenantMembership, PlatformAccount)
        .join(PlatformAccount, PlatformAccount.id == TenantMembership.account_id)
        .where(TenantMembership.tenant_id == tenant.id)
        .order_by(TenantMembership.created_at, PlatformAccount.email)
    )
    if role is not None:
        query = query.where(TenantMembership.role == role)
    rows, total = page_of(query, page)
    return [_member(membership, account) for membership, account in rows], total


def _member(membership: TenantMembership, account: PlatformAccount) -> dict[str, Any]:
    return {
        "user_id": account.id,
        "email": account.email,
        "name": account.name,
        "role": membership.role,
        "tenant_id": membership.tenant_id,
        "created_at": membership.created_at,
    }


def account_named(email_or_id: str) -> PlatformAccount:
    """A dashboard account by its e-mail address (stored in lower case) or its id, as a person names it in a form."""
    email = email_or_id.strip().lower()
    account = db.session.scalar(
        sa.select(PlatformAccount).where(sa.or_(PlatformAccount.id == email_or_id, PlatformAccount.email == email))
    )
    if account is None:
        raise NotFound(f"no dashboard account has the e-mail address or id {email_or_id!r}", code=NOT_FOUND)
    return account


def _account(user_id: str) -> PlatformAccount:
    account = db.session.get(PlatformAccount, user_id)
    if account is None:
        raise NotFound(f"no dashboard account has the id {user_id!r}", code=NOT_FOUND)
    return account


def _membership(tenant: Tenant, user_id: str) -> TenantMembership | None:
    return db.session.scalar(
        sa.select(TenantMembership).where(
            TenantMembership.tenant_id == tenant.id, TenantMembership.account_id == user_id
        )
    )


def add_member(tenant: Tenant, user_id: str, role: str) -> dict[str, Any]:
    account = _account(user_id)
    if _membership(tenant, user_id) is not None:
        raise Conflict(f"{account.email} is a member of {tenant.slug!r} already", code=ALREADY_EXISTS)
    membership = TenantMembership(tenant_id=tenant.id, account_id=account.id, role=role)
    db.session.add(membership)
    flush_or_conflict(f"{account.email} is a member of {tenant.slug!r} already", ALREADY_EXISTS)
    _audit("tenant.member.add", tenant, user_id=account.id, role=role)
    return _member(membership, account)


def make_admin(tenant: Tenant, user_id: str) -> tuple[dict[str, Any], bool]:
    """Make an account the tenant's admin, adding it as a member first if needed; True when it was added."""
    membership = _membership(tenant, user_id)
    if membership is None:
        return add_member(tenant, user_id, TENANT_ADMIN), True
    account = _account(user_id)
    if membership.role != TENANT_ADMIN:
        membership.role = TENANT_ADMIN
        _audit("tenant.admin.add", tenant, user_id=account.id)
    return _member(membership, account), False


def remove_member(tenant: Tenant, user_id: str, actor: Actor) -> None:
    membership = _held(tenant, user_id, None)
    _keep_an_admin(tenant, membership, actor)
    db.session.delete(membership)
    _audit("tenant.member.remove", tenant, user_id=user_id, role=membership.role)


def remove_admin(tenant: Tenant, user_id: str, actor: Actor) -> None:
    """The account stays a member, without the admin role."""
    membership = _held(tenant, user_id, TENANT_ADMIN)
    _keep_an_admin(tenant, membership, actor)
    membership.role = TENANT_MEMBER
    _audit("tenant.admin.remove", tenant, user_id=user_id)


def _held(tenant: Tenant, user_id: str, role: str | None) -> TenantMembership:
    membership = _membership(tenant, user_id)
    if membership is None or (role is not None and membership.role != role):
        what = "an admin" if role else "a member"
        raise NotFound(f"{user_id!r} is not {what} of {tenant.slug!r}", code=NOT_FOUND)
    return membership


def _keep_an_admin(tenant: Tenant, leaving: TenantMembership, actor: Actor) -> None:
    """The last tenant admin stays, unless an instance admin removes them.

    The tenant's row is locked first, so two admins removing each other take turns and
    the second sees the first's change.
    """
    if leaving.role != TENANT_ADMIN or is_instance_wide(actor):
        return
    any_state(tenant.id, lock=True)
    if admin_count(tenant) <= 1:
        raise Conflict(
            f"{tenant.slug!r} would have no admin left: add another admin first, or ask an instance admin",
            code=LAST_TENANT_ADMIN,
        )


def admin_count(tenant: Tenant) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(TenantMembership)
        .where(TenantMembership.tenant_id == tenant.id, TenantMembership.role == TENANT_ADMIN)
    )


# --- settings, in the key-value store -------------------------------------------------------
#
# One namespace per tenant, shared with the core's settings by category
# (`flux.tenant_settings`, seed 002): a key that starts with a category's name
# (`authentication.lockout.max_attempts`) is that category's leaf, typed and validated
# there, and audited as `settings.update` with its diff; any other key is the tenant's
# own, free-form, audited by key only.


def settings_of(tenant: Tenant) -> dict[str, Any]:
    """What the tenant has set: its own keys and the category leaves it stores (`/admin/settings` resolves them all)."""
    return flux_state().store.items_json(tenant_settings.namespace(tenant.id))


def setting(tenant: Tenant, key: str) -> Any:
    category = tenant_settings.catalog().owner_of(key)
    if category is not None:
        try:
            return tenant_settings.value(key, tenant.id)
        except KeyError:
            raise category.unknown(key) from None
    value = flux_state().store.get_json(tenant_settings.namespace(tenant.id), key, default=_ABSENT)
    if value is _ABSENT:
        raise _no_setting(tenant, key)
    return value


_ABSENT = object()


def _no_setting(tenant: Tenant, key: str) -> NotFound:
    return NotFound(f"tenant {tenant.slug!r} has no setting {key!r}", code=NOT_FOUND)


def change_settings(tenant: Tenant, body: SettingsChange) -> dict[str, Any]:
    """Set each given key; `null` removes one (a category's leaf goes back to its environment or default)."""
    catalog, by_category, own = tenant_settings.catalog(), defaultdict(dict), {}
    for key, value in body.settings.items():
        category = catalog.owner_of(key)
        if category is None:
            own[key] = value
        else:
            by_category[category.name].update(category.key_updates(key, value))
    with tenant_scope(tenant.id):  # audited in the managed tenant's trail, as every change here
        for name, updates in by_category.items():
            tenant_settings.check(tenant.id, name, updates, where=f"{name}.")
        for name, updates in by_category.items():
            tenant_settings.apply(tenant.id, name, updates, where=f"{name}.")
    if own:
        _change_own_settings(tenant, own)
    return settings_of(tenant)


def _change_own_settings(tenant: Tenant, changes: dict[str, Any]) -> None:
    """The tenant's free-form keys, audited with the keys, never the values."""
    store, namespace = flux_state().store, tenant_settings.namespace(tenant.id)
    removed = sorted(key for key, value in changes.items() if value is None)
    _audit("tenant.settings.update", tenant, keys=sorted(set(changes) - set(removed)), removed=removed)
    for key, value in changes.items():
        if value is None:
            store.delete(namespace, key)
        else:
            store.set_json(namespace, key, value)


def delete_setting(tenant: Tenant, key: str) -> None:
    """A category's leaf goes back to its environment or default; a missing own key is a 404."""
    category = tenant_settings.catalog().owner_of(key)
    if category is not None:
        with tenant_scope(tenant.id):
            tenant_settings.apply(tenant.id, category.name, category.key_updates(key, None))
        return
    if not flux_state().store.delete(tenant_settings.namespace(tenant.id), key):
        raise _no_setting(tenant, key)
    _audit("tenant.settings.delete", tenant, key=key)


def delete_settings(tenant_id: str) -> None:
    """The plugin's part of a hard delete."""
    flux_state().store.clear(tenant_settings.namespace(tenant_id))
