"""Typed API errors, and the one place where any failure becomes a JSON response.

Views raise `ApiError` subclasses; werkzeug's HTTP errors (unknown route, wrong
method, body too large) and unexpected exceptions are converted here too, so every
non-success answer under `/api/` is `{"error": "...", "code": "..."}`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Flask, Request, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from flux.crypto.ciphers import DecryptionError, KeyNotInRing

log = logging.getLogger("flux.errors")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class ApiError(Exception):
    """An error with a status, a machine code and a message a person can act on."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.headers = headers or {}
        self.extra = extra

    def as_json(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, **self.extra}


class BadRequest(ApiError):
    status, code = 400, "BAD_REQUEST"


class InvalidJson(ApiError):
    status, code = 400, "INVALID_JSON"


class Unauthorized(ApiError):
    status, code = 401, "UNAUTHORIZED"


class Forbidden(ApiError):
    status, code = 403, "FORBIDDEN"


class NotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class Conflict(ApiError):
    status, code = 409, "CONFLICT"


class PayloadTooLarge(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class TooManyRequests(ApiError):
    status, code = 429, "RATE_LIMITED"


class ServiceUnavailable(ApiError):
    status, code = 503, "SERVICE_UNAVAILABLE"


class KeyMismatch(ServiceUnavailable):
    """A stored value was sealed with a master key this server lacks: its configuration, not the caller, is wrong."""

    code = "KEY_MISMATCH"


class SecretUnreadable(ApiError):
    """A stored value does not open with the key it names: changed in the database, or moved between rows."""

    status, code = 500, "SECRET_UNREADABLE"


def unreadable_secret(error: DecryptionError) -> ApiError:
    """The error for a stored secret that does not open here, raised instead of treating it as absent.

    The caller gets no key id or name; the plugin logs which row it was.
    """
    if isinstance(error, KeyNotInRing):
        return KeyMismatch(
            "A stored secret was sealed with an encryption key this server does not hold; "
            "its keys differ from the other servers' (GET /health reports it)"
        )
    return SecretUnreadable("A stored secret cannot be decrypted; the server log names it")


# A busy database frees up in moments; an outage takes longer.
BUSY_RETRY_AFTER_S, OUTAGE_RETRY_AFTER_S = 1, 5
# At most one log line per kind of database fault in this interval, per process.
FAULT_LOG_INTERVAL_S = 60.0
# PostgreSQL's lock_not_available, serialization_failure, deadlock_detected, query_canceled
# (a statement or lock timeout): the database is up but could not take this request now.
_PG_BUSY_STATES = frozenset({"55P03", "40001", "40P01", "57014"})
_SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")
# The file cannot be opened, read or written: the database is unavailable, not the request wrong.
_SQLITE_UNAVAILABLE = (
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_READONLY",
    "SQLITE_NOTADB",
    "SQLITE_CORRUPT",
    "SQLITE_FULL",
)


# Codes for werkzeug's own errors, which carry only a status.
_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    411: "LENGTH_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
}

_HTTP_MESSAGES = {
    404: "No such endpoint; see the API reference for the paths under /api/v1",
    405: "Method not allowed on this endpoint",
    413: "Request body too large",
}


class FluxRequest(Request):
    """A request whose malformed JSON raises our typed error instead of an HTML 400."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        raise InvalidJson("Request body is not valid JSON")


def request_id() -> str:
    """This request's id: the caller's `X-Request-ID` when well-formed, else a new one."""
    rid = g.get("request_id")
    if rid is None:
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        rid = g.request_id = supplied if _REQUEST_ID_PATTERN.match(supplied) else uuid.uuid4().hex
    return rid


def _respond(body: dict[str, Any], status: int, headers: dict[str, str] | None = None):
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _handle_api_error(error: ApiError):
    return _respond(error.as_json(), error.status, error.headers)


def _handle_http_exception(error: HTTPException):
    status = error.code or 500
    if status < 400:
        return error
    message = _HTTP_MESSAGES.get(status) or error.description or error.name
    headers = {}
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(sorted(error.valid_methods))  # type: ignore[attr-defined]
    return _respond({"error": message, "code": _HTTP_CODES.get(status, "HTTP_ERROR")}, status, headers)


def log_unexpected() -> str:
    """Log the exception being handled, with its stack and this request's id; the id, for the caller to quote."""
    rid = request_id()
    log.exception("unhandled error in %s %s [request_id=%s]", request.method, request.path, rid)
    return rid


class FaultLog:
    """Logs a database fault once per `FAULT_LOG_INTERVAL_S` and kind, with how many were not logged.

    During an outage every request fails the same way; a traceback each (hundreds a
    minute) would bury the one line that says what happened.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def record(self, code: str, error: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(code, -FAULT_LOG_INTERVAL_S) < FAULT_LOG_INTERVAL_S:
                self._suppressed[code] = self._suppressed.get(code, 0) + 1
                return
            self._last[code], suppressed = now, self._suppressed.pop(code, 0)
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:300]
        log.error(
            "%s: %s (%d more since the last report; next report in %.0f s at the earliest)",
            code,
            reason,
            suppressed,
            FAULT_LOG_INTERVAL_S,
        )


def _classify_database_error(error: Exception) -> str | None:
    """DATABASE_BUSY, DATABASE_UNAVAILABLE, or None for a fault of the request or the code."""
    if isinstance(error, sa.exc.TimeoutError):  # no pooled connection free in time
        return "DATABASE_BUSY"
    if not isinstance(error, sa.exc.DBAPIError):
        return None
    orig = error.orig
    sqlite_name = getattr(orig, "sqlite_errorname", None)
    if sqlite_name is not None:
        if sqlite_name.startswith(_SQLITE_BUSY):
            return "DATABASE_BUSY"
        return "DATABASE_UNAVAILABLE" if sqlite_name.startswith(_SQLITE_UNAVAILABLE) else None
    if getattr(orig, "sqlstate", None) in _PG_BUSY_STATES:
        return "DATABASE_BUSY"
    if error.connection_invalidated or isinstance(error, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return "DATABASE_UNAVAILABLE"  # psycopg: refused or lost connections, shutdowns, no slots
    return None


def database_fault(error: Exception) -> ServiceUnavailable | None:
    """The 503 for a busy or unreachable database (logged, throttled), or None for any other error."""
    code = _classify_database_error(error)
    if code is None:
        return None
    current_app.extensions["flux_fault_log"].record(code, error)
    if code == "DATABASE_BUSY":
        message, retry_after = "The database is busy; try again in a moment", BUSY_RETRY_AFTER_S
    else:
        message, retry_after = "The database is unavailable; try again shortly", OUTAGE_RETRY_AFTER_S
    return ServiceUnavailable(message, code=code, headers={"Retry-After": str(retry_after)})


def _handle_unexpected(error: Exception):
    fault = database_fault(error)
    if fault is not None:
        return _handle_api_error(fault)
    rid = log_unexpected()
    return _respond({"error": "Internal server error", "code": "INTERNAL_ERROR", "request_id": rid}, 500)


def refuse_nul_characters() -> None:
    """400 for a request whose path, query or body carries U+0000.

    PostgreSQL text cannot hold it, so it would otherwise fail deep inside a query.
    A request without a body (no length, not chunked) skips reading and parsing one,
    which was most of this check's cost on a GET.
    """
    has_body = request.content_length or request.environ.get("wsgi.input_terminated")
    body = request.get_data(cache=True) if has_body else b""
    url_encoded = has_body and request.mimetype == "application/x-www-form-urlencoded"
    if (
        "\x00" in request.path
        or b"%00" in request.query_string
        or b"\x00" in body
        or b"\\u0000" in body
        or (url_encoded and b"%00" in body)
    ):
        raise BadRequest("NUL characters (U+0000) are not allowed in requests", code="NUL_CHARACTER")


def init_app(app: Flask) -> None:
    app.request_class = FluxRequest
    app.extensions["flux_fault_log"] = FaultLog()
    app.before_request(refuse_nul_characters)
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)

    @app.after_request
    def add_request_id(response):
        response.headers[REQUEST_ID_HEADER] = request_id()
        return response
