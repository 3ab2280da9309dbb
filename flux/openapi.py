"""The live OpenAPI document, its docs page, and the blueprint every JSON API is built on.

flask-openapi3 reads each view's pydantic arguments (`path`, `query`, `body`) and
`responses`; `ApiBlueprint` adds what it cannot know: who may call a view (from
`flux.auth.permissions.require` or `flux.context.public`) and which error codes it
answers (from `raises`, plus those every view of its kind can answer), so the
document lists exactly the codes of `flux.error_codes` an operation can give.
Benchmarks of the choice of library: `bench/README.md`, "Choosing a schema library".
"""

from __future__ import annotations

import re
import typing
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import flask_openapi3_swagger
from flask import Blueprint, current_app, jsonify, render_template, request
from flask_openapi3 import APIBlueprint, OpenAPI
from flask_openapi3.models import Info
from flask_openapi3.utils import parse_parameters
from pydantic import ValidationError
from werkzeug.routing import Rule

from flux import error_codes
from flux.auth.permissions import enforce_access
from flux.context import public
from flux.errors import BadRequest
from flux.schemas import as_api_error
from flux.version import __version__

# A service key also goes in `X-Service-Key`; one scheme is enough to describe both.
SECURITY_SCHEMES = {"bearer": {"type": "http", "scheme": "bearer", "description": "An access token, or a service key"}}
SECURITY = [{"bearer": []}]

# Codes by the kind of view that can answer them (beyond those it declares with `raises`).
EVERY_VIEW = (error_codes.NUL_CHARACTER, error_codes.DATABASE_BUSY, error_codes.DATABASE_UNAVAILABLE)
WITH_CREDENTIALS = (
    error_codes.AUTH_REQUIRED,
    error_codes.INVALID_TOKEN,
    error_codes.INVALID_SERVICE_KEY,
    error_codes.INVALID_AUTHORIZATION,
    error_codes.FORBIDDEN,
    error_codes.TENANT_ACCESS_DENIED,
    error_codes.TENANT_NOT_FOUND,
)
WITH_INPUT = (error_codes.INVALID_FIELD, error_codes.FIELD_REQUIRED)
WITH_BODY = (error_codes.INVALID_JSON, error_codes.INVALID_BODY, error_codes.PAYLOAD_TOO_LARGE)


def raises(*codes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the error codes a view answers besides the automatic ones. Put it below the route."""
    for code in codes:
        error_codes.lookup(code)

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.flux_error_codes = (*getattr(view, "flux_error_codes", ()), *codes)  # type: ignore[attr-defined]
        return view

    return mark


def error_schema(codes: Iterable[str]) -> dict[str, Any]:
    """The body of an error answer whose `code` is one of `codes`."""
    return {
        "type": "object",
        "required": ["error", "code"],
        "properties": {
            "error": {"type": "string"},
            "code": {"type": "string", "enum": sorted(set(codes))},
            "details": {"type": "array", "items": {"type": "object"}},
            "request_id": {"type": "string"},
        },
    }


def error_responses(codes: Iterable[str]) -> dict[int, dict[str, Any]]:
    """OpenAPI responses for `codes`, one per status, each listing its codes."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in codes:
        by_status[error_codes.lookup(code).status].append(code)
    return {
        status: {
            "description": "Error: " + ", ".join(sorted(set(found))),
            "content": {"application/json": {"schema": error_schema(found)}},
        }
        for status, found in by_status.items()
    }


def operation_id(bp_name: str, name: str, path: str, method: str) -> str:
    """`blueprint.view`: the endpoint name a reader can grep for."""
    return f"{bp_name}.{name}"


class ApiBlueprint(APIBlueprint):
    """A blueprint of JSON views, each in the OpenAPI document with its callers and error codes.

    Every view must say who may call it (`require(...)` or `public`): a view that does
    not stops start-up, so no route is open by omission.
    """

    def __init__(self, name: str, import_name: str, **options: Any) -> None:
        super().__init__(name, import_name, operation_id_callback=operation_id, **options)

    def _collect_openapi_info(self, rule: str, func: Callable[..., Any], *, responses=None, **kwargs: Any):
        access = getattr(func, "flux_access", None)
        if access is None and not getattr(func, "flux_public", False):
            raise TypeError(
                f"{self.name}.{func.__name__} ({rule}) does not say who may call it: "
                "decorate it with flux.api.require(...) or flux.api.public, below the route"
            )
        header, _cookie, path, query, form, body, _raw = parse_parameters(func, doc_ui=False)
        codes = [*EVERY_VIEW, *getattr(func, "flux_error_codes", ())]
        for model in (header, path, query, body, form):
            codes += getattr(model, "error_codes", ())
        if access is not None:
            codes += (*WITH_CREDENTIALS, *access.error_codes)
            kwargs["security"] = SECURITY
        if path:
            codes.append(error_codes.NOT_FOUND)  # a value that leads the path to no route
        if path or query or header:
            codes += WITH_INPUT
        if body or form:
            codes += (*WITH_INPUT, *WITH_BODY)
        errors = {str(status): answer for status, answer in error_responses(codes).items()}
        return super()._collect_openapi_info(rule, func, responses={**errors, **(responses or {})}, **kwargs)


def validation_error_response(error: ValidationError):
    """A request that failed its schema, answered as the house error (`flux.schemas.as_api_error`)."""
    return current_app.handle_user_exception(as_api_error(error))


SWAGGER_ASSETS = Path(flask_openapi3_swagger.__file__).parent / "templates" / "swagger"
docs = Blueprint(
    "api_docs", __name__, url_prefix="/api/v1", static_folder=SWAGGER_ASSETS, static_url_path="/docs/assets"
)


@docs.get("/openapi.json")
@public
def openapi_document():
    return jsonify(current_app.api_doc)


@docs.get("/docs")
@public
def docs_page():
    """Swagger UI, its scripts and styles served from the `flask-openapi3-swagger` package (no CDN)."""
    return render_template("api_docs.html")


PATH_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _bare_operation(rule: Rule, path: str, method: str) -> dict[str, Any]:
    parameters = [
        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
        for name in PATH_PARAMETER.findall(rule.rule)
    ]
    return {
        "operationId": f"{rule.endpoint} {method} {path}",
        "summary": "A plugin route without schemas (a plain Flask blueprint)",
        "parameters": parameters,
        "responses": {"default": {"description": "Not described by its plugin"}},
    }


class FluxApp(OpenAPI):
    """A Flask app that builds the OpenAPI document from its `ApiBlueprint`s and guards every view.

    Access is checked here, after the `before_request` functions (the dashboard's
    sign-in redirect among them) and before the view, whose first step validates input.
    """

    def dispatch_request(self) -> Any:
        enforce_access()
        refuse_repeated_query()
        return super().dispatch_request()

    def generate_spec_json(self) -> None:
        """The document of the `ApiBlueprint`s, plus a bare entry for every other `/api/` route.

        A plugin built on plain Flask blueprints still shows its routes (without
        schemas), so the document covers every route of every loaded plugin.
        """
        super().generate_spec_json()
        paths = self.spec_json["paths"]
        for rule in self.url_map.iter_rules():
            if not rule.rule.startswith("/api/") or rule.endpoint.startswith(f"{docs.name}."):
                continue
            path = PATH_PARAMETER.sub(r"{\1}", rule.rule)
            item = paths.setdefault(path, {})
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                item.setdefault(method.lower(), _bare_operation(rule, path, method))


def refuse_repeated_query() -> None:
    """400 for a parameter of the view's query model given more than once.

    flask-openapi3 takes the first value, so `?hard=true&hard=false` deleted a tenant for
    good; which one the caller meant is a guess. No query model here has a list field,
    and parameters the view does not read (a function's own query string) pass.
    """
    repeated = [key for key, values in request.args.lists() if len(values) > 1]
    if not repeated:
        return
    view = getattr(current_app.view_functions.get(request.endpoint or ""), "__wrapped__", None)
    query = typing.get_type_hints(view).get("query") if view is not None else None
    for key in repeated:
        if key in getattr(query, "model_fields", {}):
            raise BadRequest(f"{key}: given more than once; give it once", code=error_codes.INVALID_FIELD)


def create(import_name: str, **flask_options: Any) -> FluxApp:
    """The app, with the house error answer for requests that fail their schema."""
    return FluxApp(
        import_name,
        info=Info(title="Fluxbase", version=__version__),
        security_schemes=SECURITY_SCHEMES,
        doc_ui=False,
        validation_error_status=400,
        validation_error_callback=validation_error_response,
        **flask_options,
    )


def register(app: OpenAPI, blueprint: Blueprint) -> None:
    """Register a plugin's blueprint; an `APIBlueprint`'s routes also enter the document.

    Models enter the document by class name: two different models of one name (two
    plugins' `NoteOut`) would silently share one schema, so that stops start-up.
    """
    if isinstance(blueprint, APIBlueprint):
        for name, schema in blueprint.components_schemas.items():
            known = app.components_schemas.get(name)
            if known is not None and known != schema:
                raise TypeError(
                    f"blueprint {blueprint.name} documents a model named {name} that differs from one "
                    "another blueprint documents: rename one of the two model classes"
                )
        app.register_api(blueprint)
    else:
        app.register_blueprint(blueprint)
