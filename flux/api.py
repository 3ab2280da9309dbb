"""The public API for plugin authors: everything a plugin may import from the core.

Built-in plugins import from here only (a test checks it), so what is listed is what
the core promises to keep; the rest of `flux` may change. `docs/plugins.md` shows how
the pieces fit: an `ApiBlueprint` of views with pydantic arguments, each guarded by
`require(...)` or `public` and declaring its error codes with `raises(...)`.
"""

from flask_openapi3 import Tag

from flux import audit, error_codes
from flux.admin_pages import AdminPage
from flux.app import flux_state
from flux.auth.permissions import ADMIN_ROLES, APP_USER, SIGNED_IN, check, require
from flux.auth.service_keys import has_scope
from flux.config import ConfigError
from flux.context import Actor, current_actor, current_tenant, current_tenant_id, public
from flux.crypto import DecryptionError, EncryptedColumn, KeyNotInRing, associated_data
from flux.db import UtcDateTime, db, flush_or_conflict, immediate_transaction, new_id, session_reads_only, utcnow
from flux.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
    unreadable_secret,
)
from flux.form_outcomes import refused, saved
from flux.forms import SchemaForm
from flux.hookspecs import hookimpl
from flux.http import parse_json
from flux.invocation import invocation_secrets
from flux.openapi import SECURITY, ApiBlueprint, raises
from flux.registry import collect_named, pick
from flux.schemas import (
    ApiModel,
    Description,
    FutureTime,
    Page,
    Timestamp,
    answer,
    bounded_text,
    list_of,
    page_of,
    paginated,
    parse,
    rule_error,
)
from flux.tenancy import TenantScoped, insert_row, read_rows, tenant_filter

__all__ = [
    "ADMIN_ROLES",
    "APP_USER",
    "SECURITY",
    "SIGNED_IN",
    "Actor",
    "AdminPage",
    "ApiBlueprint",
    "ApiError",
    "ApiModel",
    "BadRequest",
    "ConfigError",
    "Conflict",
    "DecryptionError",
    "Description",
    "EncryptedColumn",
    "Forbidden",
    "FutureTime",
    "KeyNotInRing",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "SchemaForm",
    "ServiceUnavailable",
    "Tag",
    "TenantScoped",
    "Timestamp",
    "Unauthorized",
    "UtcDateTime",
    "answer",
    "associated_data",
    "audit",
    "bounded_text",
    "check",
    "collect_named",
    "current_actor",
    "current_tenant",
    "current_tenant_id",
    "db",
    "error_codes",
    "flush_or_conflict",
    "flux_state",
    "has_scope",
    "hookimpl",
    "immediate_transaction",
    "insert_row",
    "invocation_secrets",
    "list_of",
    "new_id",
    "page_of",
    "paginated",
    "parse",
    "parse_json",
    "pick",
    "public",
    "raises",
    "read_rows",
    "refused",
    "require",
    "rule_error",
    "saved",
    "session_reads_only",
    "tenant_filter",
    "unreadable_secret",
    "utcnow",
]
