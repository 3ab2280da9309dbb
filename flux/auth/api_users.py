"""App users: `/api/v1/auth/...` — sign up, sign in, refresh, sign out, the current user."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from flux.auth.models import APP_USER_FIELDS, AppUser, app_user_json
from flux.auth.passwords import check_new_password, hash_password, normalize_email, verify_password
from flux.auth.permissions import SIGNED_IN, require
from flux.auth.sessions import (
    end_current_session,
    refresh_session,
    revoke_other_sessions,
    start_session,
    token_response,
)
from flux.auth.signin import authenticate
from flux.context import Actor, current_actor, current_tenant_id, public
from flux.db import db
from flux.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from flux.http import json_body, optional_object
from flux.tenancy import read_rows, tenant_filter

users = Blueprint("auth", __name__, url_prefix="/api/v1/auth")
MAX_METADATA_BYTES = 16 * 1024


def _metadata(body: dict) -> dict | None:
    metadata = optional_object(body, "user_metadata")
    if metadata is not None and len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise BadRequest(f"user_metadata must be at most {MAX_METADATA_BYTES} bytes of JSON", code="INVALID_FIELD")
    return metadata


@users.post("/signup")
@public
def signup():
    if not current_app.config["AUTH_SIGNUP_ENABLED"]:
        raise Forbidden("Sign-up is disabled on this server", code="SIGNUP_DISABLED")
    body = json_body()
    email = normalize_email(body.get("email"))
    password = check_new_password(body.get("password"))
    metadata = _metadata(body) or {}
    if db.session.scalar(sa.select(AppUser.id).where(AppUser.email == email)):
        raise Conflict("A user with this email already exists", code="USER_EXISTS")
    user = AppUser(email=email, password_hash=hash_password(password), role="authenticated", user_metadata=metadata)
    db.session.add(user)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise Conflict("A user with this email already exists", code="USER_EXISTS") from None
    return jsonify(start_session(user, current_tenant_id())), 201


@users.post("/signin")
@public
def signin():
    user = authenticate(AppUser, json_body())
    return jsonify(start_session(user, user.tenant_id))


@users.post("/refresh")
@public
def refresh():
    session, refresh_token = refresh_session(json_body().get("refresh_token"), AppUser.kind)
    user = db.session.scalar(
        sa.select(AppUser).where(AppUser.id == session.account_id).execution_options(all_tenants=True)
    )
    if user is None:
        raise Unauthorized("Invalid or expired refresh token", code="INVALID_REFRESH_TOKEN")
    return jsonify(token_response(user, session, refresh_token))


def _signed_in_user() -> AppUser:
    actor = current_actor()
    user = db.session.get(AppUser, actor.id) if actor.kind == "user" else None
    return _checked_user(user, actor)


def _checked_user(user: AppUser | sa.Row | None, actor: Actor) -> AppUser | sa.Row:
    if user is None or user.tenant_id != actor.tenant_id:
        raise NotFound("No app user behind this token", code="USER_NOT_FOUND")
    return user


@users.post("/signout")
@require(SIGNED_IN)
def signout():
    end_current_session("signed_out")
    return "", 204


# `GET /user` is the hottest signed-in read: a table-level row read outside the ORM
# session (`read_rows`) makes the whole request about twice as fast (measured in-process).
_USERS = AppUser.__table__
_USER_ROW_BY_ID = sa.select(*(_USERS.c[name] for name in APP_USER_FIELDS)).where(
    _USERS.c.id == sa.bindparam("id"), tenant_filter(_USERS)
)


@users.get("/user")
@require(SIGNED_IN)
def get_user():
    actor = current_actor()
    rows = read_rows(_USER_ROW_BY_ID, {"id": actor.id}) if actor.kind == "user" else ()
    return jsonify(app_user_json(_checked_user(rows[0] if rows else None, actor)))


@users.patch("/user")
@require(SIGNED_IN)
def update_user():
    """Change metadata and/or the password; a new password ends every other session of the user.

    The session making the change keeps working (its tokens stay valid), so a client
    need not sign in again; every other session and its refresh token is revoked.
    """
    body = json_body()
    user = _signed_in_user()
    metadata = _metadata(body)
    if "password" in body:
        current = body.get("current_password")
        if not isinstance(current, str) or not verify_password(user.password_hash, current):
            raise BadRequest("current_password is missing or wrong", code="INVALID_CURRENT_PASSWORD")
        user.password_hash = hash_password(check_new_password(body["password"]))
        # Whoever else holds a session (a stolen token, another device) must sign in again.
        revoke_other_sessions(user, current_actor().session_id, "password_changed")
    if metadata is not None:
        user.user_metadata = {**(user.user_metadata or {}), **metadata}
    if metadata is None and "password" not in body:
        raise BadRequest("nothing to update: send user_metadata and/or password", code="NOTHING_TO_UPDATE")
    db.session.commit()
    return jsonify(user.as_json())


@users.get("/config")
@public
def auth_config():
    config = current_app.config
    return jsonify(
        {
            "signup_enabled": config["AUTH_SIGNUP_ENABLED"],
            "password_min_length": config["AUTH_PASSWORD_MIN_LENGTH"],
            "access_token_seconds": config["AUTH_ACCESS_TOKEN_SECONDS"],
            "refresh_token_days": config["AUTH_REFRESH_TOKEN_DAYS"],
            "lockout_attempts": config["AUTH_LOCKOUT_ATTEMPTS"],
            "lockout_minutes": config["AUTH_LOCKOUT_MINUTES"],
        }
    )
