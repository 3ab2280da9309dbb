"""Checking credentials, with per-IP and per-e-mail rate limits and account lockout.

The rate limits slow down guessing across accounts; the lockout (kept in the database,
so every worker and node sees it) stops guessing one account's password.
"""

from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request

from flux.auth.models import Credentials
from flux.auth.passwords import EMAIL_PATTERN, verify_password
from flux.db import db, utcnow
from flux.errors import BadRequest, TooManyRequests, Unauthorized

INVALID_CREDENTIALS = "Invalid email or password"


def _limiter():
    return current_app.extensions["flux"].limiter


def _too_many(message: str, seconds: int) -> TooManyRequests:
    return TooManyRequests(message, headers={"Retry-After": str(seconds)}, retry_after=seconds)


def authenticate(model: type[Credentials], body: dict) -> Credentials:
    """The account for these credentials; 400, 401 (one message for every mismatch) or 429."""
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not email or not isinstance(password, str) or not password:
        raise BadRequest("email and password are required", code="MISSING_CREDENTIALS")
    email = email.strip().lower()
    config = current_app.config
    ip = request.remote_addr or "unknown"
    limits = [(config["AUTH_SIGNIN_LIMIT_PER_IP"], "signin-ip", ip)]
    limits.append((config["AUTH_SIGNIN_LIMIT_PER_EMAIL"], "signin-email", email))
    for limit, *identifiers in limits:
        wait = _limiter().retry_after(limit, *identifiers)
        if wait:
            raise _too_many("Too many failed sign-ins; try again later", wait)

    account = None
    if EMAIL_PATTERN.match(email):
        account = db.session.scalar(sa.select(model).where(model.email == email))
    now = utcnow()
    if account is not None and account.locked_until is not None and account.locked_until > now:
        seconds = math.ceil((account.locked_until - now).total_seconds())
        raise _too_many("Account temporarily locked after repeated failed sign-ins", seconds)

    if verify_password(account.password_hash if account else None, password):
        account.failed_signins = 0
        account.locked_until = None
        return account

    for limit, *identifiers in limits:
        _limiter().hit(limit, *identifiers)
    if account is not None:
        account.failed_signins += 1
        if account.failed_signins >= config["AUTH_LOCKOUT_ATTEMPTS"]:
            account.locked_until = now + timedelta(minutes=config["AUTH_LOCKOUT_MINUTES"])
            account.failed_signins = 0
        db.session.commit()
    raise Unauthorized(INVALID_CREDENTIALS, code="INVALID_CREDENTIALS")
