"""Small helpers for reading requests, shared by every blueprint."""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Flask

from flux.errors import BadRequest, FluxRequest

MAX_JSON_DEPTH = 100


def parse_json(data: str | bytes) -> Any:
    """JSON sent by a client; ValueError when it is not JSON, 400 when it cannot be stored.

    A body nested thousands deep raises RecursionError in the parser (and, less deep,
    wherever it is serialised again); a `\\ud800` escape decodes to a lone surrogate,
    which no database driver can encode. Both are refused here, once for every request
    body, instead of failing with a 500 in some view.
    """
    try:
        value = json.loads(data, parse_constant=_not_a_number, parse_float=_finite)
    except RecursionError:
        raise BadRequest(TOO_DEEP, code="INVALID_JSON") from None
    problem = unstorable(value)
    if problem:
        raise BadRequest(problem, code="INVALID_JSON")
    return value


TOO_DEEP = f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep"
NOT_FINITE = "numbers must be finite: JSON has no NaN or Infinity, and a number must fit a double"


def _not_a_number(name: str) -> float:
    """Python's parser reads `NaN` and `±Infinity`, which no JSON answer or PostgreSQL json column holds."""
    raise BadRequest(f"{NOT_FINITE} (got {name})", code="INVALID_JSON")


def _finite(text: str) -> float:
    number = float(text)  # 1e400 reads as inf
    if not math.isfinite(number):
        raise BadRequest(NOT_FINITE, code="INVALID_JSON")
    return number


def unstorable(value: Any) -> str | None:
    """Why a parsed JSON value cannot be stored (too deep, a lone surrogate), or None.

    A loop, not recursion: deep nesting is what it looks for.
    """
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and not _encodable(item):
                return "JSON strings must be valid Unicode: a lone surrogate (such as \\ud800) is not"
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return TOO_DEEP
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class _RequestJson:
    """What werkzeug calls to parse a request body (`Request.json_module`)."""

    loads = staticmethod(parse_json)


class CheckedJsonRequest(FluxRequest):
    """The app's request: its JSON body goes through `parse_json`."""

    @property
    def json_module(self) -> type[_RequestJson]:
        return _RequestJson

    @json_module.setter
    def json_module(self, _provider: Any) -> None:
        """Ignored: Flask's request context sets the app's JSON provider here for each request."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """The body as JSON whatever its Content-Type (`curl -d` sends a form type); `None` when empty.

        Malformed JSON is a 400 `INVALID_JSON` even for a caller asking to be silent
        (flask-openapi3 does, and would report it as a missing body).
        """
        if not self.get_data(cache=True):
            return None
        return super().get_json(force=True, silent=False, cache=cache)


def init_app(app: Flask) -> None:
    """Requests parse their JSON with `parse_json` (responses, and the app's own JSON, are untouched)."""
    app.request_class = CheckedJsonRequest
