"""App users: `/api/v1/auth/...` — sign up, sign in, refresh, sign out, the current user."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_openapi3 import Tag

from flux import tenant_settings
from flux.auth.models import AppUser
from flux.auth.passwords import hash_password, verify_password
from flux.auth.permissions import APP_USER, SIGNED_IN, require
from flux.auth.schemas import AuthConfig, Refresh, Signin, Signup, UserChange, UserOut, UserTokens
from flux.auth.sessions import (
    end_current_session,
    refresh_session,
    revoke_other_sessions,
    start_session,
    token_response,
)
from flux.auth.signin import authenticate
from flux.context import current_actor, current_tenant_id, public
from flux.db import db
from flux.error_codes import (
    ALREADY_EXISTS,
    INVALID_CREDENTIALS,
    INVALID_CURRENT_PASSWORD,
    INVALID_REFRESH_TOKEN,
    NOT_FOUND,
    NOTHING_TO_UPDATE,
    RATE_LIMITED,
    SIGNUP_DISABLED,
    TENANT_ACCESS_DENIED,
    TENANT_NOT_FOUND,
    VALUE_TOO_LARGE,
    WEAK_PASSWORD,
)
from flux.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from flux.openapi import ApiBlueprint, raises
from flux.schemas import answer
from flux.tenancy import read_rows

users = ApiBlueprint("auth", __name__, url_prefix="/api/v1/auth", abp_tags=[Tag(name="app users")])


def _already_exists() -> Conflict:
    return Conflict("A user with this email already exists", code=ALREADY_EXISTS)


@users.post("/signup", responses={201: UserTokens})
@public
@raises(SIGNUP_DISABLED, WEAK_PASSWORD, ALREADY_EXISTS, VALUE_TOO_LARGE, TENANT_NOT_FOUND)
def signup(body: Signup):
    if not current_app.config["AUTH_SIGNUP_ENABLED"]:
        raise Forbidden("Sign-up is disabled on this server", code=SIGNUP_DISABLED)
    if db.session.scalar(sa.select(AppUser.id).where(AppUser.email == body.email)):
        raise _already_exists()
    user = AppUser(
        email=body.email,
        password_hash=hash_password(body.password),
        role="authenticated",
        user_metadata=body.user_metadata or {},
    )
    db.session.add(user)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise _already_exists() from None
    return answer(UserTokens.model_validate(start_session(user, current_tenant_id())), 201)


@users.post("/signin", responses={200: UserTokens})
@public
@raises(INVALID_CREDENTIALS, RATE_LIMITED, TENANT_NOT_FOUND)
def signin(body: Signin):
    user = authenticate(AppUser, body.email, body.password)
    return answer(UserTokens.model_validate(start_session(user, user.tenant_id)))


@users.post("/refresh", responses={200: UserTokens})
@public
@raises(INVALID_REFRESH_TOKEN, TENANT_ACCESS_DENIED)
def refresh(body: Refresh):
    session, refresh_token = refresh_session(body.refresh_token, AppUser.kind, live_tenant=True)
    user = db.session.scalar(
        sa.select(AppUser).where(AppUser.id == session.account_id).execution_options(all_tenants=True)
    )
    if user is None:
        raise Unauthorized("Invalid or expired refresh token", code=INVALID_REFRESH_TOKEN)
    return answer(UserTokens.model_validate(token_response(user, session, refresh_token)))


@users.post("/signout", responses={204: None})
@require(SIGNED_IN)
def signout():
    end_current_session("signed_out")
    return "", 204


def _checked_user(user: AppUser | sa.Row | None) -> AppUser | sa.Row:
    """The signed-in app user, unless it was deleted since its token was issued."""
    if user is None or user.tenant_id != current_actor().tenant_id:
        raise NotFound("No app user behind this token", code=NOT_FOUND)
    return user


# `GET /user` is the hottest signed-in read: the answer's columns, read with `read_rows`.
_USERS = AppUser.__table__
_USER_ROW_BY_ID = sa.select(*(_USERS.c[name] for name in UserOut.model_fields)).where(_USERS.c.id == sa.bindparam("id"))


@users.get("/user", responses={200: UserOut})
@require(APP_USER)
@raises(NOT_FOUND)
def get_user():
    rows = read_rows(_USER_ROW_BY_ID, {"id": current_actor().id})
    return answer(UserOut.model_validate(_checked_user(rows[0] if rows else None)))


@users.patch("/user", responses={200: UserOut})
@require(APP_USER)
@raises(NOT_FOUND, NOTHING_TO_UPDATE, INVALID_CURRENT_PASSWORD, WEAK_PASSWORD, VALUE_TOO_LARGE)
def update_user(body: UserChange):
    """Change metadata and/or the password; a new password ends every other session of the user.

    The session making the change keeps working (its tokens stay valid), so a client
    need not sign in again; every other session and its refresh token is revoked.
    """
    user = _checked_user(db.session.get(AppUser, current_actor().id))
    if body.password is None and body.user_metadata is None:
        raise BadRequest("nothing to update: send user_metadata and/or password", code=NOTHING_TO_UPDATE)
    if body.password is not None:
        current = body.current_password
        if current is None or not verify_password(user.password_hash, current):
            raise BadRequest("current_password is missing or wrong", code=INVALID_CURRENT_PASSWORD)
        user.password_hash = hash_password(body.password)
        # Whoever else holds a session (a stolen token, another device) must sign in again.
        revoke_other_sessions(user, current_actor().session_id, "password_changed")
    if body.user_metadata is not None:
        user.user_metadata = {**(user.user_metadata or {}), **body.user_metadata}
    db.session.commit()
    return answer(UserOut.model_validate(user))


@users.get("/config", responses={200: AuthConfig})
@public
def auth_config():
    """What a sign-up form needs to know: the tenant's password policy, token lifetimes and lockout."""
    authentication = tenant_settings.read("authentication")
    policy = authentication["password_policy"]
    return answer(
        AuthConfig(
            signup_enabled=current_app.config["AUTH_SIGNUP_ENABLED"],
            password_min_length=policy["min_length"],
            password_policy=policy,
            access_token_seconds=tenant_settings.value("tokens.access_token_lifetime"),
            refresh_token_seconds=authentication["session"]["lifetime"],
            lockout_attempts=authentication["lockout"]["max_attempts"],
            lockout_seconds=authentication["lockout"]["lockout_duration"],
        )
    )
