"""The built-in answers to "who is calling" and "for which tenant", and the auth endpoints.

Both answers are `trylast`, so any plugin (the dashboard's cookie sessions, a
subdomain-per-tenant router) can answer first.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import click
import sqlalchemy as sa
from flask import Request, current_app

from flux.audit import AuditRecord
from flux.auth import api_service_keys, policy
from flux.auth.admins import create_account
from flux.auth.api_admins import admins
from flux.auth.api_audit import audit_api
from flux.auth.api_users import users
from flux.auth.models import AppUser, AuthSession, ServiceKey, ServiceKeyEvent, SigninLockout
from flux.auth.permissions import BOUND_TO_ONE_TENANT
from flux.auth.schemas import NewAdmin
from flux.auth.scopes import CORE_SCOPES
from flux.auth.service_keys import find_usable_key, looks_like_service_key
from flux.auth.sessions import session_is_live
from flux.auth.tokens import INVALID_TOKEN, verify_access_token
from flux.cli import pass_app
from flux.context import ANONYMOUS, Actor
from flux.db import db, separate_session, utcnow
from flux.errors import ApiError, Forbidden, NotFound, Unauthorized
from flux.hookspecs import hookimpl
from flux.schemas import parse
from flux.tenancy import DEFAULT_TENANT_SLUG, TenantInfo, delete_tenant_rows

TENANT_HEADER = "X-FB-Tenant"
PLATFORM_ROLES = ("instance_admin", "tenant_admin")
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _note_use(key: ServiceKey) -> None:
    """Record `last_used_at`, at most once a minute, whatever becomes of the request's own transaction."""
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    with separate_session() as session:
        stamp = sa.update(ServiceKey).where(ServiceKey.id == key.id).values(last_used_at=now)
        session.execute(stamp.execution_options(all_tenants=True))  # the tenant is not resolved yet


def _service_key_actor(presented: str) -> Actor:
    key = find_usable_key(presented)
    if key is None:
        raise Unauthorized("Invalid, expired or revoked service key", code="INVALID_SERVICE_KEY")
    _note_use(key)
    return Actor(
        kind="service_key", role="service_role", id=key.id, tenant_id=key.tenant_id, scopes=tuple(key.scopes or ())
    )


def _token_actor(token: str) -> Actor:
    claims = verify_access_token(token)
    if not session_is_live(claims["session_id"]):
        raise Unauthorized(INVALID_TOKEN, code="INVALID_TOKEN")
    return Actor(
        kind="platform" if claims["role"] in PLATFORM_ROLES else "user",
        role=claims["role"],
        id=claims["sub"],
        email=claims.get("email"),
        tenant_id=claims["tenant_id"],
        session_id=claims["session_id"],
    )


@hookimpl(trylast=True)
def actor_from_request(request: Request) -> Actor:
    service_key = request.headers.get("X-Service-Key")
    if service_key:
        return _service_key_actor(service_key)
    authorization = request.headers.get("Authorization")
    if not authorization:
        return ANONYMOUS
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'", code="INVALID_AUTHORIZATION")
    credential = credential.strip()
    if looks_like_service_key(credential):
        return _service_key_actor(credential)
    return _token_actor(credential)


@hookimpl(trylast=True)
def resolve_tenant(request: Request, actor: Actor) -> TenantInfo:
    """The key's tenant, else the `X-FB-Tenant` header, else the token's claim, else `default`.

    Only picks; `flux.context.current_tenant` then checks the actor may act there.
    """
    directory = current_app.extensions["flux"].tenants
    header = (request.headers.get(TENANT_HEADER) or "").strip()
    if actor.kind == "service_key" and not header:
        header = actor.tenant_id
    if header:
        tenant = directory.lookup(header)
        if tenant is None and actor.kind in BOUND_TO_ONE_TENANT:
            # A key or app user may only ever name its own tenant: 403 for any other,
            # existing or not, so probing reveals no tenant names.
            raise Forbidden("access denied to this tenant", code="TENANT_ACCESS_DENIED")
        if tenant is None:
            raise NotFound(f"tenant {header!r} not found", code="TENANT_NOT_FOUND")
        return tenant
    if actor.tenant_id:
        tenant = directory.lookup(actor.tenant_id)
        if tenant is None:
            raise Forbidden("access denied to this tenant: it no longer exists", code="TENANT_ACCESS_DENIED")
        return tenant
    return directory.lookup(DEFAULT_TENANT_SLUG)


@hookimpl
def register_blueprints(app):
    return [users, admins, api_service_keys.api, audit_api]


@hookimpl
def register_scopes():
    return CORE_SCOPES


@hookimpl
def register_setting_categories():
    return policy.CATEGORIES


@hookimpl
def delete_tenant_data(tenant_id):
    """The tenant's app users with their sign-ins and lockouts, its service keys, its audit trail."""
    db.session.execute(sa.delete(AuthSession).where(AuthSession.tenant_id == tenant_id))
    db.session.execute(sa.delete(SigninLockout).where(SigninLockout.scope == tenant_id))
    delete_tenant_rows(tenant_id, ServiceKeyEvent, ServiceKey, AppUser, AuditRecord)


@hookimpl
def register_commands(cli):
    @cli.group("admin")
    def admin_group() -> None:
        """Dashboard administrators."""

    @admin_group.command("create")
    @click.option("--email", required=True)
    @click.option("--name", default="")
    @click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
    @click.option(
        "--role",
        type=click.Choice(PLATFORM_ROLES),
        default="instance_admin",
        show_default=True,
        help="tenant_admin: administers the tenants it is made admin of, nothing else.",
    )
    @pass_app
    def create(app, email: str, name: str, password_stdin: bool, role: str) -> None:
        """Create a dashboard account (the password comes from stdin, never the command line)."""
        password = sys.stdin.readline().rstrip("\n")
        with app.app_context():
            try:
                new = parse(NewAdmin, {"email": email, "password": password, "name": name})
                account = create_account(new, role)
                db.session.commit()
            except ApiError as error:
                raise click.ClickException(error.message) from None
            click.echo(f"Created {role.replace('_', ' ')} {account.email} ({account.id}).")
