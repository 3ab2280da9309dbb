"""The dashboard blueprint: its guard, HTML error pages, navigation, overview and plugin list.

Every dashboard page needs a signed-in platform account, every unsafe request a CSRF
token; the JSON API is untouched by both (`WTF_CSRF_CHECK_DEFAULT` is off and the
checks run in this blueprint only). Errors here are HTML pages, not the API's JSON.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BuildError

from flux.api import (
    ADMIN_ROLES,
    SIGNED_IN,
    Actor,
    AdminPage,
    ApiError,
    Forbidden,
    NotFound,
    __version__,
    current_actor,
    database_fault,
    flux_state,
    is_tenant_admin_here,
    log_unexpected,
    require,
)
from plugins.dashboard import keys, signin

dashboard = Blueprint(signin.DASHBOARD, __name__, url_prefix="/dashboard", template_folder="templates")
dashboard.register_blueprint(signin.pages)
dashboard.register_blueprint(keys.pages)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_BLUEPRINT = f"{signin.DASHBOARD}.{signin.pages.name}"


@dashboard.before_request
def guard():
    """CSRF first (the sign-in forms need it too), then send visitors to the login page."""
    if request.method not in SAFE_METHODS:
        current_app.extensions["csrf"].protect()
    if request.blueprint != PUBLIC_BLUEPRINT and not current_user.is_authenticated:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("dashboard.signin.login", next=target))
    return None


@dashboard.after_request
def private_pages(response):
    """Pages show account data and one-time keys: keep them out of caches and frames."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _error_page(status: int, message: str):
    return render_template("dashboard/error.html", status=status, message=message), status


@dashboard.errorhandler(ApiError)
def api_error_page(error: ApiError):
    return _error_page(error.status, error.message)


@dashboard.errorhandler(HTTPException)
def http_error_page(error: HTTPException):
    """Among others the 400 of a missing or wrong CSRF token (`CSRFError`)."""
    return _error_page(error.code or 500, error.description or error.name)


@dashboard.errorhandler(Exception)
def unexpected_error_page(error: Exception):
    """A bug, not the visitor's doing: logged with the request id, which the page shows for a report.

    A busy or unreachable database is no bug: a 503 page with `Retry-After`, logged once per burst.
    """
    fault = database_fault(error)
    if fault is not None:
        page, status = api_error_page(fault)
        return page, status, fault.headers
    rid = log_unexpected()
    return _error_page(500, f"Something went wrong on the server. If you report it, quote request id {rid}.")


@dashboard.get("/<path:address>")
def unknown_page(address: str):
    """A mistyped or stale address gets the dashboard's own page; real pages always match first."""
    raise NotFound(f"There is no dashboard page at /dashboard/{address}", code="NOT_FOUND")


def may_see(page: AdminPage, actor: Actor) -> bool:
    """`instance_admin` sees every page; others the pages of their role (a tenant admin only where they are one)."""
    if not actor.is_authenticated:
        return False
    if actor.role == "instance_admin" or page.permission == SIGNED_IN:
        return True
    if page.permission != actor.role:
        return False
    if actor.role != "tenant_admin":
        return True
    try:
        return is_tenant_admin_here(actor)
    except Forbidden:  # an account that may not act in its home tenant
        return False


def navigation() -> list[dict]:
    """The admin pages this actor may see, grouped by category; pages whose view is missing are skipped."""
    actor = current_actor()
    groups: dict[str, list[dict]] = {}
    for page in flux_state().admin_pages:
        if not may_see(page, actor):
            continue
        try:
            url = url_for(page.endpoint)
        except BuildError:
            continue
        groups.setdefault(page.category, []).append({"title": page.title, "url": url, "endpoint": page.endpoint})
    return [{"category": category, "pages": pages} for category, pages in groups.items()]


@dashboard.app_context_processor
def dashboard_context() -> dict:
    return {"flux_navigation": navigation, "flux_version": __version__}


@dashboard.get("/")
def index():
    return render_template("dashboard/index.html", account=current_user.account)


@dashboard.get("/plugins")
@require(*ADMIN_ROLES)
def plugins():
    return render_template("dashboard/plugins.html", plugins=flux_state().plugins.describe())
