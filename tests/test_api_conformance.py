"""The OpenAPI document is honest: schemathesis drives every operation of a live server with it.

Generated input (valid and malformed, from the document itself) goes to a real
`fluxbase serve`; every answer must be no server error, have a documented status and
content type, and match its documented schema (error codes included). App users'
own routes are called as an app user, every other route as the instance admin.
`FLUXBASE_TEST_CONFORMANCE_EXAMPLES` sets the examples per operation (default 25),
`FLUXBASE_TEST_CONFORMANCE_PATHS` a regular expression of the paths to drive (default all).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_EMAIL, BACKEND, PASSWORD, SETUP_TOKEN, new_postgres_database
from tests.live_server import LiveServer, launch, stop

pytestmark = pytest.mark.live_server
EXAMPLES = int(os.environ.get("FLUXBASE_TEST_CONFORMANCE_EXAMPLES", "25"))
PATHS = os.environ.get("FLUXBASE_TEST_CONFORMANCE_PATHS")
MAX_REQUEST_LINE = 3500  # bytes of path and query; gunicorn's limit_request_line is 4094 with the method
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
APP_USER_PATHS = ("/api/v1/settings/user", "/api/v1/settings/secret", "/api/v1/auth/user")


@pytest.fixture(scope="module")
def conformance_database() -> Iterator[str]:
    """A database of this module's own on PostgreSQL runs (the SQLite default otherwise)."""
    if BACKEND != "postgresql":
        yield ""
        return
    with new_postgres_database("flux_conformance") as url:
        yield url


@pytest.fixture(scope="module")
def conformance_server(tmp_path_factory, conformance_database: str) -> Iterator[LiveServer]:
    """One server for every operation, rate limits out of the way (they are tested elsewhere)."""
    instance = tmp_path_factory.mktemp("conformance") / "instance"
    process, server = launch(
        instance,
        conformance_database,
        AUTH_SIGNIN_LIMIT_PER_IP="100000/minute",
        AUTH_SIGNIN_LIMIT_PER_EMAIL="100000/minute",
    )
    body = {"email": ADMIN_EMAIL, "password": PASSWORD, "name": "Ada", "setup_token": SETUP_TOKEN}
    assert server.api("POST", "/api/v1/admin/setup", json=body).status_code == 201
    yield server
    stop(process)


@pytest.fixture
def credentials(conformance_server: LiveServer) -> dict[str, dict[str, str]]:
    """Fresh tokens for each operation: an example may sign its caller out."""
    admin = conformance_server.api("POST", "/api/v1/admin/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert admin.status_code == 200, admin.text
    user = conformance_server.signup(f"user-{uuid.uuid4().hex[:8]}@example.com")
    return {
        "admin": {"Authorization": f"Bearer {admin.json()['access_token']}"},
        "user": {"Authorization": f"Bearer {user['access_token']}"},
    }


@pytest.fixture
def api_schema(conformance_server: LiveServer):
    loaded = schemathesis.openapi.from_url(f"{conformance_server.url}/api/v1/openapi.json")
    return loaded.include(path_regex=PATHS) if PATHS else loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, credentials):
    # gunicorn answers a request line over 4094 bytes itself (414, not JSON), before the app.
    assume(len(quote(case.formatted_path)) + len(urlencode(case.query or {}, doseq=True)) < MAX_REQUEST_LINE)
    caller = "user" if case.path.startswith(APP_USER_PATHS) else "admin"
    case.call_and_validate(headers=credentials[caller], checks=CHECKS)
