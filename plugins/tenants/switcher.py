"""The dashboard's tenant switcher: the tenant a dashboard account picked, kept in its session cookie.

Every dashboard page acts in the request's tenant (`current_tenant`). For dashboard
requests this plugin's `resolve_tenant` answers with the picked tenant; the core then
checks the account may act there (`may_act_in`), so a choice that is no longer allowed
is refused, never honoured. A picked tenant deleted since is forgotten: the account is
back in its home tenant and told so.
"""

from __future__ import annotations

from typing import Any

from flask import Request, flash, request, session

from flux.api import Actor, ApiError, TenantInfo, current_actor, current_tenant, flux_state
from plugins.tenants import store

SESSION_KEY = "flux_tenant"
# The dashboard blueprint's name: its pages, and the plugins' pages nested in it, list it.
DASHBOARD = "dashboard"


def _in_dashboard(request: Request, actor: Actor) -> bool:
    """A signed-in account on a dashboard page: the only requests that carry the session cookie."""
    return actor.kind == "platform" and DASHBOARD in request.blueprints


def picked_tenant(request: Request, actor: Actor) -> TenantInfo | None:
    """The live tenant picked in this dashboard session, or None to let the built-in answer decide."""
    if not _in_dashboard(request, actor) or SESSION_KEY not in session:
        return None
    tenant = flux_state().tenants.lookup(session[SESSION_KEY])
    if tenant is None:
        session.pop(SESSION_KEY)
        flash("The tenant you were working in was deleted: you are back in your own tenant.", "error")
    return tenant


def pick(tenant_id: str) -> None:
    """Remember the tenant for the rest of the session; `store.switch_target` has checked it first."""
    session[SESSION_KEY] = tenant_id


def switcher() -> dict[str, Any]:
    """The header's switcher for templates: the tenants offered and the current one.

    Empty (no switcher) off the dashboard, for visitors, and for accounts with one tenant
    or none to choose from. The current tenant is None when the core refuses it (say a
    membership removed since it was picked): the page shows that refusal, and the
    switcher, even with one tenant left, lets the account pick one it may use.
    """
    actor = current_actor()
    if not _in_dashboard(request, actor):
        return {}
    offered = store.switchable(actor)
    try:
        current: TenantInfo | None = current_tenant()
    except ApiError:
        current = None
    if not offered or (len(offered) == 1 and current is not None):
        return {}
    return {"tenants": offered, "current": current}
