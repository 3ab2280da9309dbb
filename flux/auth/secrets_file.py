"""Secrets the server generates for itself on first start, kept in the instance folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def instance_secret(instance_path: Path, name: str) -> str:
    """Read `<instance>/<name>`, creating it (mode 0600, 48 random bytes) if absent."""
    path = instance_path / name
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker won the race; read theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip()
