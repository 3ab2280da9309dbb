"""Password hashing (werkzeug's scrypt, memory-hard); the rules for new credentials are in `flux.auth.schemas`."""

from __future__ import annotations

import re

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

# Deliberately simple: one "@", no spaces, a dot in the domain. Deliverability is the
# mail server's job; this only catches typing mistakes.
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
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
