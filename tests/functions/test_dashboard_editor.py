"""The Functions page's editor, test call and the Shared modules page, through the Flask test client and real Deno.

Each form post is judged as the API judges the same input: a refusal answers the API's
status with the page again (what was typed kept, the refusal under the editor and its
lines marked) and stores nothing; a missing CSRF token stores nothing either.
"""

from __future__ import annotations

import html
import re
import uuid

import pytest
import sqlalchemy as sa

from flux.db import db
from plugins.functions.code_problems import located
from plugins.functions.code_problems import marked_lines as marked_lines_of
from plugins.functions.models import EdgeFunction, FunctionExecution
from tests.conftest import ADMIN_EMAIL, DashboardClient, login
from tests.functions.conftest import BASE as API

PAGE = "/dashboard/functions/"
MODULES = "/dashboard/shared-modules/"
SECRET = f"env-never-renders-{uuid.uuid4().hex}"
HELLO = """async function handler(req) {
  console.log("got", req.method, req.body)
  return { status: 201, headers: { "X-Answer": "yes" }, body: `hi ${req.body}` }
}"""
LEAKS = """async function handler(req) {
  const token = Deno.env.get("API_TOKEN")
  console.log("token is", token)
  return { status: 200, headers: { "X-Token": token }, body: `done with ${token}` }
}"""
TYPE_ERROR = """async function handler(req) {
  const count: number = "three"
  return { status: 200, body: String(count) }
}"""
BAD_DIRECTIVE = """// @fluxbase:cors-origins https://shop.example
// @fluxbase:rate-limit 3/year
async function handler(req) { return { status: 200 } }"""


@pytest.fixture
def headers(dashboard: DashboardClient) -> dict:
    return login(dashboard.client, ADMIN_EMAIL)


def text(response) -> str:
    return response.get_data(as_text=True)


def plain(response) -> str:
    """The page's text without its tags, as a reader sees it."""
    return html.unescape(re.sub(r"<[^>]+>", "", text(response)))


def textarea(page: str, field_id: str) -> str:
    """A textarea's content as the browser reads it (the parser drops the newline after the tag)."""
    found = re.search(rf'<textarea id="{field_id}"[^>]*>\r?\n(.*?)</textarea>', page, re.DOTALL)
    return html.unescape(found.group(1))


def marked_lines(page: str) -> list[int]:
    return [int(number) for number in re.findall(r'<span class="marked">(\d+)</span>', page)]


def functions(app) -> list[tuple[str, str, int, str]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(EdgeFunction.namespace, EdgeFunction.name, EdgeFunction.version, EdgeFunction.code)
            .execution_options(all_tenants=True)
            .order_by(EdgeFunction.name)
        )
        return [tuple(row) for row in rows]


def executions() -> int:
    query = sa.select(sa.func.count()).select_from(FunctionExecution).execution_options(all_tenants=True)
    return db.session.scalar(query)


def create(dashboard: DashboardClient, name: str, code: str, namespace: str = ""):
    return dashboard.post(f"{PAGE}new", {"name": name, "namespace": namespace, "code": code}, token_from=f"{PAGE}new")


def test_a_function_is_created_from_the_page_with_line_feeds(app, dashboard):
    page = dashboard.client.get(f"{PAGE}new")
    assert page.status_code == 200 and 'id="code"' in text(page)
    assert 'href="/dashboard/functions/new"' in text(dashboard.client.get(PAGE))
    answer = create(dashboard, "hello", HELLO.replace("\n", "\r\n"), "shop")
    assert (answer.status_code, answer.location) == (302, f"{PAGE}shop/hello")
    assert functions(app) == [("shop", "hello", 1, HELLO)]
    shown = dashboard.client.get(f"{PAGE}shop/hello")
    assert "Created “hello” in namespace shop; its code is version 1." in text(shown)
    assert textarea(text(shown), "code") == HELLO
    assert text(shown).count("<span>") >= 4 and marked_lines(text(shown)) == []


@pytest.mark.parametrize(
    ("fields", "status", "shown"),
    [
        ({"name": "bad name!", "code": HELLO}, 400, "must be 1 to 64 letters"),
        ({"name": "shared", "code": HELLO}, 400, "is reserved"),
        ({"name": "ok", "code": "   "}, 400, "must hold JavaScript or TypeScript source"),
        ({"name": "ok", "namespace": "a/b", "code": HELLO}, 400, "Namespace: must be 1 to 64"),
        ({"name": "ok", "code": "x" * (1024 * 1024 + 1)}, 413, "at most 1048576 (1 MB)"),
    ],
)
def test_a_refused_new_function_keeps_what_was_typed_and_stores_nothing(app, dashboard, fields, status, shown):
    answer = dashboard.post(f"{PAGE}new", fields, token_from=f"{PAGE}new")
    assert answer.status_code == status
    assert shown in html.unescape(text(answer))
    if len(fields["code"]) < 1000:
        assert textarea(text(answer), "code") == fields["code"]
    assert functions(app) == []


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        (TYPE_ERROR, "Line 2, column 9: TS2322 [ERROR]: Type 'string' is not assignable to type 'number'."),
        (BAD_DIRECTIVE, "Line 2: @fluxbase:rate-limit takes N/min, N/hour or N/day"),
    ],
)
def test_compile_and_directive_errors_are_shown_at_their_line(app, dashboard, code, shown):
    answer = create(dashboard, "typed", code)
    assert (answer.status_code, shown in plain(answer)) == (400, True)
    assert marked_lines(text(answer)) == [2] and 'aria-invalid="true"' in text(answer)
    assert textarea(text(answer), "code") == code
    assert functions(app) == []


def test_a_name_taken_is_refused_with_409_and_the_code_kept(app, dashboard):
    assert create(dashboard, "hello", HELLO).status_code == 302
    answer = create(dashboard, "hello", "async function handler() { return { status: 204 } }")
    assert answer.status_code == 409 and "already exists" in text(answer)
    assert textarea(text(answer), "code").startswith("async function handler() {")
    assert marked_lines(text(answer)) == [] and "code-problem" not in text(answer)
    assert functions(app) == [("default", "hello", 1, HELLO)]


def test_forms_without_the_csrf_token_store_nothing(app, dashboard):
    assert create(dashboard, "hello", HELLO).status_code == 302
    client = dashboard.client
    for path, data in (
        (f"{PAGE}new", {"name": "other", "code": HELLO}),
        (f"{PAGE}default/hello/code", {"code": TYPE_ERROR}),
        (f"{PAGE}default/hello/invoke", {"method": "POST", "body": "x"}),
        (MODULES, {"module_path": "a.ts", "content": "export const a = 1"}),
    ):
        answer = client.post(path, data=data)
        assert (answer.status_code, "The CSRF token is missing." in text(answer)) == (400, True), path
    assert functions(app) == [("default", "hello", 1, HELLO)]
    with app.app_context():
        assert executions() == 0
    assert "No shared modules yet." in text(client.get(MODULES))


def test_saving_code_stores_a_version_and_a_refusal_keeps_the_typed_code(app, dashboard, headers):
    assert create(dashboard, "hello", HELLO).status_code == 302
    detail = f"{PAGE}default/hello"
    second = HELLO.replace("hi ", "hello ")
    answer = dashboard.post(f"{detail}/code", {"code": second.replace("\n", "\r\n")}, token_from=detail)
    assert (answer.status_code, answer.location) == (302, detail)
    assert "Saved the code of “hello” in namespace default as version 2." in text(dashboard.client.get(detail))
    unchanged = dashboard.post(f"{detail}/code", {"code": second}, token_from=detail)
    assert unchanged.status_code == 302
    assert "is unchanged; it is still version 2." in text(dashboard.client.get(detail))
    versions = dashboard.client.get(f"{API}/hello/versions?code=1", headers=headers).json
    assert [(version["version"], version["code"]) for version in versions] == [(2, second), (1, HELLO)]

    refused = dashboard.post(f"{detail}/code", {"code": TYPE_ERROR}, token_from=detail)
    assert refused.status_code == 400
    assert textarea(text(refused), "code") == TYPE_ERROR and marked_lines(text(refused)) == [2]
    assert "Code of version 2" in text(refused)
    empty = dashboard.post(f"{detail}/code", {"code": ""}, token_from=detail)
    assert empty.status_code == 400 and "must hold JavaScript or TypeScript source" in text(empty)
    directive = dashboard.post(f"{detail}/code", {"code": BAD_DIRECTIVE}, token_from=detail)
    assert directive.status_code == 400 and marked_lines(text(directive)) == [2]
    assert functions(app) == [("default", "hello", 2, second)]

    missing = dashboard.post(f"{PAGE}default/nope/code", {"code": HELLO}, token_from=detail)
    assert missing.status_code == 404 and "function &#39;nope&#39; not found" in text(missing)
    assert "Filter functions" in text(missing)


def test_directives_in_effect_and_their_sources(app, dashboard, headers):
    code = "// @fluxbase:cors-origins https://shop.example\n// @fluxbase:public false\n" + HELLO
    body = {"name": "hello", "code": code, "rate_limit": "30/hour"}
    assert dashboard.client.post(API, json=body, headers=headers).status_code == 201
    page = text(dashboard.client.get(f"{PAGE}default/hello"))
    rows = dict(
        (name, (value, source))
        for name, value, source in re.findall(
            r'<tr data-directive="([^"]+)"><td><code>[^<]+</code></td><td>([^<]*)</td><td>(\w+)</td></tr>', page
        )
    )
    assert rows["cors-origins"] == ("https://shop.example", "annotation")
    assert rows["public"] == ("false", "annotation")
    assert rows["rate-limit"] == ("30/hour", "api")
    assert rows["allow-unauthenticated"] == ("false", "default")
    assert rows["cors-max-age"] == ("3600", "default")
    assert len(rows) == 8


def test_a_stored_bundle_error_is_shown_under_the_editor(app, dashboard):
    assert create(dashboard, "hello", HELLO).status_code == 302
    with app.app_context():
        row = db.session.scalar(sa.select(EdgeFunction).execution_options(all_tenants=True))
        row.bundle_error = "npm:left-pad could not be fetched\n    at function.ts:1:20"
        db.session.commit()
    shown = dashboard.client.get(f"{PAGE}default/hello")
    page = plain(shown)
    assert "The current version could not be bundled, so calls fail: npm:left-pad could not be fetched" in page
    assert "Line 1, column 20: npm:left-pad" not in page  # the message names no diagnostic, only the place
    assert marked_lines(text(shown)) == [1]


def test_a_test_call_shows_status_headers_body_and_masked_logs(app, dashboard, headers):
    body = {"name": "hello", "code": HELLO}
    assert dashboard.client.post(API, json=body, headers=headers).status_code == 201
    leaks = {"name": "leaks", "code": LEAKS, "env": {"API_TOKEN": SECRET}}
    assert dashboard.client.post(API, json=leaks, headers=headers).status_code == 201
    detail = f"{PAGE}default/hello"
    answer = dashboard.post(
        f"{detail}/invoke", {"method": "PUT", "body": "there", "content_type": "text/plain"}, detail
    )
    page = text(answer)
    assert answer.status_code == 200
    assert '<span id="answer-status">201</span>' in page
    assert "<code>X-Answer</code></td><td>yes</td>" in page
    assert '<pre id="answer-body" role="region" aria-label="Body of the answer" tabindex="0">hi there</pre>' in page
    assert re.search(r"info  got PUT there", page)
    assert textarea(page, "test-body") == "there"
    with app.app_context():
        (execution,) = db.session.scalars(sa.select(FunctionExecution).execution_options(all_tenants=True))
        assert (execution.trigger, execution.status_code) == ("dashboard", 201)
        assert execution.user_id is not None

    leaked = dashboard.post(f"{PAGE}default/leaks/invoke", {"method": "POST"}, f"{PAGE}default/leaks")
    assert leaked.status_code == 200 and "token is ***" in text(leaked) and "done with ***" in text(leaked)
    assert "<code>X-Token</code></td><td>***</td>" in text(leaked)
    assert SECRET not in text(leaked) and "API_TOKEN" in text(leaked)
    assert SECRET not in text(dashboard.client.get(f"{PAGE}default/leaks"))
    called = dashboard.client.post(f"{API}/leaks/invoke", headers=headers)  # the API answers as the function did
    assert (called.text, called.headers["X-Token"]) == (f"done with {SECRET}", SECRET)


def test_a_refused_test_call_shows_the_page_with_the_refusal(app, dashboard, headers):
    body = {"name": "hello", "code": HELLO, "enabled": False}
    assert dashboard.client.post(API, json=body, headers=headers).status_code == 201
    detail = f"{PAGE}default/hello"
    disabled = dashboard.post(f"{detail}/invoke", {"method": "POST", "body": "x"}, detail)
    assert disabled.status_code == 403 and "function &#39;hello&#39; is disabled" in text(disabled)
    assert textarea(text(disabled), "test-body") == "x"
    wrong = dashboard.post(f"{detail}/invoke", {"method": "TRACE", "body": "x"}, detail)
    assert wrong.status_code == 400 and "Method: " in text(wrong)
    header = dashboard.post(f"{detail}/invoke", {"method": "POST", "content_type": "a\u00e9b"}, detail)
    assert header.status_code == 400 and "Content-Type: " in text(header)
    missing = dashboard.post(f"{PAGE}default/nope/invoke", {"method": "POST"}, detail)
    assert missing.status_code == 404 and "Filter functions" in text(missing)
    with app.app_context():
        assert executions() == 0


def test_shared_modules_are_created_edited_versioned_and_deleted(app, dashboard, headers):
    client = dashboard.client
    assert "No shared modules yet." in text(client.get(MODULES))
    fields = {"module_path": "util/greet.ts", "description": "Greets", "content": "export const greet = 'hi'\r\n"}
    created = dashboard.post(MODULES, fields, token_from=MODULES)
    module_page = f"{MODULES}_shared/util/greet.ts"
    assert (created.status_code, created.location) == (302, module_page)
    page = text(client.get(module_page))
    assert "Created the shared module _shared/util/greet.ts as version 1." in page
    assert textarea(page, "module-content") == "export const greet = 'hi'\n"
    assert 'data-path="_shared/util/greet.ts"' in text(client.get(MODULES))

    changed = dashboard.post(
        module_page, {"description": "Greets", "content": "export const greet = 'hello'\n"}, module_page
    )
    assert changed.status_code == 302
    page = text(client.get(module_page))
    assert "Saved _shared/util/greet.ts as version 2." in page and "Show version 1" in page
    old = text(client.get(f"{module_page}?version=1"))
    assert "Content of version 1" in old and "export const greet = &#39;hi&#39;" in old
    stored = client.get(f"{API}/shared/_shared/util/greet.ts", headers=headers).json
    assert (stored["version"], stored["content"]) == (2, "export const greet = 'hello'\n")

    for path, data, status, shown in (
        (MODULES, {"module_path": "../x.ts", "content": "x"}, 400, "Path: must be a path such as"),
        (MODULES, {"module_path": "util/greet.ts", "content": "x"}, 409, "already exists"),
        (MODULES, {"module_path": "b.ts", "content": " "}, 400, "must hold JavaScript"),
        (module_page, {"content": ""}, 400, "must hold JavaScript"),
        (f"{MODULES}_shared/nope.ts", {"content": "x"}, 404, "not found"),
        (f"{MODULES}delete/_shared/util/greet.ts", {}, 400, "tick the box to confirm"),
    ):
        answer = dashboard.post(path, data, token_from=MODULES)
        assert (answer.status_code, shown in html.unescape(text(answer))) == (status, True), path
    assert textarea(text(dashboard.post(module_page, {"content": ""}, MODULES)), "module-content") == ""
    assert client.get(f"{module_page}?version=9").status_code == 404
    assert client.get(f"{module_page}?version=x").status_code == 400
    assert client.get(f"{MODULES}_shared/nope.ts").status_code == 404
    assert client.get(f"{MODULES}..%2Fx.ts").status_code in (400, 404)
    assert client.get(f"{API}/shared/_shared/util/greet.ts", headers=headers).json["version"] == 2

    deleted = dashboard.post(f"{MODULES}delete/_shared/util/greet.ts", {"confirm": "yes"}, MODULES)
    assert (deleted.status_code, deleted.location) == (302, MODULES)
    assert "Deleted the shared module _shared/util/greet.ts" in text(client.get(MODULES))
    assert client.get(f"{API}/shared", headers=headers).json == []


def test_the_lines_a_message_names_are_the_function_codes_only():
    message = (
        "the code does not compile:\nTS1005 [ERROR]: '}' expected.\n}\n    at function.ts:3:2\n"
        "TS1007 [ERROR]:     The parser expected to find a '}' here.\n    {\n    ^\n        at function.ts:1:29\n"
        "TS2307 [ERROR]: Cannot find name 'x'.\n    at _shared/function.ts:7:1"
    )
    found = located(message)
    assert [(problem.place, problem.text) for problem in found] == [
        ("Line 3, column 2", "TS1005 [ERROR]: '}' expected."),
        ("Line 1, column 29", "TS1007 [ERROR]: The parser expected to find a '}' here."),
    ]
    assert marked_lines_of(found) == [1, 3]
    assert [problem.place for problem in located("code: line 4: @fluxbase:public takes true or false")] == ["Line 4"]
    assert located("function 'x' was just changed by another request; try again") == []
