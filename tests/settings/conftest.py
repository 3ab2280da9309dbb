"""Shared helpers of the settings tests: app users, system settings and raw stored rows."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from flux.db import db
from plugins.settings.models import Setting

USER = "/api/v1/settings/user"
SECRETS = "/api/v1/settings/secret"
PUBLIC = "/api/v1/settings"
ADMIN = "/api/v1/admin/settings/custom"
ADMIN_SECRETS = f"{ADMIN}/secret"
SECRET_METADATA = {"id", "key", "description", "user_id", "created_at", "updated_at"}


def stored_rows(app) -> list[dict]:
    """Every row of the settings table as stored, read past the ORM and its tenant scoping."""
    with app.app_context(), db.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text("SELECT * FROM settings_entries"))]


def stored_settings(app) -> dict[str, Setting]:
    """Every settings row of every tenant as the model loads it, by key."""
    with app.app_context():
        rows = db.session.scalars(sa.select(Setting).execution_options(all_tenants=True)).all()
        return {row.key: row for row in rows}


def put(client, headers: dict, key: str, value: Any, **fields: Any) -> dict:
    response = client.put(f"{USER}/{key}", json={"value": value, **fields}, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def add_secret(client, headers: dict, key: str, value: str, base: str = SECRETS, **fields: Any) -> dict:
    response = client.post(base, json={"key": key, "value": value, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def add_system(client, headers: dict, key: str, value: Any, **fields: Any) -> dict:
    response = client.post(ADMIN, json={"key": key, "value": value, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def audit_actions(client, headers: dict) -> list[dict]:
    response = client.get("/api/v1/admin/audit?limit=1000", headers=headers)
    assert response.status_code == 200, response.json
    return [event for event in response.json if event["action"].startswith("settings.")]


@pytest.fixture
def alice(auth) -> dict:
    return auth.bearer(auth.signup("alice@example.com"))


@pytest.fixture
def bob(auth) -> dict:
    return auth.bearer(auth.signup("bob@example.com"))


def user_id(client, headers: dict) -> str:
    return client.get("/api/v1/auth/user", headers=headers).json["id"]
