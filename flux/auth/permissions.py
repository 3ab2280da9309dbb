"""One place that decides whether the current actor may call a view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, request

from flux import error_codes
from flux.auth.service_keys import has_scope
from flux.context import Actor, current_actor, current_tenant, current_tenant_id
from flux.errors import Forbidden, Unauthorized
from flux.tenancy import membership_role

ADMIN_ROLES = ("instance_admin", "tenant_admin", "admin")
SIGNED_IN = "authenticated"
# An app user's own data: not for dashboard accounts or service keys, whatever their role.
APP_USER = "app_user"
BOUND_TO_ONE_TENANT = ("service_key", "user")


def is_tenant_admin_here(actor: Actor) -> bool:
    """A `tenant_admin` account counts only in tenants where it is an admin member."""
    return membership_role(actor.id, current_tenant_id()) == "tenant_admin"


def _role_allows(actor: Actor, roles: tuple[str, ...], scope: str | None) -> bool:
    if roles == (APP_USER,):
        return actor.kind == "user"
    if actor.kind == "service_key":
        return "service_role" in roles or (scope is not None and has_scope(list(actor.scopes), scope))
    if SIGNED_IN in roles:
        return True
    if actor.role not in roles:
        return False
    return actor.role != "tenant_admin" or is_tenant_admin_here(actor)


def check(roles: tuple[str, ...], scope: str | None = None, resource: Any = None) -> Actor:
    """Return the actor if allowed; 401 without credentials, 403 otherwise."""
    actor = current_actor()
    if not actor.is_authenticated:
        raise Unauthorized("Authentication required: send a Bearer token or a service key", code="AUTH_REQUIRED")
    if actor.kind in BOUND_TO_ONE_TENANT:
        current_tenant()  # refuses a key or app user whose tenant is gone, also where the view reads no tenant's rows
    role_allows = allowed = _role_allows(actor, roles, scope)
    hook = current_app.extensions["flux"].plugins.hook.permission_allowed
    # No plugin votes by default: skipping the empty hook call saves its dispatch (~5 µs).
    if allowed and hook.get_hookimpls():
        votes = hook(actor=actor, action=request.endpoint or "", resource=resource)
        allowed = not any(vote is False for vote in votes)
    if not role_allows and roles == (APP_USER,):
        raise Forbidden(
            "this belongs to app users: sign in with /api/v1/auth/signin", code=error_codes.APP_USER_REQUIRED
        )
    if not allowed:
        needed = f"scope {scope!r}" if actor.kind == "service_key" and scope else f"one of the roles {list(roles)}"
        raise Forbidden(f"Insufficient permissions: this needs {needed}", code="FORBIDDEN")
    return actor


@dataclass(frozen=True)
class Access:
    """Who may call a view: one of `roles`, or a service key holding `scope`."""

    roles: tuple[str, ...]
    scope: str | None = None

    @property
    def error_codes(self) -> tuple[str, ...]:
        """The codes `check` answers besides those of any credential (for the OpenAPI document)."""
        return (error_codes.APP_USER_REQUIRED,) if self.roles == (APP_USER,) else ()


def require(*roles: str, scope: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a view: the caller needs one of `roles`, or (a service key) `scope`. Put it below the route.

    The one way to guard a view. `enforce_access` checks the mark before the view runs,
    so before its input is validated: an anonymous caller learns nothing but 401.
    """

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.flux_access = Access(roles, scope)  # type: ignore[attr-defined]
        return view

    return mark


def enforce_access() -> None:
    """Check the matched view's `require` mark (the app calls this as it dispatches a request)."""
    rule = request.url_rule
    if rule is None or (request.method == "OPTIONS" and rule.provide_automatic_options):
        return
    access = getattr(current_app.view_functions.get(rule.endpoint), "flux_access", None)
    if access is not None:
        check(access.roles, access.scope)
