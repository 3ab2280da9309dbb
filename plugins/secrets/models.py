"""The secrets plugin's tables: function secrets and every value they have had.

A secret's current value is sealed in `function_secrets.encrypted_value` (what the
runtime reads, in one query) and again in its newest `function_secret_versions` row
(what history and rollback read). `env_name` is the `FLUXBASE_SECRET_*` variable the
runtime exposes it as; it is unique like the name, so two secrets never compete for
one variable (`api.key` and `API_KEY` would).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from flux.api import TenantScoped, UtcDateTime, db, new_id, utcnow

GLOBAL = "global"
NAMESPACE = "namespace"
SCOPES = (GLOBAL, NAMESPACE)
MAX_NAME_LENGTH = 128
MAX_NAMESPACE_LENGTH = 64
ENV_PREFIX = "FLUXBASE_SECRET_"


class FunctionSecret(TenantScoped, db.Model):
    """A named secret of a tenant, global or for one namespace of functions."""

    __tablename__ = "function_secrets"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "scope", "namespace", "name", name="ux_function_secrets_name"),
        sa.UniqueConstraint("tenant_id", "scope", "namespace", "env_name", name="ux_function_secrets_env_name"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(MAX_NAME_LENGTH))
    env_name: Mapped[str] = mapped_column(sa.String(len(ENV_PREFIX) + MAX_NAME_LENGTH))
    scope: Mapped[str] = mapped_column(sa.String(16))
    namespace: Mapped[str] = mapped_column(sa.String(MAX_NAMESPACE_LENGTH), default="")
    encrypted_value: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    updated_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())


class SecretVersion(TenantScoped, db.Model):
    """One value a secret has had; version numbers start at 1 and only grow."""

    __tablename__ = "function_secret_versions"
    __table_args__ = (sa.UniqueConstraint("secret_id", "version", name="ux_function_secret_versions"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    secret_id: Mapped[str] = mapped_column(sa.ForeignKey("function_secrets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    encrypted_value: Mapped[str] = mapped_column(sa.Text)
    created_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
