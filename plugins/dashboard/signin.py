"""Signing in to the dashboard: Flask-Login cookie sessions for platform accounts.

Sign-in goes through the core's `authenticate`, so the API's lockout and rate limits
apply here too. While no instance admin exists, the login page offers the first-run
setup form instead (the core's `first_admin`, guarded by the setup token).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, Request, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from flux.api import (
    Actor,
    ApiError,
    AuthSession,
    PlatformAccount,
    authenticate,
    db,
    first_admin,
    has_instance_admin,
    home_tenant_id,
    open_session,
    revoke,
    session_is_live,
)
from plugins.dashboard.forms import SetupForm, SigninForm

pages = Blueprint("signin", __name__)

# The dashboard blueprint's name; nested blueprints (`dashboard.signin`) list it too.
DASHBOARD = "dashboard"


class DashboardUser(UserMixin):
    """Flask-Login's view of a platform account, signed in through one revocable `AuthSession`.

    The cookie names the session as well as the account, so signing out (or revoking the
    session row) ends it on the server: a copy of an old cookie no longer works.
    """

    def __init__(self, account: PlatformAccount, session_id: str) -> None:
        self.account = account
        self.session_id = session_id

    def get_id(self) -> str:
        return f"{self.account.id}:{self.session_id}"


def _load_user(user_id: str) -> DashboardUser | None:
    account_id, _, session_id = user_id.partition(":")
    if not session_id or not session_is_live(session_id):
        return None
    account = db.session.get(PlatformAccount, account_id)
    return DashboardUser(account, session_id) if account is not None else None


def init_app(app: Flask) -> None:
    """One login manager per app (Flask-Login keeps it as `app.login_manager`)."""
    manager = LoginManager(app)
    manager.user_loader(_load_user)


def dashboard_actor(request: Request) -> Actor | None:
    """The signed-in account for dashboard views; `None` anywhere else.

    The session cookie is a browser credential without a CSRF token of its own, so it
    must never authenticate a call to the JSON API.
    """
    if DASHBOARD not in request.blueprints or not current_user.is_authenticated:
        return None
    account = current_user.account
    return Actor(
        kind="platform", role=account.role, id=account.id, email=account.email, tenant_id=home_tenant_id(account)
    )


def _safe_next(target: str | None) -> str | None:
    """Only a dashboard path on this server, so a crafted link cannot send a signed-in admin elsewhere.

    Control characters (CR, LF) cannot go into a `Location` header: such a target is dropped too.
    """
    if not target or "\\" in target or not target.isprintable():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"/{DASHBOARD}/"):
        return None
    return target


def _sign_in(account: PlatformAccount) -> None:
    # The same server-side session the API's sign-in opens (its tokens are not used here).
    opened, _refresh_token = open_session(account, home_tenant_id(account))
    # A fresh cookie: nothing (nor the CSRF token) carries over from before the sign-in.
    session.clear()
    login_user(DashboardUser(account, opened.id))


def _login_page(error: str | None = None, status: int = 200, **form: str):
    """The sign-in (or first-run setup) page, with `error` and what was typed, never a password."""
    body = render_template(
        "dashboard/login.html",
        needs_setup=not has_instance_admin(),
        has_setup_token=bool(current_app.config["SECURITY_SETUP_TOKEN"]),
        error=error,
        form=form,
    )
    return body, status


@pages.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    if request.method == "GET":
        return _login_page()
    form = SigninForm()
    email = form.email.data or ""
    if not form.validate():
        return _login_page(form.messages(), form.status, email=email)
    try:
        account = authenticate(PlatformAccount, form.model.email, form.model.password)
    except ApiError as error:
        return _login_page(error.message, error.status, email=email)
    _sign_in(account)
    return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.index"))


@pages.post("/setup")
def setup():
    form = SetupForm()
    kept = {"email": form.email.data or "", "name": form.name.data or ""}
    if not form.validate():
        return _login_page(form.messages(), form.status, **kept)
    try:
        account = first_admin(form.model)
    except ApiError as error:
        return _login_page(error.message, error.status, **kept)
    _sign_in(account)
    flash(f"Welcome! {account.email} is the first instance administrator.", "success")
    return redirect(url_for("dashboard.index"))


@pages.post("/logout")
def logout():
    if current_user.is_authenticated:
        signed_in = db.session.get(AuthSession, current_user.session_id)
        if signed_in is not None:
            revoke(signed_in, "logged_out")
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for(".login"))
