"""The built-in answers to "who is calling" and "for which tenant", and the auth endpoints.

Both answers are `trylast`, so any plugin (the dashboard's cookie sessions, a
subdomain-per-tenant router) can answer first.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import click
import sqlalchemy as sa
from flask import Request

from flux.auth import api_service_keys
from flux.auth.api_admins import admins, create_instance_admin
from flux.auth.api_users import users
from flux.auth.service_keys import find_usable_key, looks_like_service_key
from flux.auth.sessions import session_is_live
from flux.auth.tokens import INVALID_TOKEN, verify_access_token
from flux.cli import pass_app
from flux.context import ANONYMOUS, Actor
from flux.db import db, utcnow
from flux.errors import ApiError, Forbidden, NotFound, Unauthorized
from flux.hookspecs import hookimpl
from flux.tenancy import Tenant, TenantMembership, default_tenant_id, find_tenant

TENANT_HEADER = "X-FB-Tenant"
PLATFORM_ROLES = ("instance_admin", "tenant_admin")
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _service_key_actor(presented: str) -> Actor:
    key = find_usable_key(presented)
    if key is None:
        raise Unauthorized("Invalid, expired or revoked service key", code="INVALID_SERVICE_KEY")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
        db.session.commit()
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


def _may_use_tenant(actor: Actor, tenant: Tenant) -> bool:
    if actor.kind == "anon" or actor.role == "instance_admin":
        return True
    if actor.kind == "platform":
        membership = sa.select(TenantMembership.id).where(
            TenantMembership.account_id == actor.id, TenantMembership.tenant_id == tenant.id
        )
        return db.session.scalar(membership) is not None
    return actor.tenant_id == tenant.id


def _denied() -> Forbidden:
    return Forbidden("access denied to this tenant", code="TENANT_ACCESS_DENIED")


@hookimpl(trylast=True)
def resolve_tenant(request: Request, actor: Actor) -> Tenant:
    header = (request.headers.get(TENANT_HEADER) or "").strip()
    if actor.kind == "service_key":
        tenant = db.session.get(Tenant, actor.tenant_id)
        if tenant is None or tenant.deleted_at is not None or (header and header not in (tenant.slug, tenant.id)):
            raise _denied()
        return tenant
    if header:
        tenant = find_tenant(header)
        if tenant is None:
            raise NotFound(f"tenant {header!r} not found", code="TENANT_NOT_FOUND")
        if not _may_use_tenant(actor, tenant):
            raise _denied()
        return tenant
    if actor.tenant_id:
        tenant = db.session.get(Tenant, actor.tenant_id)
        if tenant is None or tenant.deleted_at is not None:
            raise _denied()
        return tenant
    return db.session.get(Tenant, default_tenant_id())


@hookimpl
def register_blueprints(app):
    return [users, admins, api_service_keys.api]


@hookimpl
def register_commands(cli):
    @cli.group("admin")
    def admin_group() -> None:
        """Dashboard administrators."""

    @admin_group.command("create")
    @click.option("--email", required=True)
    @click.option("--name", default="")
    @click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
    @pass_app
    def create(app, email: str, name: str, password_stdin: bool) -> None:
        """Create an instance admin (the password comes from stdin, never the command line)."""
        password = sys.stdin.readline().rstrip("\n")
        with app.app_context():
            try:
                account = create_instance_admin(email, password, name)
                db.session.commit()
            except ApiError as error:
                raise click.ClickException(error.message) from None
            click.echo(f"Created instance admin {account.email} ({account.id}).")
