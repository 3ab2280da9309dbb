"""One invocation: who may call, what the function sees, how its answer reaches the caller.

The function's request object is seed 003's; its `Deno.env` holds the server's
allowed `FLUXBASE_*` variables, its own `env` and the `FLUXBASE_SECRET_*` of its
tenant and namespace; its `secrets` object reads the caller's user secrets, the
tenant's system secrets and the function secrets; its `flags` object reads feature
flags evaluated for the caller. A secret or variable is fetched when the function
first reads it, that name only; flags when it first touches one. The database
transaction ends before the code runs, so a slow function holds no lock; the execution
is recorded after.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, request

from flux.api import (
    ApiError,
    Forbidden,
    Unauthorized,
    collect_named,
    current_actor,
    current_tenant_id,
    db,
    error_codes,
    has_scope,
    pick,
    utcnow,
)
from plugins.functions import function_env, rate_limits, store
from plugins.functions.invocation_flags import TooManyFlags, invocation_flags
from plugins.functions.models import EdgeFunction
from plugins.functions.runtime.base import ERROR, FunctionRuntime, Invocation, Outcome
from plugins.functions.schemas import BUNDLE_FAILED, FUNCTION_DISABLED
from plugins.functions.secret_layers import invocation_env, invocation_secret
from plugins.functions.server_variables import SECRET_PREFIX, server_variables

# Credentials of the caller are not the function's to reuse; identity comes as user_* fields.
WITHHELD_HEADERS = {"authorization", "cookie", "x-service-key"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te", "trailer"}
# A function answers on the server's origin: it may not set or clear the dashboard's cookies.
DROPPED = HOP_BY_HOP | {"set-cookie", "set-cookie2", "clear-site-data", "x-content-type-options"}
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
HEADER_VALUE = re.compile(r"[ \t\x21-\x7e\x80-\xff]*")  # RFC 9110 field-vchar, SP, HTAB: what gunicorn sends
MASK = "***"
MIN_MASKED_LENGTH = 4  # shorter values would blot out ordinary text
_runtime_lock = threading.Lock()


def runtime(app: Flask) -> FunctionRuntime:
    """This process's runtime, started on first use (after gunicorn forks its workers)."""
    state = app.extensions["functions"]
    if state.get("runtime") is None:
        with _runtime_lock:
            if state.get("runtime") is None:
                state["runtime"] = state["runtime_class"](app)
    return state["runtime"]


def runtime_class(app: Flask) -> type:
    """The runtime `FLUXBASE_FUNCTIONS_RUNTIME` names, among those plugins register."""
    registered = collect_named("function runtime", app.extensions["flux"].plugins.hook.register_function_runtimes())
    return pick("function runtime", registered, app.config["FUNCTIONS_RUNTIME"], "FLUXBASE_FUNCTIONS_RUNTIME")


def check_caller(row: EdgeFunction | sa.Row) -> None:
    """401 without a credential (unless the function allows it), 403 for a disabled function or a key without scope."""
    actor = current_actor()
    if not actor.is_authenticated and not row.allow_unauthenticated:
        raise Unauthorized("Authentication required to invoke this function", code=error_codes.AUTH_REQUIRED)
    if actor.kind == "service_key":
        if not has_scope(list(actor.scopes), "functions:execute"):
            raise Forbidden(
                "Insufficient permissions: this needs scope 'functions:execute'", code=error_codes.FORBIDDEN
            )
    if not row.enabled:
        raise Forbidden(f"function {row.name!r} is disabled", code=FUNCTION_DISABLED)


def request_object() -> dict[str, Any]:
    """Seed 003's request: method, url, headers, body, params, and the caller's identity from a JWT."""
    actor = current_actor()
    headers = {name.lower(): value for name, value in request.headers.items() if name.lower() not in WITHHELD_HEADERS}
    body: dict[str, Any] = {
        "method": request.method,
        "url": request.url,
        "headers": headers,
        "body": request.get_data(as_text=True),
        "params": request.args.to_dict(),
    }
    if actor.kind in ("user", "platform") and actor.id:
        body.update(user_id=actor.id, user_email=actor.email, user_role=actor.role, session_id=actor.session_id)
    return body


class Disclosed:
    """What the invocation has read of its environment and secrets, asked for one name at a time, each once.

    Most calls read nothing and skip the secrets plugins' reads and decryption; a call
    that reads a few names pays for those, however many secrets its tenant keeps. Only
    what was disclosed can appear in the function's output, so exactly that is masked.
    """

    def __init__(self, row: EdgeFunction | sa.Row, env_allowed: bool) -> None:
        actor = current_actor()
        self.row, self.env_allowed = row, env_allowed
        self.tenant_id, self.user_id = current_tenant_id(), actor.id if actor.kind == "user" else None
        self.secrets: dict[str, dict[str, str]] = {}
        self.variables: dict[str, str | None] = {}
        self.disclosed: set[str] = set()  # every value handed over that is not a public server setting
        self._own_env: dict[str, str] | None = None

    def secret(self, name: str) -> dict[str, str]:
        """`name` in the user, system and function layers (absent ones left out)."""
        if name not in self.secrets:
            found = invocation_secret(self.tenant_id, self.row.namespace, self.user_id, name)
            self.secrets[name] = found
            self.disclosed.update(found.values())
        return self.secrets[name]

    def env(self, name: str) -> str | None:
        """`Deno.env.get(name)`: a `FLUXBASE_SECRET_*` secret, else the function's own env, else an allowed variable."""
        if not self.env_allowed:
            return None
        if name not in self.variables:
            value = None
            if name.startswith(SECRET_PREFIX):
                value = invocation_secret(self.tenant_id, self.row.namespace, None, name, ("env",)).get("env")
            if value is None and name in (self.row.env or ()):
                value = self.own_env().get(name)
            if value is not None:
                self.disclosed.add(value)
            elif name in self.allowed():
                value = os.environ.get(name)
            self.variables[name] = value
        return self.variables[name]

    def env_all(self) -> dict[str, str]:
        """`Deno.env.toObject()`: every variable the function may see, gathered (the whole `env` layer read)."""
        if not self.env_allowed:
            return {}
        secret = {**self.own_env(), **invocation_env(self.tenant_id, self.row.namespace)}
        self.disclosed.update(secret.values())
        return {**server_variables(self.allowed()), **secret}

    def own_env(self) -> dict[str, str]:
        """The function's own env, one ciphertext, opened at most once per call."""
        if self._own_env is None:
            row = self.row
            self._own_env = function_env.open_values(row.tenant_id, row.id, row.name, row.env, row.encrypted_env)
        return self._own_env

    @staticmethod
    def allowed() -> frozenset[str]:
        return current_app.extensions["functions"]["allowed_env"]


class Flags:
    """The invocation's feature flags, evaluated for its caller when the function first touches `flags`.

    Most calls read no flag, and skip the flags plugins' evaluation. Flags over the size
    bound reach the function as none; `problems` holds the log line that says why.
    """

    def __init__(self, row: EdgeFunction | sa.Row) -> None:
        self.row, self.tenant_id = row, current_tenant_id()
        self.problems: list[dict[str, str]] = []

    def __call__(self) -> dict[str, Any]:
        try:
            return invocation_flags(self.tenant_id, self.context())
        except TooManyFlags as error:
            self.problems.append(
                {
                    "timestamp": utcnow().isoformat(timespec="milliseconds"),
                    "level": "error",
                    "message": f"{error}: the function got no flags",
                }
            )
            return {}

    def context(self) -> dict[str, Any]:
        """The OpenFeature-style evaluation context of this call; what the caller lacks is absent."""
        actor, row = current_actor(), self.row
        context = {"role": actor.role, "tenant_id": self.tenant_id, "function": row.name, "namespace": row.namespace}
        if actor.kind == "user" and actor.id:
            context["targetingKey"] = actor.id
        if actor.kind in ("user", "platform") and actor.id:  # as the request object's user_* fields
            context.update(user_id=actor.id, email=actor.email)
        return {key: value for key, value in context.items() if value is not None}


def invoke(
    row: EdgeFunction | sa.Row, trigger: str = "http", given: dict[str, Any] | None = None, shown: bool = False
) -> Response:
    """Run the function's current version for this request and record the execution.

    `given` replaces parts of the function's `req` (the dashboard's test call gives the
    method, headers and body it typed; the caller's identity still comes from the request).
    `shown`: the answer goes onto a dashboard page, which never shows a secret value, so
    its body and headers are masked as the logs are.
    """
    check_caller(row)
    window = rate_limits.take(row)
    if row.bundle_error:
        raise ApiError(f"Function bundling failed: {row.bundle_error}", code=BUNDLE_FAILED, status=500)
    spec = store.spec_of(row)
    disclosed = Disclosed(row, spec.permissions.env)
    ran = store.Ran(row.id, row.name, row.namespace, row.version, current_actor().id, trigger, utcnow())
    flags = Flags(row)
    invocation = Invocation(
        request=request_object() | (given or {}),
        secret=apart(disclosed.secret),
        env=apart(disclosed.env),
        env_all=apart(disclosed.env_all),
        flags=apart(flags),
    )
    if db.session().in_transaction():  # none stays open while the function runs (an empty commit still costs)
        db.session.commit()
    started = time.perf_counter()
    outcome = runtime(current_app).invoke(spec, invocation)
    duration_ms = (time.perf_counter() - started) * 1000
    mask = masker(disclosed.disclosed)
    outcome = replace(
        outcome,
        error=mask(outcome.error),
        stack=mask(outcome.stack),
        logs=[*flags.problems, *({**entry, "message": mask(entry.get("message", ""))} for entry in outcome.logs)],
    )
    if shown and isinstance(outcome.response, dict):
        outcome = replace(outcome, response=masked_answer(outcome.response, mask))
    response, problem = to_http(outcome)
    outcome = replace(outcome, http_status=response.status_code)
    if problem is not None:  # it ran, but answered something that cannot be passed on
        outcome = replace(outcome, status=ERROR, error=problem)
    response.headers["X-Fluxbase-Execution-Id"] = store.record_execution(ran, outcome, duration_ms)
    if window is not None:
        response.headers.update(window.headers())
    return response


def masked_answer(answer: dict[str, Any], mask: Callable[[str | None], str | None]) -> dict[str, Any]:
    """The function's answer with every disclosed value masked in its text body and header values."""
    body, headers = answer.get("body"), answer.get("headers")
    if isinstance(body, str):
        answer = {**answer, "body": mask(body)}
    if isinstance(headers, dict):
        answer = {**answer, "headers": {name: mask(str(value)) for name, value in headers.items()}}
    return answer


def apart(read: Callable[..., Any]) -> Callable[..., Any]:
    """`read`, answered as the call runs, then the session's connection back to the pool.

    The call may go on for minutes: on PostgreSQL each call that read a secret held a
    pooled connection meanwhile, and 15 of them left every other request waiting.
    """

    def answer(*args: Any) -> Any:
        try:
            value = read(*args)
        except BaseException:
            db.session.rollback()
            raise
        if db.session().in_transaction():
            db.session.commit()
        return value

    return answer


def masker(disclosed: Iterable[str]) -> Callable[[str | None], str | None]:
    """Replace every secret value the invocation received with `***` (longest first)."""
    values = sorted({value for value in disclosed if len(value) >= MIN_MASKED_LENGTH}, key=len, reverse=True)

    def mask(text: str | None) -> str | None:
        if not text:
            return text
        for value in values:
            text = text.replace(value, MASK)
        return text

    return mask


def to_http(outcome: Outcome) -> tuple[Response, str | None]:
    """The function's answer as an HTTP response, or seed 003's JSON error; and what was wrong with the answer.

    Functions answer on the dashboard's origin, so what they send is sandboxed
    (`FLUXBASE_FUNCTIONS_RESPONSE_CSP`, `sandbox` by default: a page a function serves
    runs with an opaque origin, never with the dashboard's cookies), never sniffed
    into another type, and never sets a cookie.
    """
    response, problem = _answer(outcome)
    policy = current_app.config["FUNCTIONS_RESPONSE_CSP"]
    if policy:  # added beside a policy of the function's own: browsers enforce both
        response.headers.add("Content-Security-Policy", policy)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response, problem


def _answer(outcome: Outcome) -> tuple[Response, str | None]:
    if outcome.status != "success":
        body = {"error": "Function error", "message": outcome.error} if outcome.thrown else {"error": outcome.error}
        return _json(body, outcome.http_status), None
    answer = outcome.response or {}
    status, headers = answer.get("status", 200), answer.get("headers") or {}
    # 200-599, as the Fetch standard's Response allows: a 1xx (101 above all) is no final
    # answer, and a proxy in front could take it for an upgrade and tunnel to this server.
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        problem = f"Function returned an invalid status {str(status)[:20]!r}"
        return _json({"error": problem}, 502), problem
    if not isinstance(headers, dict):
        problem = "Function returned headers that are not an object"
        return _json({"error": problem}, 502), problem
    response = Response(answer.get("body") or "", status=status, mimetype="text/plain")
    for name, value in headers.items():
        text = str(value)
        if name.lower() not in DROPPED and HEADER_NAME.fullmatch(name) and HEADER_VALUE.fullmatch(text):
            response.headers[name] = text
    return response, None


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
