"""`/api/v1/admin/tenants…` (seed 004, "Manage tenants"): tenants, members, admins, settings.

Instance admins manage everything. A tenant admin reads the tenants it administers
and manages their members and settings; a service key does the same for its own
tenant (`tenants:read`, `tenants:write`). Creating, changing, deleting and recovering
tenants is for instance admins only; app users get 403. A tenant the caller may not
see answers 404, as an unknown one does.

The seed's `repair` and `schema…` routes serve per-tenant databases; this server keeps
every tenant in one shared schema (row-level tenancy), so they do not exist here and
`migrate` only reports the schema's state.
"""

from __future__ import annotations

from flask import current_app

from flux.api import (
    ADMIN_ROLES,
    ALREADY_EXISTS,
    NOT_FOUND,
    NOTHING_TO_UPDATE,
    ApiBlueprint,
    Page,
    Tag,
    answer,
    current_actor,
    db,
    error_codes,
    list_of,
    paginated,
    raises,
    require,
    schema_heads,
)
from plugins.tenants import store
from plugins.tenants.schemas import (
    DEFAULT_TENANT_FIXED,
    LAST_TENANT_ADMIN,
    TENANT_NOT_DELETED,
    AdminAdd,
    HardDelete,
    MemberAdd,
    MemberOut,
    MemberPath,
    MyTenant,
    SchemaState,
    SettingPath,
    SettingsChange,
    TenantChange,
    TenantCreate,
    TenantOut,
    TenantPath,
    TenantSetting,
    TenantSettings,
)

READ, WRITE = "tenants:read", "tenants:write"
UNKNOWN = error_codes.TENANT_NOT_FOUND
TENANT, TENANTS = {200: TenantOut}, {200: list_of(TenantOut)}
MEMBER, MEMBERS = {200: MemberOut, 201: MemberOut}, {200: list_of(MemberOut)}
DELETED = {204: None}

tenants_api = ApiBlueprint("tenants", __name__, url_prefix="/api/v1/admin/tenants", abp_tags=[Tag(name="tenants")])


def shown(tenant, status: int = 200):
    return answer(TenantOut.model_validate(tenant), status)


@tenants_api.get("", responses=TENANTS)
@require(*ADMIN_ROLES, scope=READ)
def list_tenants(query: Page):
    """Live tenants: every one for instance admins, those administered for a tenant admin, a key's own."""
    rows, total = store.page_of_tenants(current_actor(), query)
    return paginated((TenantOut.model_validate(row) for row in rows), total)


@tenants_api.get("/mine", responses={200: list_of(MyTenant)})
@require(*ADMIN_ROLES)
def my_tenants(query: Page):
    """The caller's memberships, with its role in each (the dashboard's tenant switcher)."""
    rows, total = store.memberships(current_actor().id, query)
    return paginated(
        (MyTenant.model_validate({**TenantOut.model_validate(row).model_dump(), "role": role}) for row, role in rows),
        total,
    )


@tenants_api.get("/deleted", responses=TENANTS)
@require(*store.INSTANCE_ROLES)
def list_deleted_tenants(query: Page):
    rows, total = store.page_of_tenants(current_actor(), query, deleted=True)
    return paginated((TenantOut.model_validate(row) for row in rows), total)


@tenants_api.post("", responses={201: TenantOut})
@require(*store.INSTANCE_ROLES)
@raises(ALREADY_EXISTS, error_codes.VALUE_TOO_LARGE)
def create_tenant(body: TenantCreate):
    tenant = store.create(body)
    db.session.commit()
    return shown(tenant, 201)


@tenants_api.get("/<id>", responses=TENANT)
@require(*ADMIN_ROLES, scope=READ)
@raises(UNKNOWN)
def get_tenant(path: TenantPath):
    return shown(store.visible(path.id, current_actor()))


@tenants_api.patch("/<id>", responses=TENANT)
@require(*store.INSTANCE_ROLES)
@raises(UNKNOWN, ALREADY_EXISTS, DEFAULT_TENANT_FIXED, NOTHING_TO_UPDATE)
def change_tenant(path: TenantPath, body: TenantChange):
    tenant = store.change(store.visible(path.id, current_actor(), lock=True), body)
    db.session.commit()
    store.forget_cached()
    return shown(tenant)


@tenants_api.delete("/<id>", responses=DELETED)
@require(*store.INSTANCE_ROLES)
@raises(UNKNOWN, DEFAULT_TENANT_FIXED)
def delete_tenant(path: TenantPath, query: HardDelete):
    """Soft delete (hidden, data kept), or with `?hard=true` the tenant and all its data, for good."""
    if query.hard:
        store.hard_delete(store.any_state(path.id, lock=True))
    else:
        store.soft_delete(store.visible(path.id, current_actor(), lock=True))
    db.session.commit()
    store.forget_cached()
    return "", 204


@tenants_api.post("/<id>/recover", responses=TENANT)
@require(*store.INSTANCE_ROLES)
@raises(UNKNOWN, TENANT_NOT_DELETED)
def recover_tenant(path: TenantPath):
    tenant = store.recover(store.any_state(path.id, lock=True))
    db.session.commit()
    store.forget_cached()
    return shown(tenant)


@tenants_api.post("/<id>/migrate", responses={200: SchemaState})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(UNKNOWN)
def migrate_tenant(path: TenantPath):
    """The schema's state for this tenant: one schema serves every tenant, so nothing is changed."""
    tenant = store.visible(path.id, current_actor())
    applied, pending = schema_heads(current_app)
    return answer(SchemaState(tenant_id=tenant.id, revisions=applied, pending=pending))


# --- members and admins -------------------------------------------------------------------


@tenants_api.get("/<id>/members", responses=MEMBERS)
@require(*ADMIN_ROLES, scope=READ)
@raises(UNKNOWN)
def list_members(path: TenantPath, query: Page):
    rows, total = store.page_of_members(store.visible(path.id, current_actor()), query)
    return paginated((MemberOut.model_validate(row) for row in rows), total)


@tenants_api.post("/<id>/members", responses={201: MemberOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(UNKNOWN, NOT_FOUND, ALREADY_EXISTS)
def add_member(path: TenantPath, body: MemberAdd):
    member = store.add_member(store.visible(path.id, current_actor(), lock=True), body.user_id, body.role)
    db.session.commit()
    return answer(MemberOut.model_validate(member), 201)


@tenants_api.delete("/<id>/members/<user_id>", responses=DELETED)
@require(*ADMIN_ROLES, scope=WRITE)
@raises(UNKNOWN, NOT_FOUND, LAST_TENANT_ADMIN)
def remove_member(path: MemberPath):
    actor = current_actor()
    store.remove_member(store.visible(path.id, actor, lock=True), path.user_id, actor)
    db.session.commit()
    return "", 204


@tenants_api.get("/<id>/admins", responses=MEMBERS)
@require(*ADMIN_ROLES, scope=READ)
@raises(UNKNOWN)
def list_admins(path: TenantPath, query: Page):
    rows, total = store.page_of_members(store.visible(path.id, current_actor()), query, role=store.TENANT_ADMIN)
    return paginated((MemberOut.model_validate(row) for row in rows), total)


@tenants_api.post("/<id>/admins", responses=MEMBER)
@require(*ADMIN_ROLES, scope=WRITE)
@raises(UNKNOWN, NOT_FOUND)
def add_admin(path: TenantPath, body: AdminAdd):
    """Make a dashboard account the tenant's admin: 201 when it was no member, 200 when promoted."""
    member, added = store.make_admin(store.visible(path.id, current_actor(), lock=True), body.user_id)
    db.session.commit()
    return answer(MemberOut.model_validate(member), 201 if added else 200)


@tenants_api.delete("/<id>/admins/<user_id>", responses=DELETED)
@require(*ADMIN_ROLES, scope=WRITE)
@raises(UNKNOWN, NOT_FOUND, LAST_TENANT_ADMIN)
def remove_admin(path: MemberPath):
    """The account stays a member of the tenant, without the admin role."""
    actor = current_actor()
    store.remove_admin(store.visible(path.id, actor, lock=True), path.user_id, actor)
    db.session.commit()
    return "", 204


# --- settings ---------------------------------------------------------------------------------


@tenants_api.get("/<id>/settings", responses={200: TenantSettings})
@require(*ADMIN_ROLES, scope=READ)
@raises(UNKNOWN)
def get_settings(path: TenantPath):
    return answer(TenantSettings(settings=store.settings_of(store.visible(path.id, current_actor()))))


@tenants_api.patch("/<id>/settings", responses={200: TenantSettings})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(UNKNOWN, error_codes.VALUE_TOO_LARGE)
def change_settings(path: TenantPath, body: SettingsChange):
    """Dotted keys to values (`{"settings": {"branding.company_name": "Acme"}}`); `null` removes a key."""
    settings = store.change_settings(store.visible(path.id, current_actor(), lock=True), body)
    db.session.commit()
    return answer(TenantSettings(settings=settings))


@tenants_api.get("/<id>/settings/<key>", responses={200: TenantSetting})
@require(*ADMIN_ROLES, scope=READ)
@raises(UNKNOWN, NOT_FOUND)
def get_setting(path: SettingPath):
    value = store.setting(store.visible(path.id, current_actor()), path.key)
    return answer(TenantSetting(key=path.key, value=value))


@tenants_api.delete("/<id>/settings/<key>", responses=DELETED)
@require(*ADMIN_ROLES, scope=WRITE)
@raises(UNKNOWN, NOT_FOUND)
def delete_setting(path: SettingPath):
    store.delete_setting(store.visible(path.id, current_actor(), lock=True), path.key)
    db.session.commit()
    return "", 204
