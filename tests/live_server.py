"""A real `fluxbase serve` process for tests that talk HTTP: the dashboard in a browser, the remote CLI.

Its fixtures are offered to every test by `tests/conftest.py`. The server runs on this
test's instance folder and database (the suite's PostgreSQL database on PostgreSQL runs),
so `live_app` can look at what it stored. `fluxbase` and `admin_terminal` run the remote
commands of the core and of every plugin against it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from flux.cli import cli
from tests.conftest import ADMIN_EMAIL, PASSWORD, SETUP_TOKEN, free_port

FLUXBASE = str(Path(sys.executable).with_name("fluxbase"))
START_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class LiveServer:
    url: str
    instance: Path

    def api(self, method: str, path: str, timeout: float = 10, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, timeout=timeout, **kwargs)

    def signup(self, email: str = "user@example.com", password: str = PASSWORD) -> dict:
        """A new app user of the default tenant, signed in: `{user, access_token, refresh_token, expires_in}`."""
        response = self.api("POST", "/api/v1/auth/signup", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        return response.json()

    def create_service_key(self, admin: dict, scopes: list[str]) -> str:
        """A new service key of the admin's tenant, in plaintext (the only time the server shows it)."""
        headers = {"Authorization": f"Bearer {admin['access_token']}"}
        response = self.api(
            "POST", "/api/v1/admin/service-keys", json={"name": "cli", "scopes": scopes}, headers=headers
        )
        assert response.status_code == 201, response.text
        return response.json()["key"]


class Terminal:
    """Runs `fluxbase` commands in-process and keeps everything they print."""

    def __init__(self) -> None:
        self.runner = CliRunner()
        self.printed: list[str] = []

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        result = self.runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)
        self.printed.append(result.output)
        return result

    def login(self, url: str, *extra: str, email: str = ADMIN_EMAIL) -> Result:
        result = self("login", "--url", url, *extra, input=f"{email}\n{PASSWORD}\n")
        assert result.exit_code == 0, result.output
        return result


def _wait_until_healthy(process: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, f"server did not answer within {START_TIMEOUT_SECONDS} s"
        time.sleep(0.1)


def launch(instance: Path, database_url: str, **settings: str) -> tuple[subprocess.Popen, LiveServer]:
    """Start `fluxbase serve` (two gunicorn workers) and wait until it is healthy; stop the process yourself."""
    port = free_port()
    env = {
        **os.environ,
        "FLUXBASE_DATABASE_URL": database_url,
        "FLUXBASE_SECURITY_SETUP_TOKEN": SETUP_TOKEN,
        "FLUXBASE_AUTH_PASSWORD_HASH_METHOD": "scrypt:4096:8:1",
        **{f"FLUXBASE_{name}": value for name, value in settings.items()},
    }
    command = [FLUXBASE, "serve", "--instance", str(instance), "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    _wait_until_healthy(process, url)
    return process, LiveServer(url, instance)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.communicate(timeout=30)


@pytest.fixture
def start_live_server(tmp_path: Path, database_url: str) -> Iterator[Callable[..., LiveServer]]:
    """Start `fluxbase serve` on this test's instance and database; keyword arguments become `FLUXBASE_*` variables."""
    processes: list[subprocess.Popen] = []

    def start(**settings: str) -> LiveServer:
        process, server = launch(tmp_path / "instance", database_url, **settings)
        processes.append(process)
        return server

    yield start
    for process in processes:  # all at once: servers of one instance share its Deno supervisor (and its output)
        process.terminate()
    for process in processes:
        process.communicate(timeout=30)


@pytest.fixture
def live_server(start_live_server: Callable[..., LiveServer]) -> LiveServer:
    """`fluxbase serve` on this test's instance folder and database, with the test setup token."""
    return start_live_server()


@pytest.fixture
def live_admin(live_server: LiveServer) -> dict:
    """The first instance admin, created through the JSON API."""
    body = {"email": ADMIN_EMAIL, "password": PASSWORD, "name": "Ada", "setup_token": SETUP_TOKEN}
    response = live_server.api("POST", "/api/v1/admin/setup", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def live_app(make_app, live_server: LiveServer):
    """An in-process app on the live server's instance folder and database, to check what it stored."""
    return make_app(migrated=False)


# -- the remote CLI ------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "fluxbase" / "config.json"


@pytest.fixture
def fluxbase(config_file: Path) -> Terminal:
    return Terminal()


@pytest.fixture
def admin_terminal(fluxbase: Terminal, live_server, live_admin) -> Terminal:
    """The terminal of an administrator who has run `fluxbase login`."""
    fluxbase.login(live_server.url)
    return fluxbase
