"""The public API for plugin authors: everything a plugin may import from the core.

Built-in plugins import from here only (a test checks it), so what is listed is what
the core promises to keep; the rest of `flux` may change. `docs/plugins.md` shows how
the pieces fit: an `ApiBlueprint` of views with pydantic arguments, each guarded by
`require(...)` or `public` and declaring its error codes with `raises(...)`.
"""

from flask_openapi3 import Tag

from flux import audit, error_codes, tenant_settings
from flux.admin_pages import AdminPage
from flux.app import flux_state
from flux.auth.admins import first_admin, has_instance_admin, home_tenant_id
from flux.auth.key_schemas import KeyCreate, KeyDeprecate, KeyRevoke, ServiceKeyOut
from flux.auth.models import AuthSession, PlatformAccount, ServiceKey
from flux.auth.permissions import ADMIN_ROLES, APP_USER, SIGNED_IN, check, is_tenant_admin_here, require
from flux.auth.schemas import AdminSetup, Signin
from flux.auth.scopes import known_scopes
from flux.auth.service_keys import has_scope, issue_key, key_status, revoke_key, rotate_key, set_enabled
from flux.auth.sessions import open_session, revoke, session_is_live
from flux.auth.signin import authenticate
from flux.cache import TtlCache
from flux.cli import pass_app
from flux.client import ClientError, FluxClient, omit_none, path_segment, update_or_create
from flux.config import ConfigError, environment_variables
from flux.context import SERVER, Actor, acting_as_server, current_actor, current_tenant, current_tenant_id, public
from flux.cors import own_cors
from flux.crypto import Cipher, DecryptionError, EncryptedColumn, KeyNotInRing, associated_data
from flux.db import (
    UtcDateTime,
    db,
    flush_or_conflict,
    new_id,
    separate_session,
    upsert_insert,
    utcnow,
)
from flux.error_codes import ALREADY_EXISTS, NOT_FOUND, NOTHING_TO_UPDATE
from flux.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    database_fault,
    log_unexpected,
    unreadable_secret,
)
from flux.form_outcomes import invalid, refused, saved
from flux.forms import SchemaForm, stripped
from flux.hookspecs import hookimpl, hookspec
from flux.http import parse_json
from flux.migrate import schema_heads
from flux.openapi import SECURITY, ApiBlueprint, raises
from flux.ratelimit import Window
from flux.registry import collect_named, pick
from flux.remote_cli import ExpiresIn, json_option, pass_client, read_value, report, show_record, show_table
from flux.schemas import (
    MAX_LIMIT,
    ApiModel,
    Description,
    FutureTime,
    Page,
    Timestamp,
    Version,
    VersionInPath,
    answer,
    bounded_text,
    json_at_most,
    list_of,
    matching,
    page_of,
    paginated,
    parse,
    rule_error,
)
from flux.tenancy import (
    DEFAULT_TENANT_SLUG,
    Tenant,
    TenantInfo,
    TenantMembership,
    TenantScoped,
    default_tenant_id,
    delete_tenant_rows,
    find_tenant,
    membership_role,
    read_rows,
    tenant_scope,
    write_rows,
)
from flux.tenant_settings import SettingsGroup
from flux.version import __version__

__all__ = [
    "ADMIN_ROLES",
    "ALREADY_EXISTS",
    "APP_USER",
    "DEFAULT_TENANT_SLUG",
    "MAX_LIMIT",
    "NOTHING_TO_UPDATE",
    "NOT_FOUND",
    "SECURITY",
    "SERVER",
    "SIGNED_IN",
    "Actor",
    "AdminPage",
    "AdminSetup",
    "ApiBlueprint",
    "ApiError",
    "ApiModel",
    "AuthSession",
    "BadRequest",
    "Cipher",
    "ClientError",
    "ConfigError",
    "Conflict",
    "DecryptionError",
    "Description",
    "EncryptedColumn",
    "ExpiresIn",
    "FluxClient",
    "Forbidden",
    "FutureTime",
    "KeyCreate",
    "KeyDeprecate",
    "KeyNotInRing",
    "KeyRevoke",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "PlatformAccount",
    "SchemaForm",
    "ServiceKey",
    "ServiceKeyOut",
    "ServiceUnavailable",
    "SettingsGroup",
    "Signin",
    "Tag",
    "Tenant",
    "TenantInfo",
    "TenantMembership",
    "TenantScoped",
    "Timestamp",
    "TooManyRequests",
    "TtlCache",
    "Unauthorized",
    "UtcDateTime",
    "Version",
    "VersionInPath",
    "Window",
    "__version__",
    "acting_as_server",
    "answer",
    "associated_data",
    "audit",
    "authenticate",
    "bounded_text",
    "check",
    "collect_named",
    "current_actor",
    "current_tenant",
    "current_tenant_id",
    "database_fault",
    "db",
    "default_tenant_id",
    "delete_tenant_rows",
    "environment_variables",
    "error_codes",
    "find_tenant",
    "first_admin",
    "flush_or_conflict",
    "flux_state",
    "has_instance_admin",
    "has_scope",
    "home_tenant_id",
    "hookimpl",
    "hookspec",
    "invalid",
    "is_tenant_admin_here",
    "issue_key",
    "json_at_most",
    "json_option",
    "key_status",
    "known_scopes",
    "list_of",
    "log_unexpected",
    "matching",
    "membership_role",
    "new_id",
    "omit_none",
    "open_session",
    "own_cors",
    "page_of",
    "paginated",
    "parse",
    "parse_json",
    "pass_app",
    "pass_client",
    "path_segment",
    "pick",
    "public",
    "raises",
    "read_rows",
    "read_value",
    "refused",
    "report",
    "require",
    "revoke",
    "revoke_key",
    "rotate_key",
    "rule_error",
    "saved",
    "schema_heads",
    "separate_session",
    "session_is_live",
    "set_enabled",
    "show_record",
    "show_table",
    "stripped",
    "tenant_scope",
    "tenant_settings",
    "unreadable_secret",
    "update_or_create",
    "upsert_insert",
    "utcnow",
    "write_rows",
]
