"""Access tokens (HS256 JWTs through PyJWT) and refresh tokens (random, rotated per use)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app

from flux.auth.policy import PLATFORM_ROLES, governing
from flux.auth.secrets_file import instance_secret
from flux.config import ConfigError
from flux.db import utcnow
from flux.errors import Unauthorized

ALGORITHM = "HS256"
INVALID_TOKEN = "Invalid or expired Bearer token"
REFRESH_PREFIX = "fbr"


def init_app(app: Flask) -> None:
    """Pick the signing secret: `FLUXBASE_AUTH_JWT_SECRET`, else one generated in the instance folder."""
    if not app.config["AUTH_JWT_SECRET"]:
        app.config["AUTH_JWT_SECRET"] = instance_secret(Path(app.instance_path), "jwt.secret")
    if len(app.config["AUTH_JWT_SECRET"]) < 32:
        raise ConfigError("FLUXBASE_AUTH_JWT_SECRET must be at least 32 characters")
    # The dashboard's session cookies are signed with a key derived from the same secret,
    # so a multi-node deployment shares one secret, not two.
    app.config["SECRET_KEY"] = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"fluxbase-dashboard-session-v1"
    ).derive(app.config["AUTH_JWT_SECRET"].encode())


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    email: str
    role: str
    session_id: str
    tenant_id: str


def issue_access_token(claims: AccessClaims) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    config = current_app.config
    platform = claims.role in PLATFORM_ROLES  # the server's lifetime for dashboard accounts (`governing`)
    lifetime = governing("tokens", claims.tenant_id, platform)["access_token_lifetime"]
    now = utcnow()
    payload = {
        "iss": config["AUTH_JWT_ISSUER"],
        "aud": config["AUTH_JWT_AUDIENCE"],
        "sub": claims.subject,
        "email": claims.email,
        "role": claims.role,
        "session_id": claims.session_id,
        "tenant_id": claims.tenant_id,
        "iat": now,
        "exp": now + timedelta(seconds=lifetime),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, config["AUTH_JWT_SECRET"], algorithm=ALGORITHM), lifetime


def verify_access_token(token: str) -> dict[str, Any]:
    """The claims of a valid token; 401 for anything else (algorithm, signature, audience, expiry).

    A token verified in the last few seconds is not verified again: clients send the
    same token with every request, and its signature cannot have changed. Its expiry is
    still checked on every use.
    """
    verified = current_app.extensions["flux"].verified_tokens
    claims = verified.get(token)
    if claims is None:
        claims = _decode(token)
        verified.put(token, claims)
    elif claims["exp"] <= time.time():
        raise Unauthorized(INVALID_TOKEN, code="INVALID_TOKEN")
    return claims


def _decode(token: str) -> dict[str, Any]:
    config = current_app.config
    try:
        claims = jwt.decode(
            token,
            config["AUTH_JWT_SECRET"],
            algorithms=[ALGORITHM],
            audience=config["AUTH_JWT_AUDIENCE"],
            issuer=config["AUTH_JWT_ISSUER"],
            options={"require": ["exp", "iat", "sub", "role", "session_id", "tenant_id", "aud", "iss"]},
        )
    except jwt.PyJWTError:
        raise Unauthorized(INVALID_TOKEN, code="INVALID_TOKEN") from None
    if not all(isinstance(claims.get(name), str) for name in ("sub", "role", "session_id", "tenant_id")):
        raise Unauthorized(INVALID_TOKEN, code="INVALID_TOKEN")
    return claims


def new_refresh_token(session_id: str, generation: int) -> str:
    """`fbr.<session id>.<generation>.<random>`; the server keeps only its hash."""
    return f"{REFRESH_PREFIX}.{session_id}.{generation}.{secrets.token_urlsafe(32)}"


def parse_refresh_token(token: object) -> tuple[str, int] | None:
    """(session id, generation), or None when the token is not in our format."""
    if not isinstance(token, str):
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != REFRESH_PREFIX or not parts[2].isdigit() or len(parts[1]) != 36:
        return None
    return parts[1], int(parts[2])


def token_hash(token: str) -> str:
    """SHA-256 hex: refresh tokens and service keys are random, so a fast hash suffices."""
    return hashlib.sha256(token.encode()).hexdigest()
