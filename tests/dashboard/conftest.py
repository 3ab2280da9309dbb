"""Dashboard fixtures: a real `fluxbase serve` process, headless Chromium, and a signed-in test client.

Browser tests drive Debian's Chromium (`/usr/bin/chromium`, installed by `scripts/test`)
through Playwright; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import ADMIN_EMAIL, PASSWORD, SETUP_TOKEN, free_port

FLUXBASE = str(Path(sys.executable).with_name("fluxbase"))
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class LiveServer:
    url: str
    instance: Path

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, timeout=10, **kwargs)


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


@pytest.fixture
def live_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """`fluxbase serve` (two gunicorn workers) on this test's instance folder and database."""
    port, instance = free_port(), tmp_path / "instance"
    env = {
        **os.environ,
        "FLUXBASE_DATABASE_URL": database_url,
        "FLUXBASE_SECURITY_SETUP_TOKEN": SETUP_TOKEN,
        "FLUXBASE_AUTH_PASSWORD_HASH_METHOD": "scrypt:4096:8:1",
    }
    command = [FLUXBASE, "serve", "--instance", str(instance), "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, url)
        yield LiveServer(url, instance)
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.fixture
def live_admin(live_server: LiveServer) -> dict:
    """The first instance admin, created through the JSON API."""
    body = {"email": ADMIN_EMAIL, "password": PASSWORD, "name": "Ada", "setup_token": SETUP_TOKEN}
    response = live_server.api("POST", "/api/v1/admin/setup", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test as root, or `sudo apt-get install -y chromium`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, email: str = ADMIN_EMAIL, password: str = PASSWORD) -> int:
    """Fill in the login form; the status of the answer to the POST."""
    page.goto("/dashboard/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign in").click()
    return answer.value.status


@pytest.fixture
def signed_in_page(page: Page, live_admin: dict) -> Page:
    assert sign_in(page) == 302
    page.wait_for_url("**/dashboard/")
    return page


@pytest.fixture
def live_app(make_app, live_server: LiveServer):
    """An in-process app on the live server's instance folder and database, to check what it stored."""
    return make_app(migrated=False)
