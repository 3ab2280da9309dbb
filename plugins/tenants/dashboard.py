"""The dashboard's Tenants page and its tenant switcher.

The list (create, soft delete, recover, hard delete) is for instance admins, as the
API's routes are. A tenant's members page follows the API's member routes: instance
admins and the tenant's own admins (`store.visible`), so the last-admin rule applies to
the latter. Every change goes through `store.py`, which audits it, so the page and the
API cannot disagree; a refused form flashes its fields' messages, a refusal of the store
its own, with the API's status.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from flux.api import (
    ADMIN_ROLES,
    MAX_LIMIT,
    SIGNED_IN,
    ApiError,
    BadRequest,
    Page,
    Tenant,
    current_actor,
    error_codes,
    invalid,
    refused,
    require,
    saved,
)
from plugins.tenants import store, switcher
from plugins.tenants.forms import HardDeleteForm, MemberForm, SwitchForm, TenantForm

pages = Blueprint("tenants_pages", __name__, url_prefix="/tenants", template_folder="templates")
TENANT_ID = "<string(maxlength=63):tenant_id>"
USER_ID = "<string(maxlength=36):user_id>"
ALL = Page(limit=MAX_LIMIT)


def _render(status: int = 200, tenant_form: TenantForm | None = None) -> ResponseReturnValue:
    actor = current_actor()
    live, live_total = store.page_of_tenants(actor, ALL)
    deleted, deleted_total = store.page_of_tenants(actor, ALL, deleted=True)
    body = render_template(
        "tenants/index.html",
        live=live,
        live_total=live_total,
        deleted=deleted,
        deleted_total=deleted_total,
        form=tenant_form or TenantForm(formdata=None),
    )
    return body, status


def _render_tenant(tenant: Tenant, status: int = 200, form: MemberForm | None = None) -> ResponseReturnValue:
    members, total = store.page_of_members(tenant, ALL)
    body = render_template(
        "tenants/tenant.html", tenant=tenant, members=members, total=total, form=form or MemberForm(formdata=None)
    )
    return body, status


def _saved_and_forgotten(message: str) -> ResponseReturnValue:
    """`saved` for changes to which tenants exist: this process's tenant cache forgets them after the commit."""
    response = saved(message)
    store.forget_cached()
    return response


@pages.get("/")
@require(*store.INSTANCE_ROLES)
def index() -> ResponseReturnValue:
    return _render()


@pages.post("/")
@require(*store.INSTANCE_ROLES)
def create() -> ResponseReturnValue:
    form = TenantForm()
    if not form.validate():
        return invalid(form, _render, tenant_form=form)
    try:
        tenant = store.create(form.model)
    except ApiError as error:
        return refused(error, _render, tenant_form=form)
    return saved(f"Created the tenant “{tenant.name}” ({tenant.slug}).")


@pages.post(f"/{TENANT_ID}/<any(delete, recover):action>")
@require(*store.INSTANCE_ROLES)
def soft_delete_or_recover(tenant_id: str, action: str) -> ResponseReturnValue:
    """Hide a live tenant (its data kept), or bring a hidden one back."""
    try:
        if action == "delete":
            tenant = store.visible(tenant_id, current_actor(), lock=True)
            store.soft_delete(tenant)
            done = "Deleted “{}”: hidden everywhere, its data kept until recovered."
        else:
            tenant = store.recover(store.any_state(tenant_id, lock=True))
            done = "Recovered “{}”."
    except ApiError as error:
        return refused(error, _render)
    return _saved_and_forgotten(done.format(tenant.slug))


@pages.post(f"/{TENANT_ID}/destroy")
@require(*store.INSTANCE_ROLES)
def hard_delete(tenant_id: str) -> ResponseReturnValue:
    """Only when the form repeats the tenant's slug: the page's `required` box is a convenience, not the check."""
    try:
        tenant = store.any_state(tenant_id, lock=True)
        form = HardDeleteForm(tenant.slug)
        if not form.validate():
            return invalid(form, _render)
        slug = tenant.slug
        store.hard_delete(tenant)
    except ApiError as error:
        return refused(error, _render)
    return _saved_and_forgotten(f"Deleted “{slug}” and all its data for good.")


# --- one tenant's members and admins ------------------------------------------------------


@pages.get(f"/{TENANT_ID}")
@require(*ADMIN_ROLES)
def tenant(tenant_id: str) -> ResponseReturnValue:
    return _render_tenant(store.visible(tenant_id, current_actor()))


@pages.post(f"/{TENANT_ID}/members")
@require(*ADMIN_ROLES)
def add_member(tenant_id: str) -> ResponseReturnValue:
    """An admin is added, or promoted if a member already, as the API's `POST …/admins` does."""
    shown, form = store.visible(tenant_id, current_actor(), lock=True), MemberForm()
    if not form.validate():
        return invalid(form, lambda status: _render_tenant(shown, status, form))
    try:
        account = store.account_named(form.account.data)
        if form.role.data == store.TENANT_ADMIN:
            store.make_admin(shown, account.id)
        else:
            store.add_member(shown, account.id, form.role.data)
    except ApiError as error:
        return refused(error, lambda status: _render_tenant(shown, status, form))
    return saved(
        f"{account.email} is a {form.role.data.replace('_', ' ')} of “{shown.slug}”.", ".tenant", tenant_id=shown.id
    )


@pages.post(f"/{TENANT_ID}/members/{USER_ID}/<any(remove, admin, unadmin):action>")
@require(*ADMIN_ROLES)
def change_member(tenant_id: str, user_id: str, action: str) -> ResponseReturnValue:
    """Remove a member, make one an admin, or take the admin role back (the account stays a member)."""
    actor = current_actor()
    shown = store.visible(tenant_id, actor, lock=True)
    try:
        if action == "remove":
            store.remove_member(shown, user_id, actor)
        elif action == "admin":
            store.make_admin(shown, user_id)
        else:
            store.remove_admin(shown, user_id, actor)
    except ApiError as error:
        return refused(error, lambda status: _render_tenant(shown, status))
    done = {"remove": "removed from", "admin": "made an admin of", "unadmin": "no longer an admin of"}[action]
    return saved(f"The account {user_id} is {done} “{shown.slug}”.", ".tenant", tenant_id=shown.id)


# --- the header's tenant switcher ---------------------------------------------------------


@pages.post("/switch")
@require(SIGNED_IN)
def switch() -> ResponseReturnValue:
    """Act in another tenant from now on: one the account is a member of, or any live one for instance admins.

    Anything else answers 404, as an unknown tenant does; the core checks every later
    request again, so a membership removed since does not keep working either.
    """
    form = SwitchForm()
    if not form.validate():
        raise BadRequest(form.messages(), code=error_codes.INVALID_FIELD)
    target = store.switch_target(current_actor(), form.model.id)
    switcher.pick(target.id)
    flash(f"You are working in the tenant “{target.name}” ({target.slug}) now.", "success")
    return redirect(url_for("dashboard.index"))
