"""OpenFeature Remote Evaluation Protocol (OFREP) v1: `/ofrep/v1/evaluate/flags[/{key}]`.

Any OpenFeature SDK with an OFREP provider evaluates the tenant's flags here, declared
and custom alike. Credentials and tenant are as for every API call (a bearer token or a
service key with `flags:read`). Answers and errors take the protocol's shapes
(`{"key", "value", "reason", "variant", "metadata"}`, `{"key", "errorCode", "errorDetails"}`),
not the house error body, because the providers read those fields.

An app user's own id is the `targetingKey` when the context gives none, so a signed-in
user's rollouts are sticky without the client repeating who it is.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response, jsonify, request
from pydantic import JsonValue

from flux.api import (
    SIGNED_IN,
    ApiBlueprint,
    ApiError,
    ApiModel,
    BadRequest,
    Tag,
    current_actor,
    current_tenant_id,
    require,
)
from plugins.flags import evaluator
from plugins.flags.evaluation import Evaluation

MAX_CONTEXT_BYTES = 64 * 1024
READ = "flags:read"

ofrep = ApiBlueprint("ofrep", __name__, url_prefix="/ofrep/v1", abp_tags=[Tag(name="OpenFeature remote evaluation")])


class OfrepPath(ApiModel):
    """Any key: one that names no flag is OFREP's FLAG_NOT_FOUND, never a house 400."""

    key: str


class Evaluated(ApiModel):
    key: str
    value: JsonValue
    reason: str
    variant: str
    metadata: dict[str, JsonValue]


class EvaluationFailed(ApiModel):
    key: str | None = None
    errorCode: str
    errorDetails: str


class BulkEvaluated(ApiModel):
    flags: list[Evaluated | EvaluationFailed]


def _protocol_or_house(description: str) -> dict[str, Any]:
    """An error answer in OFREP's shape, or the house's where the request fails before the view (a tenant)."""
    house = {"type": "object", "required": ["error", "code"], "properties": {"error": {}, "code": {"type": "string"}}}
    either = {"anyOf": [EvaluationFailed.model_json_schema(), house]}
    return {"description": description, "content": {"application/json": {"schema": either}}}


INVALID = {
    "description": "INVALID_CONTEXT, PARSE_ERROR or TARGETING_KEY_MISSING",
    "content": {"application/json": {"schema": EvaluationFailed.model_json_schema()}},
}
MISSING = _protocol_or_house("FLAG_NOT_FOUND (OFREP), or the house's TENANT_NOT_FOUND")


# Documented here, not validated by the schema library: a bad context is OFREP's INVALID_CONTEXT, not a house 400.
CONTEXT_SCHEMA = {"type": "object", "description": "the evaluation context; `targetingKey` a string"}
REQUEST_BODY = {
    "requestBody": {
        "content": {"application/json": {"schema": {"type": "object", "properties": {"context": CONTEXT_SCHEMA}}}},
        "required": False,
    }
}


class InvalidContext(Exception):
    """The request's context is not what OFREP allows; `code` is the protocol's error code."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


def _context() -> dict[str, Any]:
    """The request's evaluation context, with the app user as `targetingKey` when none is given."""
    try:
        body = request.get_json()
    except ApiError as error:  # malformed JSON: the house parser's message
        raise InvalidContext("PARSE_ERROR", error.message) from None
    body = {} if body is None else body
    if not isinstance(body, dict) or not isinstance(body.get("context", {}), dict):
        raise InvalidContext("INVALID_CONTEXT", 'the body must be {"context": {…}} with an object as context')
    context = dict(body.get("context") or {})
    if len(json.dumps(context)) > MAX_CONTEXT_BYTES:
        raise InvalidContext("INVALID_CONTEXT", f"the context may hold at most {MAX_CONTEXT_BYTES} bytes of JSON")
    if "targetingKey" in context and not isinstance(context["targetingKey"], str):
        raise InvalidContext("INVALID_CONTEXT", "targetingKey must be a string")
    actor = current_actor()
    if "targetingKey" not in context and actor.kind == "user":
        context["targetingKey"] = actor.id
    return context


def _failed(key: str | None, code: str, details: str, status: int) -> tuple[Response, int]:
    failed = {"key": key} if key else {}
    return jsonify({**failed, "errorCode": code, "errorDetails": details}), status


@ofrep.errorhandler(BadRequest)
def _refused_before_the_view(error: BadRequest) -> tuple[Response, int]:
    """A 400 of the house's own checks (a NUL character in the context) in the protocol's shape."""
    return _failed((request.view_args or {}).get("key"), "INVALID_CONTEXT", error.message, 400)


NO_TARGETING_KEY = "the flag splits by targetingKey, and the context has none"


def _answer(key: str, evaluation: Evaluation, kind: str) -> dict[str, Any]:
    """`Evaluated` or `EvaluationFailed` as a dict: a bulk answer builds a hundred, and models cost more."""
    if evaluation.error_code is not None:
        return {"key": key, "errorCode": evaluation.error_code, "errorDetails": NO_TARGETING_KEY}
    value, variant, reason, _ = evaluation
    return {"key": key, "value": value, "reason": reason, "variant": variant, "metadata": {"kind": kind}}


@ofrep.post(
    "/evaluate/flags/<key>",
    responses={200: Evaluated, 400: INVALID, 404: MISSING},
    openapi_extensions=REQUEST_BODY,
)
@require(SIGNED_IN, scope=READ)
def evaluate_flag(path: OfrepPath):
    """One flag for a context: 404 `FLAG_NOT_FOUND`, 400 `INVALID_CONTEXT` or `TARGETING_KEY_MISSING`."""
    try:
        context = _context()
    except InvalidContext as problem:
        return _failed(path.key, problem.code, problem.details, 400)
    flags = evaluator.flag_set(current_tenant_id())
    flag = flags.flags.get(path.key)
    if flag is None:
        return _failed(path.key, "FLAG_NOT_FOUND", f"no flag {path.key!r} in this tenant", 404)
    answer = _answer(path.key, flag.evaluate(context), flags.kinds[path.key])
    return jsonify(answer), 400 if "errorCode" in answer else 200


@ofrep.post("/evaluate/flags", responses={200: BulkEvaluated, 400: INVALID}, openapi_extensions=REQUEST_BODY)
@require(SIGNED_IN, scope=READ)
def evaluate_flags():
    """Every flag for one context, with an `ETag`; a matching `If-None-Match` is a 304."""
    try:
        context = _context()
    except InvalidContext as problem:
        return _failed(None, problem.code, problem.details, 400)
    flags = evaluator.flag_set(current_tenant_id())
    canonical = json.dumps(context, sort_keys=True, separators=(",", ":"))
    etag = hashlib.sha256(f"{flags.tag}:{canonical}".encode()).hexdigest()[:32]
    if not request.if_none_match.star_tag and request.if_none_match.contains_weak(etag):  # `*` names no evaluation
        response = Response(status=304)
        response.set_etag(etag)
        return response
    answers = [_answer(key, flag.evaluate(context), flags.kinds[key]) for key, flag in flags.flags.items()]
    response = jsonify({"flags": answers})
    response.set_etag(etag)
    return response
