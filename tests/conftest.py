"""Fixtures: a fresh instance folder and database per test, SQLite or PostgreSQL.

`FLUXBASE_TEST_DB=postgresql` runs the suite on PostgreSQL: a database of its own is
created for the session (from `FLUXBASE_TEST_PG_URL`, default the local server) and its
schema is emptied after every test.

Pitfall: a test-client request made inside `with app.app_context():` reuses that
context, and so its `g` — the first request's actor and tenant stick to later ones.
Make requests outside app contexts; open one only to read what was stored.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flux import create_app, migrate
from flux.db import db
from tests.template_db import Templates, is_empty

# live_server, live_admin, live_app: a real `fluxbase serve`; browser, page, signed_in_page: Chromium.
pytest_plugins = ["tests.live_server", "tests.browser"]
TEST_PLUGIN = "tests.plugins.my_plugin"
SETUP_TOKEN = "setup-token-for-tests-0123456789"
ADMIN_EMAIL = "admin@example.com"
PASSWORD = "Correct horse battery 9"  # the default password policy wants an uppercase letter and a number
DEFAULT_PASSWORD_POLICY = {
    "min_length": 8,
    "require_uppercase": True,
    "require_lowercase": True,
    "require_numbers": True,
    "require_symbols": False,
    "max_age_days": 90,
    "history_count": 5,
}
BACKEND = os.environ.get("FLUXBASE_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("FLUXBASE_TEST_PG_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres")


# The marker (setup.cfg) a test gets when it uses the fixture: browsers, Deno, live servers are the slow part.
MARKER_FIXTURES = {"browser": "browser", "deno": "deno_dir", "live_server": "start_live_server"}


def pytest_report_header(config) -> str:
    return f"fluxbase test database: {BACKEND}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker, fixture in MARKER_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `FLUXBASE_*` variable of the shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("FLUXBASE_") and name not in {"FLUXBASE_TEST_DB", "FLUXBASE_TEST_PG_URL"}:
            monkeypatch.delenv(name)


@contextlib.contextmanager
def new_postgres_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    if BACKEND != "postgresql":
        yield None
        return
    with new_postgres_database("flux_test") as url:
        yield url


@pytest.fixture
def database_url(postgres_url: str | None) -> Iterator[str]:
    """Empty for SQLite (the instance default); the session database, emptied afterwards, for PostgreSQL."""
    if postgres_url is None:
        yield ""
        return
    yield postgres_url
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None) -> Iterator[Templates]:
    """The session's migrated template databases (`tests/template_db.py`)."""
    admin = None if postgres_url is None else sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    made = Templates(tmp_path_factory.mktemp("templates"), admin)
    yield made
    made.drop()
    if admin is not None:
        admin.dispose()


@pytest.fixture
def make_app(tmp_path: Path, database_url: str, templates: Templates):
    """Build apps on this test's instance folder and database; each migrated unless asked not to.

    The first app on the test's own, still empty, database is migrated from a template;
    any other (another database URL, a database a live server already migrated, a second
    app) through Alembic, as before.
    """
    built = []

    def make(migrated: bool = True, **config):
        settings = {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": database_url,
            "SECURITY_SETUP_TOKEN": SETUP_TOKEN,
            # Still scrypt (memory-hard), at a cost that keeps the suite quick.
            "AUTH_PASSWORD_HASH_METHOD": "scrypt:4096:8:1",
        }
        settings["PLUGINS"] = [TEST_PLUGIN]
        settings.update(config)
        app = create_app(settings)
        if migrated and not built and settings["DATABASE_URL"] == database_url and is_empty(app):
            templates.migrate(app)
        elif migrated:
            migrate.upgrade(app)
        built.append(app)
        return app

    yield make
    for app in built:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class DashboardClient:
    """The Flask test client used like a browser: it reads the CSRF token from each page."""

    def __init__(self, client) -> None:
        self.client = client

    def csrf_token(self, path: str = "/dashboard/login") -> str:
        return CSRF_FIELD.search(self.client.get(path).get_data(as_text=True)).group(1)

    def sign_in(self, email: str = ADMIN_EMAIL, password: str = PASSWORD):
        data = {"email": email, "password": password, "csrf_token": self.csrf_token()}
        return self.client.post("/dashboard/login", data=data)

    def post(self, path: str, data: dict | None = None, token_from: str = "/dashboard/"):
        return self.client.post(path, data={**(data or {}), "csrf_token": self.csrf_token(token_from)})


@pytest.fixture
def dashboard(client, auth) -> DashboardClient:
    """A test client signed in to the dashboard as the first instance admin."""
    auth.setup_admin()
    browser_like = DashboardClient(client)
    assert browser_like.sign_in().status_code == 302
    return browser_like


def create_tenant(app, slug: str) -> str:
    """A new tenant (slug, title-cased name); returns its id."""
    from flux.tenancy import Tenant

    with app.app_context():
        tenant = Tenant(slug=slug, name=slug.title())
        db.session.add(tenant)
        db.session.commit()
        return tenant.id


def tenant_admin(app, email: str, tenant_id: str | None = None) -> str:
    """A dashboard account with the `tenant_admin` role, admin of `tenant_id` if given; returns its id."""
    from flux.auth.models import PlatformAccount
    from flux.auth.passwords import hash_password
    from flux.tenancy import TenantMembership

    with app.app_context():
        account = PlatformAccount(email=email, password_hash=hash_password(PASSWORD), role="tenant_admin", name="T")
        db.session.add(account)
        db.session.flush()
        if tenant_id is not None:
            db.session.add(TenantMembership(tenant_id=tenant_id, account_id=account.id, role="tenant_admin"))
        db.session.commit()
        return account.id


def login(client, email: str) -> dict:
    """Bearer headers of a dashboard account, signed in through the API."""
    response = client.post("/api/v1/admin/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}


def stored_bytes(app) -> bytes:
    """Everything the database holds, to scan for plaintext.

    SQLite: the raw bytes of the database files (WAL included); PostgreSQL: every row
    of every table, as text.
    """
    if BACKEND == "postgresql":
        with app.app_context(), db.engine.connect() as connection:
            tables = sa.inspect(connection).get_table_names()
            return "\n".join(
                text
                for table in tables
                for text in connection.execute(sa.text(f'SELECT t::text FROM "{table}" t')).scalars()
            ).encode()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # no open connection holds pages back from the files
    files = sorted(Path(app.instance_path).glob("flux.sqlite*"))
    assert files
    return b"".join(path.read_bytes() for path in files)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AuthActions:
    """Sign up, sign in and set up accounts through the real endpoints."""

    def __init__(self, client) -> None:
        self.client = client

    def setup_admin(self, email: str = ADMIN_EMAIL, password: str = PASSWORD) -> dict:
        response = self.client.post(
            "/api/v1/admin/setup",
            json={"email": email, "password": password, "name": "Ada", "setup_token": SETUP_TOKEN},
        )
        assert response.status_code == 201, response.json
        return response.json

    def signup(self, email: str = "user@example.com", password: str = PASSWORD, tenant: str | None = None) -> dict:
        headers = {"X-FB-Tenant": tenant} if tenant else {}
        response = self.client.post("/api/v1/auth/signup", json={"email": email, "password": password}, headers=headers)
        assert response.status_code == 201, response.json
        return response.json

    @staticmethod
    def bearer(tokens: dict, **extra: str) -> dict:
        return {"Authorization": f"Bearer {tokens['access_token']}", **extra}


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def admin_headers(auth) -> dict:
    return auth.bearer(auth.setup_admin())


@pytest.fixture
def service_key(client, admin_headers):
    """Make a service key of the default tenant (or of `X-FB-Tenant` in `extra`) with `scopes`; returns its headers."""

    def make(scopes: list[str], **extra: str) -> dict:
        body = {"name": "ci", "scopes": scopes}
        response = client.post("/api/v1/admin/service-keys", json=body, headers={**admin_headers, **extra})
        assert response.status_code == 201, response.json
        return {"X-Service-Key": response.json["key"]}

    return make
