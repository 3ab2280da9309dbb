"""Dashboard administrators: `/api/v1/admin/setup|login|refresh|logout|me`."""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from flask import current_app
from flask_openapi3 import Tag

from flux.auth.models import PlatformAccount
from flux.auth.passwords import hash_password
from flux.auth.permissions import SIGNED_IN, require
from flux.auth.schemas import AccountOut, AccountTokens, AdminSetup, Me, NewAdmin, Refresh, SetupStatus, Signin
from flux.auth.sessions import end_current_session, refresh_session, start_session, token_response
from flux.auth.signin import authenticate
from flux.context import current_actor, public
from flux.db import db
from flux.error_codes import (
    ALREADY_EXISTS,
    FORBIDDEN,
    INVALID_CREDENTIALS,
    INVALID_REFRESH_TOKEN,
    INVALID_SETUP_TOKEN,
    NOT_FOUND,
    RATE_LIMITED,
    SETUP_COMPLETE,
    WEAK_PASSWORD,
)
from flux.errors import Conflict, Forbidden, NotFound, Unauthorized
from flux.openapi import ApiBlueprint, raises
from flux.schemas import answer
from flux.tenancy import DEFAULT_TENANT_SLUG, Tenant, TenantMembership, default_tenant_id

admins = ApiBlueprint("admin_auth", __name__, url_prefix="/api/v1/admin", abp_tags=[Tag(name="administrators")])


def has_instance_admin() -> bool:
    query = sa.select(PlatformAccount.id).where(PlatformAccount.role == "instance_admin").limit(1)
    return db.session.scalar(query) is not None


def create_instance_admin(new: NewAdmin) -> PlatformAccount:
    """Store an `instance_admin` (the setup endpoint and `fluxbase admin create`); flushes."""
    account = PlatformAccount(
        email=new.email, password_hash=hash_password(new.password), name=new.name or "", role="instance_admin"
    )
    db.session.add(account)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise Conflict("An account with this email already exists", code=ALREADY_EXISTS) from None
    return account


@admins.get("/setup/status", responses={200: SetupStatus})
@public
def setup_status():
    has_admin = has_instance_admin()
    return answer(SetupStatus(needs_setup=not has_admin, has_admin=has_admin))


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
    # Serialise concurrent setups: PostgreSQL locks the default tenant's row until commit;
    # SQLite's write transactions (BEGIN IMMEDIATE) are serialised already.
    db.session.execute(sa.select(Tenant.id).where(Tenant.slug == DEFAULT_TENANT_SLUG).with_for_update())
    if has_instance_admin():
        raise Conflict("Setup is already complete: an instance admin exists", code=SETUP_COMPLETE)
    return create_instance_admin(body)


@admins.post("/setup", responses={201: AccountTokens})
@public
@raises(INVALID_SETUP_TOKEN, SETUP_COMPLETE, WEAK_PASSWORD, ALREADY_EXISTS)
def setup(body: AdminSetup):
    account = first_admin(body)
    return answer(AccountTokens.model_validate(start_session(account, default_tenant_id())), 201)


@admins.post("/login", responses={200: AccountTokens})
@public
@raises(INVALID_CREDENTIALS, RATE_LIMITED)
def login(body: Signin):
    account = authenticate(PlatformAccount, body.email, body.password)
    return answer(AccountTokens.model_validate(start_session(account, home_tenant_id(account))))


@admins.post("/refresh", responses={200: AccountTokens})
@public
@raises(INVALID_REFRESH_TOKEN)
def refresh(body: Refresh):
    session, refresh_token = refresh_session(body.refresh_token, PlatformAccount.kind)
    account = db.session.get(PlatformAccount, session.account_id)
    if account is None:
        raise Unauthorized("Invalid or expired refresh token", code=INVALID_REFRESH_TOKEN)
    return answer(AccountTokens.model_validate(token_response(account, session, refresh_token)))


def _signed_in_account() -> PlatformAccount:
    """The caller's dashboard account: app users and service keys have none (403)."""
    actor = current_actor()
    if actor.kind != "platform":
        raise Forbidden("Only dashboard accounts have this endpoint", code=FORBIDDEN)
    account = db.session.get(PlatformAccount, actor.id)
    if account is None:
        raise NotFound("No dashboard account behind this credential", code=NOT_FOUND)
    return account


def home_tenant_id(account: PlatformAccount) -> str:
    """Where a platform account's token points: its first tenant, or the default one."""
    first = db.session.scalar(
        sa.select(TenantMembership.tenant_id)
        .where(TenantMembership.account_id == account.id)
        .order_by(TenantMembership.created_at)
        .limit(1)
    )
    return default_tenant_id() if account.role == "instance_admin" or first is None else first


@admins.post("/logout", responses={204: None})
@require(SIGNED_IN)
@raises(NOT_FOUND)
def logout():
    _signed_in_account()
    end_current_session("logged_out")
    return "", 204


@admins.get("/me", responses={200: Me})
@require(SIGNED_IN)
@raises(NOT_FOUND)
def me():
    return answer(Me(user=AccountOut.model_validate(_signed_in_account())))
