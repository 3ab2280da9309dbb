"""Who is calling, and for which tenant: computed once per request, on first use."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, g, request

from flux.tenancy import Tenant


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


def current_actor() -> Actor:
    """The request's actor, through the `actor_from_request` hook (cached in `g`)."""
    if "flux_actor" not in g:
        hook = current_app.extensions["flux"].plugins.hook
        g.flux_actor = hook.actor_from_request(request=request) or ANONYMOUS
    return g.flux_actor


def current_tenant() -> Tenant:
    """The request's tenant, through the `resolve_tenant` hook (cached in `g`)."""
    if "flux_tenant" not in g:
        hook = current_app.extensions["flux"].plugins.hook
        tenant = hook.resolve_tenant(request=request, actor=current_actor())
        g.flux_tenant, g.flux_tenant_id = tenant, tenant.id
    return g.flux_tenant


def current_tenant_id() -> str:
    """The request's tenant id; cheap after the first call (no reload after a commit)."""
    if "flux_tenant_id" not in g:
        current_tenant()
    return g.flux_tenant_id
