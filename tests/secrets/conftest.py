"""Shared helpers of the secrets tests: create secrets, read stored rows, expire one in the past."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from flux.db import db, utcnow
from plugins.secrets.models import FunctionSecret

BASE = "/api/v1/secrets"
ADMIN = "/api/v1/admin/secrets"
METADATA = {
    "id",
    "name",
    "scope",
    "namespace",
    "description",
    "version",
    "expires_at",
    "is_expired",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
}


def add(client, headers: dict, name: str, value: str, **fields: Any) -> dict:
    response = client.post(BASE, json={"name": name, "value": value, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def stored(app, table: str = "function_secrets") -> list[dict]:
    """Rows as stored, past the ORM and its tenant scoping."""
    with app.app_context(), db.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text(f"SELECT * FROM {table}"))]


def expire(app, secret_id: str, ago: timedelta = timedelta(minutes=1)) -> None:
    """Move a secret's expiry into the past, which the API refuses to do."""
    with app.app_context():
        row = db.session.scalar(
            sa.select(FunctionSecret).where(FunctionSecret.id == secret_id).execution_options(all_tenants=True)
        )
        row.expires_at = utcnow() - ago
        db.session.commit()


def tamper(app, source: str, target: str, table: str = "function_secrets") -> None:
    """Copy one row's sealed value over another's, behind the application's back."""
    with app.app_context(), db.engine.begin() as connection:
        sealed = connection.execute(
            sa.text(f"SELECT encrypted_value FROM {table} WHERE id = :id"), {"id": source}
        ).scalar_one()
        connection.execute(
            sa.text(f"UPDATE {table} SET encrypted_value = :v WHERE id = :id"), {"v": sealed, "id": target}
        )


def in_days(days: float) -> str:
    return (utcnow() + timedelta(days=days)).isoformat()
