"""CORS of the invoke routes: each function's own origins, methods and headers (`directives.py`).

The core answers CORS for the rest of the API from the tenant's allowed origins; invoke
routes are marked `own_cors`, and this module answers for them. A preflight is answered
here and never reaches the function (no execution is recorded): the seed's functions
need not handle `OPTIONS`. A real answer to an allowed origin names it (never `*`, so
credentials can be allowed), and `Vary: Origin` is on every answer to a request with an
`Origin`. The server owns `Access-Control-*` on these routes: a function's own such
headers are dropped, or a function could allow an origin its settings refuse.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, request

from flux.api import ApiError
from plugins.functions import directives, store

INVOKE_ENDPOINTS = frozenset({"functions.invoke_function", "functions.invoke_function_get"})
EXPOSED = ", ".join(
    (
        "X-Fluxbase-Execution-Id",
        "X-Request-Id",
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    )
)


def remember(row: Any) -> None:
    """The function this request invokes, whose settings its answer follows."""
    g.functions_invoked = row


def _settings() -> dict[str, Any]:
    """The invoked function's effective settings; the defaults for one not (yet) found."""
    row = g.get("functions_invoked")
    if row is not None:
        return directives.effective(row)
    return {name: value for name, (value, _source) in directives.resolved({}, {}).items()}


def _allowed(settings: dict[str, Any], origin: str) -> bool:
    return "*" in settings["cors_origins"] or origin in settings["cors_origins"]


def _find_for_preflight() -> None:
    """A preflight carries no credential: the function is looked up as for an anonymous caller."""
    reference = (request.view_args or {}).get("reference", "")
    namespace, _, name = reference.rpartition("/")
    try:
        remember(store.get_callable(name, namespace or request.args.get("namespace")))
    except ApiError:
        pass  # unknown: the defaults answer, and the real request gets its 404


def answer_preflight() -> Response | None:
    """`204` with the function's allowances for an allowed origin; without them for another."""
    origin = request.headers.get("Origin")
    if request.endpoint not in INVOKE_ENDPOINTS or request.method != "OPTIONS":
        return None
    if not origin or "Access-Control-Request-Method" not in request.headers:
        return None
    _find_for_preflight()
    settings = _settings()
    response = current_app.response_class(status=204)
    response.vary.add("Origin")
    if not _allowed(settings, origin):
        return response
    allowed_headers = settings["cors_headers"]
    if "*" in allowed_headers and settings["cors_credentials"]:
        # With credentials a browser reads `*` as a header named "*": name what it asked for.
        allowed_headers = [request.headers.get("Access-Control-Request-Headers", "")]
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Methods"] = ", ".join(settings["cors_methods"])
    response.headers["Access-Control-Allow-Headers"] = ", ".join(header for header in allowed_headers if header)
    response.headers["Access-Control-Max-Age"] = str(settings["cors_max_age"])
    if settings["cors_credentials"]:
        response.headers["Access-Control-Allow-Credentials"] = "true"
    return response


def allow_origin(response: Response) -> Response:
    """The invoked function's CORS on its answer, whatever the answer is (its own, an error, a 429)."""
    if request.endpoint not in INVOKE_ENDPOINTS or request.method == "OPTIONS":
        return response
    for name in {name for name in response.headers.keys() if name.lower().startswith("access-control-")}:
        del response.headers[name]
    origin = request.headers.get("Origin")
    if not origin:
        return response
    response.vary.add("Origin")
    settings = _settings()
    if _allowed(settings, origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
        if settings["cors_credentials"]:
            response.headers["Access-Control-Allow-Credentials"] = "true"
    return response
