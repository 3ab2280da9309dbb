"""What a schema layer costs per request: spectree and flask-openapi3 against plain pydantic.

Issue 12 asks for one Flask integration of pydantic models, chosen by measuring. The
same route is built three ways: plain Flask that validates with pydantic by hand (the
baseline: the work any choice must do), spectree's `@validate`, and flask-openapi3's
typed view arguments. Each answers `PUT /settings/user/<key>` with a body model and a
response model, as the settings plugin would. Requests go straight into the WSGI app
(no HTTP, no database), so the numbers are the libraries' own overhead per request;
valid and invalid bodies are timed apart, since an invalid one takes the error path.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python -m bench.schema_libraries
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections.abc import Callable

from flask import Flask, jsonify, request
from flask import Response as FlaskResponse
from flask_openapi3 import OpenAPI
from pydantic import BaseModel, Field, ValidationError
from spectree import Response, SpecTree
from werkzeug.test import EnvironBuilder

ROUNDS, REQUESTS = 9, 2000
VALID = {"value": {"theme": "dark", "size": 14}, "description": "the editor's look"}
INVALID = {"value": {"theme": "dark"}, "description": 42}


class SettingBody(BaseModel):
    value: dict | list | str | int | float | bool | None
    description: str | None = Field(default=None, max_length=1000)


class SettingPath(BaseModel):
    key: str = Field(max_length=255, pattern=r"^[A-Za-z0-9._/-]+$")


class Setting(BaseModel):
    key: str
    value: dict | list | str | int | float | bool | None
    description: str | None


def _error(details: list) -> tuple:
    return jsonify({"error": "invalid body", "code": "VALIDATION_ERROR", "details": details}), 400


def plain_app() -> Flask:
    app = Flask("plain")

    @app.put("/settings/user/<key>")
    def put_setting(key: str):
        try:
            path = SettingPath(key=key)
            body = SettingBody.model_validate(request.get_json())
        except ValidationError as error:
            return _error(error.errors(include_url=False, include_context=False, include_input=False))
        return _json(Setting(key=path.key, **body.model_dump()))

    return app


def _json(model: BaseModel) -> FlaskResponse:
    return FlaskResponse(model.model_dump_json(), mimetype="application/json")


def spectree_app() -> Flask:
    """spectree takes path parameters from Flask's converters, not from a model, and checks
    the answer against its model (flask-openapi3 only documents it)."""
    app = Flask("spectree")
    api = SpecTree("flask", app=app, annotations=True, validation_error_status=400)

    @app.put("/settings/user/<key>")
    @api.validate(json=SettingBody, resp=Response(HTTP_200=Setting))
    def put_setting(key: str, json: SettingBody):
        return Setting(key=key, **json.model_dump())

    return app


def openapi3_app() -> Flask:
    app = OpenAPI("flask-openapi3", validation_error_status=400)

    @app.put("/settings/user/<key>", responses={200: Setting})
    def put_setting(path: SettingPath, body: SettingBody):
        return _json(Setting(key=path.key, **body.model_dump()))

    return app


def request_runner(app: Flask, body: dict, expected: int) -> Callable[[], float]:
    """A function that times REQUESTS requests straight into the WSGI app: µs per request."""
    payload = json.dumps(body).encode()
    base = EnvironBuilder(
        path="/settings/user/ui.theme", method="PUT", data=payload, content_type="application/json"
    ).get_environ()
    statuses: list[str] = []

    def start_response(status: str, headers: list, exc_info=None) -> None:
        statuses.append(status)

    def one() -> None:
        b"".join(app.wsgi_app({**base, "wsgi.input": io.BytesIO(payload)}, start_response))

    one()
    if not statuses[-1].startswith(str(expected)):
        raise SystemExit(f"{app.name}: expected {expected}, got {statuses[-1]}")

    def timed() -> float:
        started = time.perf_counter()
        for _ in range(REQUESTS):
            one()
        return (time.perf_counter() - started) / REQUESTS * 1e6

    return timed


def main() -> None:
    builders: list[tuple[str, Callable[[], Flask]]] = [
        ("plain Flask + pydantic (baseline)", plain_app),
        ("spectree", spectree_app),
        ("flask-openapi3", openapi3_app),
    ]
    runners = []
    for name, build in builders:
        app = build()
        runners.append((name, request_runner(app, VALID, 200), request_runner(app, INVALID, 400)))
    # Rounds alternate between the apps, so a drift in the machine's speed hits all alike.
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in runners}
    for _ in range(ROUNDS):
        for name, valid, invalid in runners:
            samples[name].append((valid(), invalid()))
    print(f"{'':36}{'valid µs':>10}{'ratio':>8}{'invalid µs':>12}{'ratio':>8}")
    baseline: tuple[float, float] | None = None
    for name, rounds in samples.items():
        valid = statistics.median(sample[0] for sample in rounds)
        invalid = statistics.median(sample[1] for sample in rounds)
        baseline = baseline or (valid, invalid)
        print(f"{name:36}{valid:10.1f}{valid / baseline[0]:8.2f}{invalid:12.1f}{invalid / baseline[1]:8.2f}")


if __name__ == "__main__":
    main()
