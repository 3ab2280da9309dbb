"""The Functions page (functions plugin) in headless Chromium, against a live server that runs the code in Deno.

Functions are created, changed and called through the live server's JSON API, as a
deployment would; the browser then reads the list, the detail page's settings, code,
versions and executions, and rolls back and switches functions through the page's forms.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from tests.live_server import LiveServer

PAGE = "/dashboard/functions/"
API = "/api/v1/functions"
ENV_VALUE = f"env-never-renders-{uuid.uuid4().hex}"
MARKUP = "<script>window.injected = true</script>"
HELLO = f"""const banner = "{MARKUP}"
async function handler(req) {{
  console.log("hello log")
  console.warn("careful", banner.length)
  return {{ status: 200, body: "hi" }}
}}"""
SECOND = """async function handler(req) {
  console.log("second log")
  return { status: 201, body: "second" }
}"""
THROWS = """async function handler(req) {
  console.error("about to fail")
  throw new Error("card declined")
}"""

Api = Callable[..., requests.Response]


@pytest.fixture
def live_server(start_live_server, deno_dir: Path) -> LiveServer:
    """The live server with one Deno cache for the session, so the same code type-checks once."""
    return start_live_server(FUNCTIONS_DENO_DIR=str(deno_dir))


@pytest.fixture
def api(live_server: LiveServer, live_admin: dict) -> Api:
    """`api(method, path, **kwargs)`: a call to `/api/v1/functions…` as the first instance admin."""
    headers = {"Authorization": f"Bearer {live_admin['access_token']}"}
    return lambda method, path, **kwargs: live_server.api(method, f"{API}{path}", headers=headers, **kwargs)


def deploy(api: Api, name: str, code: str, **fields: Any) -> dict:
    response = api("POST", "", json={"name": name, "code": code, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def submit(page: Page, button: Locator) -> int:
    """Click a form's button; the status of the answer to its POST."""
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        button.click()
    return answer.value.status


def cells(row: Locator) -> list[str]:
    return [text.strip() for text in row.locator(":scope > td").all_inner_texts()]


def listed(page: Page, namespace: str, name: str) -> Locator:
    return page.locator(f"#functions tbody tr[data-namespace='{namespace}'][data-name='{name}']")


def settings(page: Page) -> dict[str, str]:
    """The detail page's settings, term to definition, as shown (less the last change's time)."""
    terms, definitions = (page.locator(f"#settings {tag}").all_inner_texts() for tag in ("dt", "dd"))
    shown = {term: " ".join(definition.split()) for term, definition in zip(terms, definitions, strict=True)}
    del shown["Updated (UTC)"]
    return shown


def in_effect(page: Page) -> dict[str, str]:
    """The detail page's directives: name to "value (source)"."""
    rows = page.locator("#directives tbody tr").all()
    return {row.get_attribute("data-directive"): "{} ({})".format(*cells(row)[1:]) for row in rows}


def version_numbers(page: Page) -> list[str]:
    return [cells(row)[0] for row in page.locator("#versions tbody tr").all()]


def test_list_settings_code_and_executions_with_logs_in_the_browser(signed_in_page: Page, api: Api):
    deploy(api, "hello", HELLO, description="Says hi", env={"API_TOKEN": ENV_VALUE})
    billing = {"timeout": 5, "memory": 64, "permissions": {"net": False}, "isolation": "per-invocation"}
    directives = "// @fluxbase:cors-origins https://shop.example\n// @fluxbase:cors-methods POST\n"
    directives += "// @fluxbase:cors-headers Content-Type\n// @fluxbase:cors-credentials\n"
    directives += "// @fluxbase:cors-max-age 60\n"
    billing |= {"allow_unauthenticated": True, "is_public": False, "rate_limit": "30/hour"}
    deploy(api, "charge", directives + THROWS, namespace="billing", **billing)
    deploy(api, "idle", SECOND, enabled=False)
    assert api("POST", "/hello/invoke").text == "hi"
    failed = api("POST", "/billing/charge/invoke")
    assert (failed.status_code, failed.json()["message"]) == (500, "card declined")

    page = signed_in_page
    page.get_by_role("navigation").get_by_role("link", name="Functions").click()
    page.wait_for_url(f"**{PAGE}")
    expect(page.locator("#functions tbody tr")).to_have_count(3)
    assert cells(listed(page, "billing", "charge"))[:5] == ["charge", "billing", "1", "enabled", "error"]
    assert cells(listed(page, "default", "hello"))[:5] == ["hello\nSays hi", "default", "1", "enabled", "success"]
    assert cells(listed(page, "default", "idle"))[:5] == ["idle", "default", "1", "disabled", "never ran"]

    filters = page.get_by_role("search", name="Filter functions")
    filters.get_by_label("Namespace").fill("billing")
    filters.get_by_role("button", name="Filter").click()
    page.wait_for_url("**namespace=billing")
    expect(page.locator("#functions tbody tr")).to_have_count(1)
    expect(listed(page, "billing", "charge")).to_be_visible()
    filters.get_by_label("Namespace").fill("nowhere")
    filters.get_by_role("button", name="Filter").click()
    expect(page.locator("#functions tbody")).to_have_text("No function in the namespace nowhere.")
    filters.get_by_role("link", name="Show all").click()
    expect(page.locator("#functions tbody tr")).to_have_count(3)

    listed(page, "default", "hello").get_by_role("link", name="hello").click()
    page.wait_for_url(f"**{PAGE}default/hello")
    expect(page.get_by_role("heading", level=1)).to_have_text("Function hello")
    assert settings(page) == {
        "Timeout": "60 s",
        "Memory": "128 MB",
        "Isolation": "warm",
        "Permissions": "env: allowed, net: allowed, read: denied, write: denied",
        "Environment variables": "API_TOKEN (values are not shown)",
    }
    assert in_effect(page) == {
        "allow-unauthenticated": "false (default)",
        "public": "true (default)",
        "cors-origins": "* (default)",
        "cors-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS (default)",
        "cors-headers": "Authorization, Content-Type, apikey, X-Client-Info, X-FB-Tenant, X-Service-Key (default)",
        "cors-credentials": "false (default)",
        "cors-max-age": "3600 (default)",
        "rate-limit": "none (default)",
    }
    assert ENV_VALUE not in page.content()

    code = page.get_by_role("textbox", name="Code of version 1")
    assert code.input_value() == HELLO  # the markup in the code is text ...
    assert page.evaluate("window.injected") is None  # ... and never ran
    assert "&lt;script&gt;window.injected" in page.content()

    (execution,) = page.locator("#executions tbody tr").all()
    assert cells(execution)[1:4] == ["1", "success", "200"]
    assert cells(execution)[4].endswith(" ms") and cells(execution)[5:] == ["—", "2 lines"]
    logs = execution.get_by_role("region", name="Logs of the execution")
    expect(logs).to_be_hidden()
    execution.get_by_text("2 lines").click()
    expect(logs).to_be_visible()
    expect(logs).to_contain_text("info  hello log")
    expect(logs).to_contain_text(f"warn  careful {len(MARKUP)}")

    page.get_by_role("link", name="All functions").click()
    listed(page, "billing", "charge").get_by_role("link", name="charge").click()
    page.wait_for_url(f"**{PAGE}billing/charge")
    assert settings(page) == {
        "Timeout": "5 s",
        "Memory": "64 MB",
        "Isolation": "per-invocation",
        "Permissions": "env: allowed, net: denied, read: denied, write: denied",
        "Environment variables": "none",
    }
    assert in_effect(page) == {
        "allow-unauthenticated": "true (api)",
        "public": "false (api)",
        "cors-origins": "https://shop.example (annotation)",
        "cors-methods": "POST (annotation)",
        "cors-headers": "Content-Type (annotation)",
        "cors-credentials": "true (annotation)",
        "cors-max-age": "60 (annotation)",
        "rate-limit": "30/hour (api)",
    }
    (execution,) = page.locator("#executions tbody tr").all()
    assert cells(execution)[1:4] == ["1", "error", "500"]
    assert cells(execution)[5].startswith("card declined\nError: card declined")
    execution.get_by_text("1 line", exact=True).click()
    expect(execution.get_by_role("region", name="Logs of the execution")).to_contain_text("error about to fail")


def test_versions_rollback_and_switching_in_the_browser(signed_in_page: Page, api: Api):
    deploy(api, "hello", HELLO)
    assert api("PUT", "/hello", json={"code": SECOND}).json()["version"] == 2
    assert api("POST", "/hello/invoke").text == "second"
    page = signed_in_page
    page.goto(f"{PAGE}default/hello")
    assert version_numbers(page) == ["2", "1"]
    expect(page.locator("#versions tbody tr").first).to_contain_text("current")
    assert page.get_by_role("textbox", name="Code of version 2").input_value() == SECOND
    assert cells(page.locator("#executions tbody tr").first)[1] == "2"

    assert submit(page, page.get_by_role("button", name="Roll back to version 1")) == 302
    page.wait_for_url(f"**{PAGE}default/hello")
    expect(page.get_by_role("status")).to_have_text(
        "Rolled “hello” in namespace default back to version 1; that code is version 3 now."
    )
    assert version_numbers(page) == ["3", "2", "1"]
    expect(page.get_by_role("button", name="Roll back to version 2")).to_be_visible()
    assert page.get_by_role("textbox", name="Code of version 3").input_value() == HELLO
    current = api("GET", "/hello").json()
    assert (current["version"], current["code"]) == (3, HELLO)
    versions = api("GET", "/hello/versions?code=1").json()
    assert [(version["version"], version["code"]) for version in versions] == [(3, HELLO), (2, SECOND), (1, HELLO)]
    assert api("POST", "/hello/invoke").text == "hi"
    page.reload()
    assert cells(page.locator("#executions tbody tr").first)[1:3] == ["3", "success"]

    assert submit(page, page.get_by_role("button", name="Disable")) == 302
    expect(page.get_by_role("status")).to_have_text("“hello” in namespace default is disabled.")
    refused = api("POST", "/hello/invoke")
    assert (refused.status_code, refused.json()["code"]) == (403, "FUNCTION_DISABLED")
    assert submit(page, page.get_by_role("button", name="Enable")) == 302
    expect(page.get_by_role("status")).to_have_text("“hello” in namespace default is enabled.")
    assert api("POST", "/hello/invoke").text == "hi"
    assert api("GET", "/hello").json()["version"] == 3  # switching stores no new version

    for forged in ("rollback/2", "disable"):
        answer = page.request.post(f"{PAGE}default/hello/{forged}")
        assert (answer.status, "The CSRF token is missing." in answer.text()) == (400, True)
    current = api("GET", "/hello").json()
    assert (current["version"], current["enabled"]) == (3, True)

    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    for path, status, shown in (
        ("default/hello/rollback/99", 404, ["function &#39;hello&#39; has no version 99", "Code of version 3"]),
        ("default/hello/rollback/v1", 400, ["version: must be a whole number from 1", "Code of version 3"]),
        ("default/nope/rollback/1", 404, ["function &#39;nope&#39; not found in namespace", "Filter functions"]),
    ):
        answer = page.request.post(f"{PAGE}{path}", form={"csrf_token": token})
        assert (answer.status, [text for text in shown if text not in answer.text()]) == (status, []), path
    assert api("GET", "/hello").json()["version"] == 3


def test_an_empty_list_and_a_missing_function(dashboard):
    assert "No functions yet." in dashboard.client.get(PAGE).get_data(as_text=True)
    missing = dashboard.client.get(f"{PAGE}default/nope")
    assert (missing.status_code, missing.mimetype) == (404, "text/html")
    assert "function &#39;nope&#39; not found" in missing.get_data(as_text=True)


def gutter(page: Page, editor: str = "#code") -> list[str]:
    """The line numbers beside an editor, and which are marked: `["1", "2!", "3"]`."""
    spans = page.locator(f".code-editor:has({editor}) .gutter span")
    return spans.evaluate_all("spans => spans.map(s => s.textContent + (s.className === 'marked' ? '!' : ''))")


TYPED = (
    'async function handler(req) {\n  const count: number = "three"\n  return { status: 200, body: String(count) }\n}'
)


def test_create_and_edit_code_in_the_editor_with_errors_at_their_line(signed_in_page: Page, api: Api):
    page = signed_in_page
    page.goto(PAGE)
    page.get_by_role("link", name="New function").click()
    page.wait_for_url(f"**{PAGE}new")
    page.get_by_label("Name", exact=True).fill("typed")
    page.get_by_label("Namespace").fill("shop")
    editor = page.get_by_label("Code", exact=True)
    assert gutter(page) == ["1"]
    editor.press_sequentially("async function handler(req) {\n  return { status: 200, body: 'one' }\n}")
    assert gutter(page) == ["1", "2", "3"]  # the numbers follow the text as it is typed
    assert submit(page, page.get_by_role("button", name="Create function")) == 302
    page.wait_for_url(f"**{PAGE}shop/typed")
    expect(page.get_by_role("status")).to_have_text("Created “typed” in namespace shop; its code is version 1.")
    assert api("POST", "/shop/typed/invoke").text == "one"

    editor = page.get_by_role("textbox", name="Code of version 1")
    editor.fill(TYPED)
    assert gutter(page) == ["1", "2", "3", "4"]
    assert submit(page, page.get_by_role("button", name="Save as a new version")) == 400
    problem = page.locator("#code-problem")
    expect(problem).to_contain_text("Line 2, column 9: TS2322 [ERROR]: Type 'string' is not assignable")
    assert gutter(page) == ["1", "2!", "3", "4"]
    assert page.get_by_role("textbox", name="Code of version 1").input_value() == TYPED  # the unsaved code is kept
    problem.get_by_role("link", name="Line 2, column 9").click()
    assert editor.evaluate("area => [document.activeElement === area, area.selectionStart]") == [True, 30]
    assert api("GET", "/typed?namespace=shop").json()["version"] == 1

    editor.fill("async function handler(req) {\n  console.log('two')\n  return { status: 200, body: 'two' }\n}")
    assert submit(page, page.get_by_role("button", name="Save as a new version")) == 302
    expect(page.get_by_role("status")).to_have_text("Saved the code of “typed” in namespace shop as version 2.")
    expect(page.locator("#versions tbody tr")).to_have_count(2)  # the page is parsed that far
    assert version_numbers(page) == ["2", "1"] and gutter(page) == ["1", "2", "3", "4"]
    assert api("POST", "/shop/typed/invoke").text == "two"

    editor = page.get_by_role("textbox", name="Code of version 2")
    editor.fill("\n".join(f"// line {number}" for number in range(1, 101)))
    assert len(gutter(page)) == 100
    editor.evaluate("area => { area.scrollTop = 400; area.dispatchEvent(new Event('scroll')) }")
    follows = "area => area.parentElement.querySelector('.gutter').scrollTop === area.scrollTop"
    assert editor.evaluate(follows) and editor.evaluate("area => area.scrollTop") > 0


def test_a_test_call_in_the_browser_shows_status_headers_body_and_logs(signed_in_page: Page, api: Api):
    deploy(api, "hello", HELLO, env={"API_TOKEN": ENV_VALUE})
    page = signed_in_page
    page.goto(f"{PAGE}default/hello")
    form = page.locator("#test-call")
    form.get_by_label("Method").select_option("PUT")
    form.get_by_label("Body").fill('{"name": "Ada"}')
    assert submit(page, form.get_by_role("button", name="Invoke")) == 200
    expect(page.locator("#answer-status")).to_have_text("200")
    expect(page.get_by_role("region", name="Body of the answer")).to_have_text("hi")
    expect(page.locator("#answer-headers")).to_contain_text("X-Fluxbase-Execution-Id")
    logs = page.get_by_role("region", name="Logs of the call")
    expect(logs).to_contain_text("info  hello log")
    expect(logs).to_contain_text(f"warn  careful {len(MARKUP)}")
    assert form.get_by_label("Method").input_value() == "PUT"
    assert form.get_by_label("Body").input_value() == '{"name": "Ada"}'
    assert ENV_VALUE not in page.content()
    (execution,) = page.locator("#executions tbody tr").all()
    assert cells(execution)[1:4] == ["1", "success", "200"]


def test_shared_modules_in_the_browser(signed_in_page: Page, api: Api):
    page = signed_in_page
    page.get_by_role("navigation").get_by_role("link", name="Shared modules").click()
    page.wait_for_url("**/dashboard/shared-modules/")
    form = page.locator("#new-module")
    form.get_by_label("Path").fill("greet.ts")
    form.get_by_label("Content").fill("export const greet = (name: string) => `hi ${name}`\n")
    assert gutter(page, "#module-content") == ["1", "2"]
    assert submit(page, form.get_by_role("button", name="Create module")) == 302
    page.wait_for_url("**/dashboard/shared-modules/_shared/greet.ts")
    code = 'import { greet } from "_shared/greet.ts"\nasync function handler(req) {\n'
    code += '  return { status: 200, body: greet("x") }\n}'
    deploy(api, "greeter", code)
    assert api("POST", "/greeter/invoke").text == "hi x"

    page.get_by_role("textbox", name="Content of version 1").fill(
        "export const greet = (name: string) => `hello ${name}`\n"
    )
    assert submit(page, page.get_by_role("button", name="Save")) == 302
    expect(page.get_by_role("status")).to_contain_text("Saved _shared/greet.ts as version 2.")
    expect(page.locator("#versions tbody tr")).to_have_count(2)
    assert version_numbers(page) == ["2", "1"]
    page.get_by_role("link", name="Show version 1").click()
    expect(page.get_by_role("region", name="Content of version 1")).to_contain_text("`hi ${name}`")
    assert api("POST", "/greeter/invoke").text == "hi x"  # bundled with version 1 until saved again
