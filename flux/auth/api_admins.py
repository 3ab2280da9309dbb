"""Dashboard administrators: `/api/v1/admin/setup|login|refresh|logout|me`."""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from flux.auth.models import PlatformAccount
from flux.auth.passwords import check_new_password, hash_password, normalize_email
from flux.auth.permissions import SIGNED_IN, require
from flux.auth.sessions import end_current_session, refresh_session, start_session, token_response
from flux.auth.signin import authenticate
from flux.context import current_actor, public
from flux.db import db
from flux.errors import Conflict, Forbidden, NotFound, Unauthorized
from flux.http import json_body, optional_text
from flux.tenancy import DEFAULT_TENANT_SLUG, Tenant, TenantMembership, default_tenant_id

admins = Blueprint("admin_auth", __name__, url_prefix="/api/v1/admin")


def has_instance_admin() -> bool:
    query = sa.select(PlatformAccount.id).where(PlatformAccount.role == "instance_admin").limit(1)
    return db.session.scalar(query) is not None


def create_instance_admin(email: object, password: object, name: object = None) -> PlatformAccount:
    """Validate and store an `instance_admin` (used by the setup endpoint and the CLI)."""
    account = PlatformAccount(
        email=normalize_email(email),
        password_hash=hash_password(check_new_password(password)),
        name=name if isinstance(name, str) else "",
        role="instance_admin",
    )
    db.session.add(account)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise Conflict("An account with this email already exists", code="ACCOUNT_EXISTS") from None
    return account


@admins.get("/setup/status")
@public
def setup_status():
    has_admin = has_instance_admin()
    return jsonify({"needs_setup": not has_admin, "has_admin": has_admin})


def first_admin(body: dict) -> PlatformAccount:
    """Create the first instance admin when `setup_token` is right (API and dashboard setup).

    403 when `FLUXBASE_SECURITY_SETUP_TOKEN` is unset or differs (constant-time
    comparison), 409 once an admin exists. Flushes; the caller commits.
    """
    expected = current_app.config["SECURITY_SETUP_TOKEN"]
    given = body.get("setup_token")
    if not expected or not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden(
            "Invalid setup token (set FLUXBASE_SECURITY_SETUP_TOKEN on the server and send it as setup_token)",
            code="INVALID_SETUP_TOKEN",
        )
    # Serialise concurrent setups: PostgreSQL locks the default tenant's row until commit;
    # SQLite's write transactions (BEGIN IMMEDIATE) are serialised already.
    db.session.execute(sa.select(Tenant.id).where(Tenant.slug == DEFAULT_TENANT_SLUG).with_for_update())
    if has_instance_admin():
        raise Conflict("Setup is already complete: an instance admin exists", code="SETUP_COMPLETE")
    return create_instance_admin(body.get("email"), body.get("password"), optional_text(body, "name", 200))


@admins.post("/setup")
@public
def setup():
    account = first_admin(json_body())
    return jsonify(start_session(account, default_tenant_id())), 201


@admins.post("/login")
@public
def login():
    account = authenticate(PlatformAccount, json_body())
    return jsonify(start_session(account, home_tenant_id(account)))


@admins.post("/refresh")
@public
def refresh():
    session, refresh_token = refresh_session(json_body().get("refresh_token"), PlatformAccount.kind)
    account = db.session.get(PlatformAccount, session.account_id)
    if account is None:
        raise Unauthorized("Invalid or expired refresh token", code="INVALID_REFRESH_TOKEN")
    return jsonify(token_response(account, session, refresh_token))


def _signed_in_account() -> PlatformAccount:
    actor = current_actor()
    if actor.kind != "platform":
        raise Forbidden("Only dashboard accounts have this endpoint", code="FORBIDDEN")
    account = db.session.get(PlatformAccount, actor.id)
    if account is None:
        raise NotFound("No dashboard account behind this credential", code="ACCOUNT_NOT_FOUND")
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


@admins.post("/logout")
@require(SIGNED_IN)
def logout():
    _signed_in_account()
    end_current_session("logged_out")
    return "", 204


@admins.get("/me")
@require(SIGNED_IN)
def me():
    """`{"user": {…}}`, the reference's shape."""
    return jsonify({"user": _signed_in_account().as_json()})
