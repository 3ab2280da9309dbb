"""The functions plugin's tables: functions, every version of their code, and executions.

`functions` holds a function's settings and its current version's code; each code
change adds a `function_versions` row, so an invocation can always name the exact
code it ran (`function_executions.version`).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from flux.api import TenantScoped, UtcDateTime, db, new_id, utcnow
from plugins.functions import directives

MAX_NAME_LENGTH = 64
MAX_MODULE_PATH_LENGTH = 255


class Effective:
    """A setting's winning value, from the API, the code's directive or the default (`directives.py`)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, row: object, owner: type | None = None) -> object:
        if row is None:
            return self
        return directives.resolved(row.api_settings, row.annotations)[self.name][0]


class EdgeFunction(TenantScoped, db.Model):
    """A tenant's function: code, runtime limits, permissions and who may call it."""

    __tablename__ = "functions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "namespace", "name", name="ux_functions_name"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(MAX_NAME_LENGTH))
    namespace: Mapped[str] = mapped_column(sa.String(MAX_NAME_LENGTH), default="default")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    code: Mapped[str] = mapped_column(sa.Text)
    # A directory function's other files, by path beside its entry (`helpers.ts`); it imports them relatively.
    files: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict, server_default="{}")
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    timeout_seconds: Mapped[int] = mapped_column(sa.Integer)
    memory_mb: Mapped[int] = mapped_column(sa.Integer)
    # The names of the function's own variables; their values are sealed in `encrypted_env` (`function_env.py`).
    env: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    encrypted_env: Mapped[str | None] = mapped_column(sa.Text, default=None)
    permissions: Mapped[dict[str, bool]] = mapped_column(sa.JSON, default=dict)
    # What the API and the code's `@fluxbase:` directives set (`directives.py`); the two
    # columns below hold their outcome, as listing and invoking filter on them.
    api_settings: Mapped[dict[str, object]] = mapped_column(sa.JSON, default=dict, server_default="{}")
    annotations: Mapped[dict[str, object]] = mapped_column(sa.JSON, default=dict, server_default="{}")
    allow_unauthenticated: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    is_public: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    isolation: Mapped[str] = mapped_column(sa.String(20), default="warm")
    # The digest (sha256, hex) of the code bundled with what it imports, as one module
    # (`runtime/bundler.py`, kept in `function_bundles`), and the versions of the shared
    # modules in it; none for code that imports nothing.
    bundle_digest: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    is_bundled: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    bundle_error: Mapped[str | None] = mapped_column(sa.Text, default=None)
    bundled_modules: Mapped[dict[str, int]] = mapped_column(sa.JSON, default=dict, server_default="{}")
    created_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    updated_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    cors_origins = Effective()
    cors_methods = Effective()
    cors_headers = Effective()
    cors_credentials = Effective()
    cors_max_age = Effective()
    rate_limit = Effective()

    @property
    def settings_sources(self) -> dict[str, str]:
        return directives.sources(self)


class FunctionVersion(TenantScoped, db.Model):
    """The code of one version of a function; versions start at 1 and only grow."""

    __tablename__ = "function_versions"
    __table_args__ = (sa.UniqueConstraint("function_id", "version", name="ux_function_versions"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    function_id: Mapped[str] = mapped_column(sa.ForeignKey("functions.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    code: Mapped[str] = mapped_column(sa.Text)
    files: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict, server_default="{}")
    created_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FunctionBundle(TenantScoped, db.Model):
    """A function's bundle, apart from its row: up to 5 MB, read only when a node first runs that digest.

    On the row, it would be read with every call (and SQLite walks a long value's
    overflow pages to reach the columns after it: `bench/bundle_invoke.py`).
    """

    __tablename__ = "function_bundles"

    function_id: Mapped[str] = mapped_column(sa.ForeignKey("functions.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64))
    bundle: Mapped[str] = mapped_column(sa.Text)


class FunctionExecution(TenantScoped, db.Model):
    """One invocation: the version it ran, how it ended, and its console output (secrets masked)."""

    __tablename__ = "function_executions"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    function_id: Mapped[str] = mapped_column(sa.ForeignKey("functions.id", ondelete="CASCADE"))
    function_name: Mapped[str] = mapped_column(sa.String(MAX_NAME_LENGTH))
    namespace: Mapped[str] = mapped_column(sa.String(MAX_NAME_LENGTH))
    version: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16))
    status_code: Mapped[int] = mapped_column(sa.Integer)
    duration_ms: Mapped[float] = mapped_column(sa.Float)
    error: Mapped[str | None] = mapped_column(sa.Text, default=None)
    logs: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    logs_truncated: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    trigger: Mapped[str] = mapped_column(sa.String(16), default="http")
    user_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime] = mapped_column(UtcDateTime)


# A function's latest execution, and its newest N, are read off this index without a sort
# (lists show each function's last status; retention keeps the newest N).
sa.Index("ix_function_executions_latest", FunctionExecution.function_id, FunctionExecution.started_at.desc())


class SharedModule(TenantScoped, db.Model):
    """A module functions import as `_shared/…` (seed 003), at its current version."""

    __tablename__ = "function_shared_modules"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "module_path", name="ux_function_shared_modules_path"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    module_path: Mapped[str] = mapped_column(sa.String(MAX_MODULE_PATH_LENGTH))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    content: Mapped[str] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    updated_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SharedModuleVersion(TenantScoped, db.Model):
    """The content of one version of a shared module, so a function can name the versions it was built with."""

    __tablename__ = "function_shared_module_versions"
    __table_args__ = (sa.UniqueConstraint("module_id", "version", name="ux_function_shared_module_versions"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    module_id: Mapped[str] = mapped_column(sa.ForeignKey("function_shared_modules.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    content: Mapped[str] = mapped_column(sa.Text)
    created_by: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
