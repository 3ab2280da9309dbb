"""Password hashing (werkzeug's scrypt, memory-hard) and the checks on new credentials."""

from __future__ import annotations

import re

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from flux.errors import BadRequest

# Deliberately simple: one "@", no spaces, a dot in the domain. Deliverability is the
# mail server's job; this only catches typing mistakes.
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_PASSWORD_LENGTH = 1024
_DUMMY_HASHES: dict[str, str] = {}


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["AUTH_PASSWORD_HASH_METHOD"])


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown account) spend the same time and fail."""
    if password_hash is None:
        method = current_app.config["AUTH_PASSWORD_HASH_METHOD"]
        if method not in _DUMMY_HASHES:
            _DUMMY_HASHES[method] = generate_password_hash("not a real password", method=method)
        check_password_hash(_DUMMY_HASHES[method], password)
        return False
    return check_password_hash(password_hash, password)


def normalize_email(value: object) -> str:
    """A lowercase, stripped e-mail address, or a 400 that says what is wrong."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("email is required", code="INVALID_EMAIL")
    email = value.strip().lower()
    if len(email) > 320 or not EMAIL_PATTERN.match(email):
        raise BadRequest("email is not a valid address", code="INVALID_EMAIL")
    return email


def check_new_password(value: object) -> str:
    """The password if it meets the policy, else a 400 naming the rule it breaks."""
    if not isinstance(value, str) or not value:
        raise BadRequest("password is required", code="WEAK_PASSWORD")
    minimum = current_app.config["AUTH_PASSWORD_MIN_LENGTH"]
    if len(value) < minimum:
        raise BadRequest(f"password must be at least {minimum} characters", code="WEAK_PASSWORD")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise BadRequest(f"password must be at most {MAX_PASSWORD_LENGTH} characters", code="WEAK_PASSWORD")
    return value
