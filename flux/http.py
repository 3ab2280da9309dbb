"""Small helpers for reading requests, shared by every blueprint."""

from __future__ import annotations

from typing import Any

from flask import request

from flux.errors import BadRequest

MAX_VERSION = 2**31 - 1  # the INTEGER column's range on PostgreSQL


def json_body(required: bool = True) -> dict[str, Any]:
    """The request's JSON object; 400 when it is not an object, or missing and `required`."""
    if not request.get_data():
        if not required:
            return {}
        raise BadRequest("Request body must be a JSON object", code="INVALID_BODY")
    body = request.get_json(force=True)
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object", code="INVALID_BODY")
    return body


def optional_text(body: dict[str, Any], name: str, max_length: int) -> str | None:
    """A string field that may be absent; 400 when present but not a string or too long."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", code="INVALID_FIELD")
    if len(value) > max_length:
        raise BadRequest(f"{name} must be at most {max_length} characters", code="INVALID_FIELD")
    return value


def optional_object(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise BadRequest(f"{name} must be a JSON object", code="INVALID_FIELD")
    return value


def version_number(value: object) -> int:
    """A version from a URL or body: a whole number from 1; 400 otherwise."""
    if isinstance(value, bool):
        value = None
    try:
        number = int(value) if isinstance(value, int | str) else 0
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_VERSION or (isinstance(value, str) and not value.isdigit()):
        raise BadRequest("version must be a whole number from 1", code="INVALID_VERSION")
    return number
