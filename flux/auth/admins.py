"""Platform accounts behind the administrators' API and the dashboard: the first admin, home tenants.

Kept apart from the views (`flux.auth.api_admins`) so the dashboard plugin and the CLI
use the same rules through `flux.api` without importing a view module.
"""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from flask import current_app

from flux.auth.models import PlatformAccount
from flux.auth.passwords import hash_password
from flux.auth.schemas import AdminSetup, NewAdmin
from flux.db import db
from flux.error_codes import ALREADY_EXISTS, INVALID_SETUP_TOKEN, SETUP_COMPLETE
from flux.errors import Conflict, Forbidden
from flux.tenancy import DEFAULT_TENANT_SLUG, Tenant, TenantMembership, default_tenant_id


def has_instance_admin() -> bool:
    query = sa.select(PlatformAccount.id).where(PlatformAccount.role == "instance_admin").limit(1)
    return db.session.scalar(query) is not None


def create_account(new: NewAdmin, role: str = "instance_admin") -> PlatformAccount:
    """Store a dashboard account (the setup endpoint and `fluxbase admin create`); flushes.

    A `tenant_admin` account administers no tenant until it is made one's admin
    (`POST /api/v1/admin/tenants/{id}/admins`).
    """
    account = PlatformAccount(
        email=new.email, password_hash=hash_password(new.password), name=new.name or "", role=role
    )
    db.session.add(account)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise Conflict("An account with this email already exists", code=ALREADY_EXISTS) from None
    return account


def first_admin(body: AdminSetup) -> PlatformAccount:
    """Create the first instance admin when `setup_token` is right (API and dashboard setup).

    403 when `FLUXBASE_SECURITY_SETUP_TOKEN` is unset or differs (constant-time
    comparison), 409 once an admin exists. Flushes; the caller commits.
    """
    expected = current_app.config["SECURITY_SETUP_TOKEN"]
    given = body.setup_token
    if not expected or given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden(
            "Invalid setup token (set FLUXBASE_SECURITY_SETUP_TOKEN on the server and send it as setup_token)",
            code=INVALID_SETUP_TOKEN,
        )
    # Concurrent setups take turns: the default tenant's row stays locked until commit.
    db.session.execute(sa.select(Tenant.id).where(Tenant.slug == DEFAULT_TENANT_SLUG).with_for_update())
    if has_instance_admin():
        raise Conflict("Setup is already complete: an instance admin exists", code=SETUP_COMPLETE)
    return create_account(body)


def home_tenant_id(account: PlatformAccount) -> str:
    """Where a platform account's token points: its first live tenant, or the default one."""
    first = db.session.scalar(
        sa.select(TenantMembership.tenant_id)
        .join(Tenant, Tenant.id == TenantMembership.tenant_id)
        .where(TenantMembership.account_id == account.id, Tenant.deleted_at.is_(None))
        .order_by(TenantMembership.created_at)
        .limit(1)
    )
    return default_tenant_id() if account.role == "instance_admin" or first is None else first
