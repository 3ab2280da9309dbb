"""Browser fixtures for every folder: headless Chromium against the live server (`tests/live_server.py`).

A pytest plugin of `tests/conftest.py`, so the session's one browser is defined once.

Browser tests drive Debian's Chromium (`/usr/bin/chromium`, installed by `scripts/test`)
through Playwright; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import ADMIN_EMAIL, PASSWORD
from tests.live_server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test as root, or `sudo apt-get install -y chromium`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def deno_dir(tmp_path_factory) -> Path:
    """One Deno cache for the session: a live server given it type-checks the same code once."""
    return tmp_path_factory.mktemp("deno_dir")


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
