"""The one table of error codes: each concept has one code, one status and one meaning.

Every `code` an API answer carries is registered here with `register`, the core's
below and each plugin's in its own module (plugins own their vocabulary), so the
OpenAPI document lists, for each operation, exactly the codes it can answer and
`docs/errors.md` documents them all. `python -m flux.error_codes` prints that page
from this table (with every built-in plugin loaded); a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    meaning: str
    owner: str


_TABLE: dict[str, ErrorCode] = {}


def register(code: str, status: int, meaning: str, owner: str = "core") -> str:
    """Add `code` to the table and return it; the same code twice must agree on its status."""
    known = _TABLE.get(code)
    if known is not None and known.status != status:
        raise ValueError(f"error code {code} is registered with status {known.status}, not {status}")
    if known is None:
        _TABLE[code] = ErrorCode(code, status, meaning, owner)
    return code


def lookup(code: str) -> ErrorCode:
    """The registered code; KeyError names what to do for an unregistered one."""
    try:
        return _TABLE[code]
    except KeyError:
        raise KeyError(f"error code {code} is not registered: call flux.error_codes.register for it") from None


def is_registered(code: str) -> bool:
    return code in _TABLE


def table() -> list[ErrorCode]:
    return sorted(_TABLE.values(), key=lambda entry: (entry.owner != "core", entry.owner, entry.status, entry.code))


# Answers any operation can give.
BAD_REQUEST = register("BAD_REQUEST", 400, "The request is malformed in a way no more specific code covers.")
NUL_CHARACTER = register("NUL_CHARACTER", 400, "The path, query or body carries U+0000, which no database stores.")
DATABASE_BUSY = register("DATABASE_BUSY", 503, "The database is busy; retry after `Retry-After` seconds.")
DATABASE_UNAVAILABLE = register("DATABASE_UNAVAILABLE", 503, "The database cannot be reached; retry shortly.")
AUDIT_UNAVAILABLE = register(
    "AUDIT_UNAVAILABLE", 503, "The change's audit record could not be written, so the change was not made; retry."
)
NOT_FOUND = register("NOT_FOUND", 404, "No such endpoint, or no such object for this caller in this tenant.")
METHOD_NOT_ALLOWED = register("METHOD_NOT_ALLOWED", 405, "The endpoint does not take this method (see `Allow`).")
INTERNAL_ERROR = register("INTERNAL_ERROR", 500, "A bug: the answer carries a `request_id` to quote in a report.")
RATE_LIMITED = register("RATE_LIMITED", 429, "Too many requests; retry after `Retry-After` seconds.")

# Request bodies, queries and path parameters (the schema translator's codes).
INVALID_JSON = register("INVALID_JSON", 400, "The body is not JSON, nested too deep, or holds a lone surrogate.")
INVALID_BODY = register("INVALID_BODY", 400, "The body must be a JSON object.")
FIELD_REQUIRED = register("FIELD_REQUIRED", 400, "A required field is missing; `details` names it.")
INVALID_FIELD = register("INVALID_FIELD", 400, "A field has the wrong type or value; `details` names it.")
PAYLOAD_TOO_LARGE = register("PAYLOAD_TOO_LARGE", 413, "The body is larger than the server accepts.")
VALUE_TOO_LARGE = register("VALUE_TOO_LARGE", 413, "A value is larger than its field allows.")
NOTHING_TO_UPDATE = register("NOTHING_TO_UPDATE", 400, "An update named no field to change.")
INVALID_PAGE = register("INVALID_PAGE", 400, "`limit` must be 1 to 1000 and `offset` 0 to 2**63 - 1.")

# Objects.
ALREADY_EXISTS = register("ALREADY_EXISTS", 409, "An object of this name already exists here.")
CONCURRENT_CHANGE = register("CONCURRENT_CHANGE", 409, "Another request changed the object at the same time; retry.")

# Who is calling.
AUTH_REQUIRED = register("AUTH_REQUIRED", 401, "The endpoint needs a Bearer token or a service key.")
INVALID_TOKEN = register("INVALID_TOKEN", 401, "The Bearer token is malformed, expired or revoked.")
INVALID_SERVICE_KEY = register("INVALID_SERVICE_KEY", 401, "The service key is unknown, expired or revoked.")
INVALID_AUTHORIZATION = register("INVALID_AUTHORIZATION", 401, "The Authorization header is not `Bearer <token>`.")
FORBIDDEN = register("FORBIDDEN", 403, "The caller's role or key scopes do not allow this.")
APP_USER_REQUIRED = register("APP_USER_REQUIRED", 403, "Only app users have this; accounts and keys do not.")
TENANT_ACCESS_DENIED = register("TENANT_ACCESS_DENIED", 403, "The caller may not act in the tenant it named.")
TENANT_NOT_FOUND = register(
    "TENANT_NOT_FOUND", 404, "No such tenant (in `X-FB-Tenant` or a path), or one the caller may not see."
)

# Encrypted values.
KEY_MISMATCH = register("KEY_MISMATCH", 503, "A value was sealed with a master key this server lacks.")
SECRET_UNREADABLE = register(
    "SECRET_UNREADABLE", 500, "A stored secret does not open: changed or moved in the database."
)

# Accounts, sign-in and first-run setup (`flux.auth`).
INVALID_CREDENTIALS = register(
    "INVALID_CREDENTIALS", 401, "The e-mail or password is wrong (the same answer for an unknown e-mail)."
)
INVALID_REFRESH_TOKEN = register(
    "INVALID_REFRESH_TOKEN", 401, "The refresh token is unknown, spent, expired or revoked: sign in again."
)
WEAK_PASSWORD = register("WEAK_PASSWORD", 400, "The new password breaks the password policy; the message says how.")
INVALID_CURRENT_PASSWORD = register(
    "INVALID_CURRENT_PASSWORD", 400, "Changing the password needs the right `current_password`."
)
SIGNUP_DISABLED = register("SIGNUP_DISABLED", 403, "Sign-up is turned off on this server.")
INVALID_SETUP_TOKEN = register(
    "INVALID_SETUP_TOKEN", 403, "First-run setup needs the server's `FLUXBASE_SECURITY_SETUP_TOKEN` as `setup_token`."
)
SETUP_COMPLETE = register("SETUP_COMPLETE", 409, "First-run setup is done: an instance admin exists.")

# Service keys (`flux.auth.service_keys`).
SCOPE_NOT_HELD = register(
    "SCOPE_NOT_HELD", 403, "A service key may grant, and change keys with, only scopes it holds itself."
)
SERVICE_KEY_REVOKED = register("SERVICE_KEY_REVOKED", 409, "The key is revoked: it can only be read or deleted.")
SERVICE_KEY_RETIRED = register("SERVICE_KEY_RETIRED", 409, "The key's grace period is over: it cannot work again.")
SERVICE_KEY_ROTATED = register("SERVICE_KEY_ROTATED", 409, "The key was rotated already: rotate its replacement.")
SERVICE_KEY_EXPIRED = register("SERVICE_KEY_EXPIRED", 409, "An expired key cannot be rotated: create a new key.")


def markdown(owners: Iterable[str] | None = None) -> str:
    """`docs/errors.md`: the registered codes of `owners` (default all), grouped by owner."""
    lines = [
        "# Error codes",
        "",
        'Every error answer is `{"error": "<what happened and what to do>", "code": "<CODE>"}`,',
        'with `details` (a list of `{"loc", "msg", "type"}`) when a request failed its schema.',
        "Each operation in `GET /api/v1/openapi.json` lists the codes it can answer.",
        "This page is generated: `python -m flux.error_codes > docs/errors.md`.",
    ]
    owner = None
    for entry in table():
        if owners is not None and entry.owner not in owners:
            continue
        if entry.owner != owner:
            owner = entry.owner
            lines += ["", f"## {owner}", "", "| code | status | meaning |", "|---|---|---|"]
        lines.append(f"| `{entry.code}` | {entry.status} | {entry.meaning} |")
    return "\n".join(lines) + "\n"


def builtin_markdown() -> str:
    """The page for the core and the built-in plugins, whatever else this process imported."""
    import importlib

    from flux.plugins import DEFAULT_PLUGINS, ESSENTIAL_PLUGINS

    for module in (*ESSENTIAL_PLUGINS.values(), *DEFAULT_PLUGINS.values()):
        importlib.import_module(module)
    return markdown(owners={"core", *DEFAULT_PLUGINS})


if __name__ == "__main__":
    # Run as a script this file is a second module; the table plugins fill is flux.error_codes.
    from flux import error_codes

    print(error_codes.builtin_markdown(), end="")
