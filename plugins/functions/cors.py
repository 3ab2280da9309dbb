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

from plugins.functions import directives, store

INVOKE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
INVOKE_ENDPOINTS = frozenset(
    {"functions.invoke_function", *(f"functions.invoke_function_{method.lower()}" for method in INVOKE_METHODS)}
)
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
    return directives.effective(row) if row is not None else directives.defaults()


def _allowed(settings: dict[str, Any], origin: str) -> bool:
    return "*" in settings["cors_origins"] or origin in settings["cors_origins"]


def _preflight_settings(origin: str) -> dict[str, Any] | None:
    """The settings that answer a preflight; None when functions of that name exist and none allows the origin.

    A preflight carries neither credentials nor `X-FB-Tenant`'s value, so its tenant
    cannot be known: as the core does for the rest of the API, it passes when a live
    tenant's function of that name allows the origin (that function's settings answer),
    and the real request is still checked against its own tenant's function. With no
    such function anywhere, the defaults answer (the real request gets its 404).
    """
    reference = (request.view_args or {}).get("reference", "")
    namespace, _, name = reference.rpartition("/")
    candidates = store.callable_in_every_tenant(name, namespace or request.args.get("namespace"))
    if not candidates:
        return directives.defaults()
    for row in candidates:
        settings = directives.effective(row)
        if _allowed(settings, origin):
            return settings
    return None


def answer_preflight() -> Response | None:
    """`204` with the function's allowances for an allowed origin; without them for another."""
    origin = request.headers.get("Origin")
    if request.endpoint not in INVOKE_ENDPOINTS or request.method != "OPTIONS":
        return None
    if not origin or "Access-Control-Request-Method" not in request.headers:
        return None
    settings = _preflight_settings(origin)
    response = current_app.response_class(status=204)
    response.vary.add("Origin")
    if settings is None or not _allowed(settings, origin):
        return response
    allowed_headers = settings["cors_headers"]
    if "*" in allowed_headers:
        # `*` never covers `Authorization`, and with credentials it is a header named "*": name what was asked.
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
    response.vary.add("Origin")  # also without one: a cache must not hand this answer to a browser's request
    origin = request.headers.get("Origin")
    if not origin:
        return response
    settings = _settings()
    if _allowed(settings, origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
        if settings["cors_credentials"]:
            response.headers["Access-Control-Allow-Credentials"] = "true"
    return response
