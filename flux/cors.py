"""CORS for the JSON API, per tenant: the tenant setting `security.allowed_origins` decides.

A response to a request with an `Origin` carries `Access-Control-Allow-Origin` (that
origin, never `*`) only when the request's tenant allows it; `*` in the list allows
any origin. No `Access-Control-Allow-Credentials` is ever sent: the API takes bearer
tokens and keys, not cookies, so a browser's ambient credentials never reach it
cross-origin.

A preflight (`OPTIONS` with `Access-Control-Request-Method`) carries no credentials and
no `X-FB-Tenant` value, so its tenant cannot be known: it passes when some live tenant
allows the origin, and the real request's answer is still checked against its own
tenant. Which origins some tenant allows is read for every live tenant at most once per
`TENANT_CACHE_SECONDS` per process (`AllowedOrigins`); this process's own settings
changes are seen at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from flask import Flask, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from flux import tenant_settings
from flux.errors import ApiError
from flux.tenancy import current_tenant_id, default_tenant_id, live_tenants

log = logging.getLogger("flux.cors")
SETTING = "security.allowed_origins"
API_PREFIXES = ("/api/", "/ofrep/")  # the JSON API and OpenFeature remote evaluation
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match, X-FB-Tenant, X-Service-Key, X-Request-Id"
EXPOSED_HEADERS = "ETag, Retry-After, X-Request-Id, X-Total-Count"
PREFLIGHT_MAX_AGE = "600"


def own_cors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view that answers CORS itself (its preflights and its headers): the tenant's origins do not apply.

    Invoke routes are such views: each function has its own allowed origins. Put it below the route decorator.
    """
    view.flux_own_cors = True  # type: ignore[attr-defined]
    return view


def _own_cors_view() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "flux_own_cors", False)


def allows(origins: Collection[str], origin: str) -> bool:
    return "*" in origins or origin in origins


class AllowedOrigins:
    """Every origin some live tenant allows: one copy per process, at most `ttl` seconds old."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._copy: tuple[float, int, frozenset[str]] | None = None

    def anywhere(self) -> frozenset[str]:
        changes = tenant_settings.catalog().changes  # settings changes made by this process
        copy = self._copy
        if copy is not None and copy[1] == changes and time.monotonic() - copy[0] <= self.ttl:
            return copy[2]
        read_at = time.monotonic()
        tenant_ids = {info.id for info in live_tenants().values()}
        origins = frozenset(origin for tenant_id in tenant_ids for origin in tenant_settings.value(SETTING, tenant_id))
        self._copy = (read_at, changes, origins)
        return origins


def _origins() -> AllowedOrigins:
    return current_app.extensions["flux"].origins


def _allowed_for_request() -> list[str]:
    """The request's tenant's origins; a request refused before its tenant is known (a bad token) gets the
    default tenant's, and one whose database is failing gets none (its own error answer stands)."""
    try:
        try:
            tenant_id = current_tenant_id()
        except ApiError:
            tenant_id = default_tenant_id()
        return tenant_settings.value(SETTING, tenant_id)
    except SQLAlchemyError:
        log.warning("no CORS headers for %s %s: the database failed", request.method, request.path)
        return []


def answer_preflight() -> Response | None:
    """A `204` for a CORS preflight to the API, with the allowances only for an origin some tenant allows."""
    origin = request.headers.get("Origin")
    if request.method != "OPTIONS" or not origin or "Access-Control-Request-Method" not in request.headers:
        return None
    if not request.path.startswith(API_PREFIXES) or _own_cors_view():
        return None
    response = current_app.response_class(status=204)
    response.vary.add("Origin")
    if allows(_origins().anywhere(), origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return response


def allow_origin(response: Response) -> Response:
    """Name the request's origin in the answer when the request's tenant allows it."""
    origin = request.headers.get("Origin")
    if not origin or not request.path.startswith(API_PREFIXES) or "Access-Control-Allow-Origin" in response.headers:
        return response
    if _own_cors_view():
        return response
    response.vary.add("Origin")
    if allows(_allowed_for_request(), origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response


def init_app(app: Flask) -> None:
    app.before_request(answer_preflight)
    app.after_request(allow_origin)
