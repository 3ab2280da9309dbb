"""The dashboard's own Content-Security-Policy, in headless Chromium: every page works under
it (its style sheet and scripts carry the nonce), and a script without the nonce does not run.
"""

from __future__ import annotations

import re

from playwright.sync_api import Error, Page

NONCE = re.compile(r"script-src 'nonce-([A-Za-z0-9_-]{20,})'")


def policy_of(page: Page, path: str) -> str:
    response = page.goto(path)
    assert response is not None and response.status == 200, path
    return response.headers["content-security-policy"]


def test_every_page_works_under_its_policy(signed_in_page: Page):
    page = signed_in_page
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    links = page.locator("nav a[href^='/dashboard/']").evaluate_all("links => links.map(link => link.pathname)")
    assert len(links) >= 5, links
    nonces = set()
    for path in links:
        policy = policy_of(page, path)
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        nonces.add(NONCE.search(policy).group(1))
        # The layout's style sheet applied: the navigation is dark.
        assert page.eval_on_selector("nav", "nav => getComputedStyle(nav).backgroundColor") == "rgb(29, 36, 48)"
    assert [message for message in messages if "Content Security Policy" in message] == []
    assert len(nonces) == len(links)  # a fresh nonce per response


def test_a_script_without_the_nonce_does_not_run(signed_in_page: Page):
    page = signed_in_page
    policy_of(page, "/dashboard/")
    try:
        page.add_script_tag(content="window.injected = true")
    except Error:
        pass  # Chromium refuses the tag; either way the script must not have run
    assert page.evaluate("window.injected === undefined")


def test_the_login_page_has_the_policy_too(page: Page, live_admin: dict):
    assert "script-src 'nonce-" in policy_of(page, "/dashboard/login")
    assert page.eval_on_selector("body", "body => getComputedStyle(body).backgroundColor") == "rgb(246, 247, 249)"
