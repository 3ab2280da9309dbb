"""Dashboard administrators: `/api/v1/admin/setup|login|refresh|logout|me`."""

from __future__ import annotations

from flask_openapi3 import Tag

from flux.auth.admins import first_admin, has_instance_admin, home_tenant_id
from flux.auth.models import PlatformAccount
from flux.auth.permissions import SIGNED_IN, require
from flux.auth.schemas import AccountOut, AccountTokens, AdminSetup, Me, Refresh, SetupStatus, Signin
from flux.auth.sessions import end_current_session, refresh_session, start_session, token_response
from flux.auth.signin import authenticate
from flux.context import current_actor, public
from flux.db import db
from flux.error_codes import (
    ALREADY_EXISTS,
    FORBIDDEN,
    INVALID_CREDENTIALS,
    INVALID_REFRESH_TOKEN,
    INVALID_SETUP_TOKEN,
    NOT_FOUND,
    RATE_LIMITED,
    SETUP_COMPLETE,
    WEAK_PASSWORD,
)
from flux.errors import Forbidden, NotFound, Unauthorized
from flux.openapi import ApiBlueprint, raises
from flux.schemas import answer
from flux.tenancy import default_tenant_id

admins = ApiBlueprint("admin_auth", __name__, url_prefix="/api/v1/admin", abp_tags=[Tag(name="administrators")])


@admins.get("/setup/status", responses={200: SetupStatus})
@public
def setup_status():
    has_admin = has_instance_admin()
    return answer(SetupStatus(needs_setup=not has_admin, has_admin=has_admin))


@admins.post("/setup", responses={201: AccountTokens})
@public
@raises(INVALID_SETUP_TOKEN, SETUP_COMPLETE, WEAK_PASSWORD, ALREADY_EXISTS)
def setup(body: AdminSetup):
    account = first_admin(body)
    return answer(AccountTokens.model_validate(start_session(account, default_tenant_id())), 201)


@admins.post("/login", responses={200: AccountTokens})
@public
@raises(INVALID_CREDENTIALS, RATE_LIMITED)
def login(body: Signin):
    account = authenticate(PlatformAccount, body.email, body.password)
    return answer(AccountTokens.model_validate(start_session(account, home_tenant_id(account))))


@admins.post("/refresh", responses={200: AccountTokens})
@public
@raises(INVALID_REFRESH_TOKEN)
def refresh(body: Refresh):
    session, refresh_token = refresh_session(body.refresh_token, PlatformAccount.kind)
    account = db.session.get(PlatformAccount, session.account_id)
    if account is None:
        raise Unauthorized("Invalid or expired refresh token", code=INVALID_REFRESH_TOKEN)
    return answer(AccountTokens.model_validate(token_response(account, session, refresh_token)))


def _signed_in_account() -> PlatformAccount:
    """The caller's dashboard account: app users and service keys have none (403)."""
    actor = current_actor()
    if actor.kind != "platform":
        raise Forbidden("Only dashboard accounts have this endpoint", code=FORBIDDEN)
    account = db.session.get(PlatformAccount, actor.id)
    if account is None:
        raise NotFound("No dashboard account behind this credential", code=NOT_FOUND)
    return account


@admins.post("/logout", responses={204: None})
@require(SIGNED_IN)
@raises(NOT_FOUND)
def logout():
    _signed_in_account()
    end_current_session("logged_out")
    return "", 204


@admins.get("/me", responses={200: Me})
@require(SIGNED_IN)
@raises(NOT_FOUND)
def me():
    return answer(Me(user=AccountOut.model_validate(_signed_in_account())))
