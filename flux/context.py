"""Who is calling, and for which tenant: computed once per request, on first use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, g, request

from flux.errors import Forbidden, NotFound, Unauthorized
from flux.tenancy import DEFAULT_TENANT_SLUG, TenantInfo, membership_role


@dataclass(frozen=True)
class Actor:
    """The caller of a request.

    `kind` is `anon`, `user` (an app user), `platform` (a dashboard account) or
    `service_key`; `role` is the JWT role or `service_role`; `tenant_id` is the
    caller's home tenant (token claim or key tenant), not necessarily the request's.
    """

    kind: str
    role: str
    id: str | None = None
    email: str | None = None
    tenant_id: str | None = None
    session_id: str | None = None
    scopes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anon"


ANONYMOUS = Actor(kind="anon", role="anon")
# The server itself, doing work no caller asked for (`before_serving`): audit records name it so.
SERVER = Actor(kind="server", role="service_role")


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view anyone may call: credentials that do not verify there count as none.

    Clients such as the reference SDK send their client key as `Authorization: Bearer`
    with every call, sign-up and sign-in included; a public view answers them as it
    answers an anonymous caller instead of 401. Put it below the route decorator.
    """
    view.flux_public = True  # type: ignore[attr-defined]
    return view


def _public_view() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "flux_public", False)


def current_actor() -> Actor:
    """The request's actor, through the `actor_from_request` hook (cached in `g`)."""
    # One lookup through the `g` proxy instead of two: this runs several times a request.
    actor = g.get("flux_actor")
    if actor is None:
        hook = current_app.extensions["flux"].plugins.hook
        try:
            actor = hook.actor_from_request(request=request) or ANONYMOUS
        except Unauthorized:
            if not _public_view():
                raise
            actor = ANONYMOUS
        g.flux_actor = actor
    return actor


def current_tenant() -> TenantInfo:
    """The request's tenant, through the `resolve_tenant` hook (cached in `g`).

    Whichever plugin picks the tenant, the core then checks the caller may act in it
    (`may_act_in`), so a tenant-routing plugin cannot move a caller across tenants.
    """
    if "flux_tenant" not in g:
        actor = current_actor()
        picked = current_app.extensions["flux"].plugins.hook.resolve_tenant(request=request, actor=actor)
        if picked is None:
            raise NotFound("no tenant for this request", code="TENANT_NOT_FOUND")
        tenant = TenantInfo.of(picked)
        if not may_act_in(actor, tenant.id):
            raise Forbidden("access denied to this tenant", code="TENANT_ACCESS_DENIED")
        g.flux_tenant, g.flux_tenant_id = tenant, tenant.id
    return g.flux_tenant


def may_act_in(actor: Actor, tenant_id: str) -> bool:
    """Keys and app users act only in their own tenant; dashboard accounts where they are members."""
    if actor.kind in ("service_key", "user"):
        return actor.tenant_id == tenant_id
    if actor.kind == "anon" or actor.role == "instance_admin":
        return True
    return membership_role(actor.id, tenant_id) is not None


@contextmanager
def acting_as_server(app: Flask, tenant: str = DEFAULT_TENANT_SLUG) -> Iterator[TenantInfo]:
    """A request context of no request, acting as the server (`SERVER`) in `tenant` (a slug or id).

    For work outside requests that goes through the house data path: tenant-scoped
    queries see that tenant's rows, and audit records name the server as the actor.
    """
    with app.test_request_context():
        found = app.extensions["flux"].tenants.lookup(tenant)
        if found is None:
            raise NotFound(f"tenant {tenant!r} not found", code="TENANT_NOT_FOUND")
        g.flux_actor, g.flux_tenant, g.flux_tenant_id = SERVER, found, found.id
        yield found


def current_tenant_id() -> str:
    """The request's tenant id; cheap after the first call (no reload after a commit)."""
    tenant_id = g.get("flux_tenant_id")
    return tenant_id if tenant_id is not None else current_tenant().id
