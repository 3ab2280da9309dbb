"""The browser dashboard at `/dashboard/`: sign-in, the shared layout and the admin pages.

A default plugin, so a headless deployment can turn it off with
`FLUXBASE_DISABLED_PLUGINS=dashboard`; it then sets no cookies and adds no CSRF checks.
"""

from __future__ import annotations

from flask import Flask, Request
from flask_wtf.csrf import CSRFProtect

from flux.api import Actor, AdminPage, hookimpl
from plugins.dashboard import csp, signin
from plugins.dashboard.cookies import DashboardSessionInterface
from plugins.dashboard.shell import dashboard


@hookimpl
def register_blueprints(app: Flask) -> list:
    return [dashboard]


@hookimpl
def register_admin_pages(app: Flask) -> list[AdminPage]:
    return [
        AdminPage("Service keys", "dashboard.keys.index", category="Access", permission="tenant_admin"),
        AdminPage("Plugins", "dashboard.plugins", category="Server", permission="tenant_admin"),
    ]


@hookimpl
def startup(app: Flask) -> None:
    """Cookie sessions for the dashboard, CSRF checks that only its blueprint asks for, and its CSP."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The browser sends the cookie to dashboard pages only, never to the API.
        SESSION_COOKIE_PATH="/dashboard",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_PATH="/dashboard",
        WTF_CSRF_CHECK_DEFAULT=False,
    )
    app.session_interface = DashboardSessionInterface("/dashboard")
    CSRFProtect(app)
    signin.init_app(app)
    csp.init_app(app)
    mount_plugin_pages(app)


def mount_plugin_pages(app: Flask) -> None:
    """Mount other plugins' admin blueprints as children of the dashboard blueprint.

    `name_prefix` makes Flask treat them as nested in `dashboard`, so its guard (sign-in,
    CSRF), error pages and actor apply, without changing the shared blueprint object.
    """
    for blueprints in app.extensions["flux"].plugins.hook.register_dashboard_blueprints(app=app):
        for blueprint in blueprints or []:
            app.register_blueprint(
                blueprint, name_prefix=dashboard.name, url_prefix=f"{dashboard.url_prefix}{blueprint.url_prefix or ''}"
            )


@hookimpl
def actor_from_request(request: Request) -> Actor | None:
    """The signed-in dashboard account, for dashboard views only (`None` elsewhere)."""
    return signin.dashboard_actor(request)
