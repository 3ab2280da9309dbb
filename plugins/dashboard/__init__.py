"""The browser dashboard's shell: the layout and the navigation of every plugin's admin pages.

A default plugin, so a headless deployment can turn it off with
`FLUXBASE_DISABLED_PLUGINS=dashboard`.
"""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from werkzeug.routing import BuildError

from flux import flux_state, hookimpl
from flux.version import __version__

dashboard = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates")


def navigation() -> list[dict]:
    """Admin pages grouped by category, with their URLs; pages whose view is missing are skipped."""
    groups: dict[str, list[dict]] = {}
    for page in flux_state().admin_pages:
        try:
            url = url_for(page.endpoint)
        except BuildError:
            continue
        groups.setdefault(page.category, []).append({"title": page.title, "url": url})
    return [{"category": category, "pages": pages} for category, pages in groups.items()]


@dashboard.app_context_processor
def dashboard_context() -> dict:
    return {"flux_navigation": navigation, "flux_version": __version__}


@dashboard.get("/")
def index():
    plugins = flux_state().plugins.describe()
    return render_template("dashboard/index.html", plugins=plugins)


@hookimpl
def register_blueprints(app):
    return [dashboard]
