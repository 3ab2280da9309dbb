"""The one table of the settings plugin: user and system settings, plain or secret.

A row with `user_id` NULL is a system setting of its tenant; any other row belongs to
one app user. A secret row keeps its value only in `encrypted_value` (Encryptor
output) and JSON null in `value`, so the plain column never holds a trace of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from flux.api import TenantScoped, UtcDateTime, db, new_id, utcnow

TABLE = "settings_entries"
MAX_KEY_LENGTH = 255


class Setting(TenantScoped, db.Model):
    """One key of a tenant: a user's (`user_id` set) or the system's (`user_id` NULL)."""

    __tablename__ = TABLE
    # NULL never equals NULL in a unique constraint, so system rows need an index of their own.
    __table_args__ = (
        sa.Index(
            "ux_settings_entries_user_key",
            "tenant_id",
            "user_id",
            "key",
            unique=True,
            sqlite_where=sa.text("user_id IS NOT NULL"),
            postgresql_where=sa.text("user_id IS NOT NULL"),
        ),
        sa.Index(
            "ux_settings_entries_system_key",
            "tenant_id",
            "key",
            unique=True,
            sqlite_where=sa.text("user_id IS NULL"),
            postgresql_where=sa.text("user_id IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(sa.String(MAX_KEY_LENGTH))
    value: Mapped[Any] = mapped_column(sa.JSON, nullable=True, default=None)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    user_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    is_public: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    is_secret: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    encrypted_value: Mapped[str | None] = mapped_column(sa.Text, default=None)
    created_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    updated_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    def as_json(self) -> dict[str, Any]:
        """A plain setting as the API shows it (`user_id` null for a system setting)."""
        return {
            "id": self.id,
            "key": self.key,
            "value": self.value,
            "description": self.description,
            "user_id": self.user_id,
            "is_public": self.is_public,
            "created_by": self.created_by,
            "updated_by": self.updated_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    def secret_metadata(self) -> dict[str, Any]:
        """What any endpoint may show of a secret: never its value, plain or encrypted."""
        return {
            "id": self.id,
            "key": self.key,
            "description": self.description,
            "user_id": self.user_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
