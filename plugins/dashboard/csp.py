"""The dashboard's own Content-Security-Policy: no script or style sheet but its own.

The pages' one inline `<style>` and their inline scripts carry a fresh nonce per
response (`csp_nonce()` in templates); nothing is loaded from elsewhere, forms post
only here, and no other page may frame the dashboard. Style attributes are allowed
(`style-src-attr`): they cannot run code, and the pages use them for layout.
Hand-written: Flask-Talisman sets one policy for the whole app, and the JSON API and
function answers need none of this one (they carry their own, `plugins.functions.invoke`).
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request

from plugins.dashboard.signin import DASHBOARD

POLICY = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
    "style-src-attr 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def csp_nonce() -> str:
    """This response's nonce, made on first use."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def add_policy(response: Response) -> Response:
    """Every response of a dashboard blueprint (plugins' pages included) carries the policy."""
    if DASHBOARD in request.blueprints:
        response.headers["Content-Security-Policy"] = POLICY.format(nonce=csp_nonce())
    return response


def init_app(app: Flask) -> None:
    app.context_processor(lambda: {"csp_nonce": csp_nonce})
    app.after_request(add_policy)
