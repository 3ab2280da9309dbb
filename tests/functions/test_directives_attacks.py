"""Attacks on `@fluxbase:` directives, the invoke routes' own CORS and per-function rate limits.

Tests marked "FOUND" failed on the first version (1ba61e9), each naming the defect that
was then fixed; the others are attacks that held from the start.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flux.db import db
from plugins.functions.directives import AnnotationError, origins, read
from tests.conftest import create_tenant
from tests.functions.conftest import BASE, HELLO, call, deploy
from tests.functions.test_invoke_cors import executions

APP, EVIL = "https://app.example.com", "https://evil.example"
ACME_APP = "https://app.acme.example"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
OPEN = "// @fluxbase:allow-unauthenticated\n" + HELLO


def cors_headers(response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.lower().startswith("access-control-")}


# --- Directive parsing -------------------------------------------------------------------------


# FOUND (medium-low): text inside a JS string is read as a directive. `read` splits with
# `str.splitlines`, so a line of a multi-line template literal that starts with `//` or `*`
# is taken for a comment line, and so is text after a form feed (U+000C), NEL (U+0085) or
# the other separators Python splits on but JavaScript does not (inside a one-line string).
# The module's own docstring says "a string that mentions `@fluxbase:` is code, not a
# directive"; here a string opens the function to anonymous callers.
@pytest.mark.parametrize(
    "code",
    [
        # A scaffolding function that returns another function's source.
        "const template = `\n// @fluxbase:allow-unauthenticated\nasync function handler(req) {}\n`\n" + HELLO,
        "const docs = `Usage:\n * @fluxbase:allow-unauthenticated\n`\n" + HELLO,
        'const s = "x\x0c// @fluxbase:allow-unauthenticated\x0c"\n' + HELLO,
        'const s = "x\x85// @fluxbase:allow-unauthenticated\x85"\n' + HELLO,
        'const s = "x\x1e// @fluxbase:allow-unauthenticated\x1e"\n' + HELLO,
    ],
    ids=["template-literal-slashes", "template-literal-star", "form-feed", "nel", "record-separator"],
)
def test_text_inside_a_string_is_not_a_directive(code):
    assert read(code) == {}


# FOUND (low): a directive on a block-comment line without a leading `*` is silently
# ignored, so `public false` or a rate limit the author wrote does not apply, with no
# error ("a typo never passes silently for a default" does not hold here).
@pytest.mark.parametrize(
    "code",
    [
        "/*\n  @fluxbase:rate-limit 5/min\n*/\n" + HELLO,
        "/**\n@fluxbase:rate-limit 5/min\n */\n" + HELLO,
    ],
    ids=["indented", "unindented"],
)
def test_a_directive_in_a_block_comment_without_a_star_is_read_or_refused(code):
    try:
        found = read(code)
    except AnnotationError:
        return
    assert found == {"rate_limit": "5/min"}


# FOUND (low): two one-line block comments on a line: the second directive is silently dropped.
def test_a_second_directive_on_one_line_is_read_or_refused():
    code = "/* @fluxbase:public false */ /* @fluxbase:rate-limit 1/min */\n" + HELLO
    try:
        found = read(code)
    except AnnotationError:
        return
    assert found == {"is_public": False, "rate_limit": "1/min"}


# FOUND (low): origins no browser ever sends are accepted and then never match, so the
# function is silently unreachable from that site: browsers serialise an origin with a
# lower-case scheme and host, without a default port, without userinfo, with an IDNA
# (punycode) host and a numeric port. Either refuse them or normalise them.
@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("HTTPS://app.example.com", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("https://user@app.example.com", "https://app.example.com"),
        ("https://app.example.com:port", None),
        ("https://b\u00fccher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_an_origin_is_refused_or_normalised_to_what_browsers_send(given, sent):
    try:
        normalised = origins(given)
    except ValueError:
        return
    assert normalised == [sent]


def test_pathological_directive_lines_are_read_in_linear_time():
    """Held: no catastrophic backtracking on 1 MB lines."""
    import time

    lines = [
        "// @fluxbase:cors-origins https://" + "a" * 1_000_000 + "/x",
        "*" * 1_000_000 + " @fluxbase:x",
        " \t" * 500_000 + "@fluxbase:x",
        "// @fluxbase:cors-headers " + "," * 1_000_000,
        "// @fluxbase:rate-limit " + "1" * 1_000_000,
    ]
    for line in lines:
        started = time.monotonic()
        try:
            read(line)
        except AnnotationError:
            pass
        assert time.monotonic() - started < 1


def test_crlf_cr_and_unicode_line_separators_end_a_directive():
    """Held: the value ends at the line's end, whatever the line terminator."""
    for newline in ("\r\n", "\r", "\u2028", "\u2029"):
        assert read(f"// @fluxbase:public false{newline}{HELLO}") == {"is_public": False}


# --- CORS of invoke routes ---------------------------------------------------------------------


# FOUND (medium): a preflight is always looked up in the default tenant. A browser's
# preflight never carries `X-FB-Tenant` nor the token, so for a function of another
# tenant the default tenant's function of the same name decides: acme's own allowed
# origin is refused, and the default tenant's origin is allowed for acme's function.
def test_a_preflight_for_another_tenants_function_is_not_decided_by_the_default_tenants(app, client, admin_headers):
    create_tenant(app, "acme")
    acme = {**admin_headers, "X-FB-Tenant": "acme"}
    deploy(client, acme, "hook", f"// @fluxbase:cors-origins {ACME_APP}\n" + OPEN)
    deploy(client, admin_headers, "hook", "// @fluxbase:cors-origins https://default.example\n" + OPEN)
    # The real request is answered right: acme's function allows its own site.
    real = call(client, "hook", headers={"Origin": ACME_APP, "X-FB-Tenant": "acme"})
    assert real.status_code == 200 and real.headers["Access-Control-Allow-Origin"] == ACME_APP
    # But the browser never gets there: `X-FB-Tenant` is not a safelisted header, so it preflights first.
    preflight = call(
        client,
        "hook",
        method="OPTIONS",
        headers={
            "Origin": ACME_APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-fb-tenant",
        },
    )
    assert preflight.headers.get("Access-Control-Allow-Origin") == ACME_APP


# FOUND (medium): and when the default tenant has no function of that name, the
# server-wide defaults (any origin, every method) answer the preflight of another
# tenant's function that allows one origin and one method: "an origin that is not
# allowed gets no Access-Control-Allow-Origin" does not hold for non-default tenants.
def test_a_preflight_for_another_tenants_restricted_function_does_not_fall_back_to_the_defaults(
    app, client, admin_headers
):
    create_tenant(app, "acme")
    acme = {**admin_headers, "X-FB-Tenant": "acme"}
    code = f"// @fluxbase:cors-origins {ACME_APP}\n// @fluxbase:cors-methods POST\n" + OPEN
    deploy(client, acme, "restricted", code)
    preflight = call(
        client,
        "restricted",
        method="OPTIONS",
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "x-fb-tenant",
        },
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "DELETE" not in preflight.headers.get("Access-Control-Allow-Methods", "")


# FOUND (low-medium): `cors-headers *` without credentials answers
# `Access-Control-Allow-Headers: *`, and by the Fetch standard that wildcard never
# covers `Authorization`: every browser call with a token (any function that is not
# `allow-unauthenticated`) fails its preflight. The server must name `Authorization`.
def test_wildcard_cors_headers_still_allow_the_authorization_header(client, admin_headers):
    deploy(client, admin_headers, "f", "// @fluxbase:cors-headers *\n" + HELLO)
    preflight = call(
        client,
        "f",
        method="OPTIONS",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    allowed = [name.strip().lower() for name in preflight.headers.get("Access-Control-Allow-Headers", "").split(",")]
    assert "authorization" in allowed


# FOUND (low): the default `CORS_ALLOWED_METHODS` (and any `cors-methods`) lets a
# preflight allow PUT, PATCH and DELETE, which the invoke route then answers 405: the
# preflight promises what the route refuses.
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_method_a_preflight_allows_reaches_the_function(client, admin_headers, method):
    deploy(client, admin_headers, "f", OPEN)
    preflight = call(client, "f", method="OPTIONS", headers={"Origin": APP, "Access-Control-Request-Method": method})
    allowed = [name.strip() for name in preflight.headers.get("Access-Control-Allow-Methods", "").split(",")]
    real = call(client, "f", method=method, headers={"Origin": APP})
    assert method not in allowed or real.status_code != 405


# FOUND (low): the answer differs by `Origin`, but `Vary: Origin` is only sent when the
# request had one. A shared cache that stores a function's cacheable GET answer fetched
# without an Origin serves it, without `Access-Control-Allow-Origin`, to browsers.
def test_an_answer_varies_on_origin_even_to_a_request_without_one(client, admin_headers):
    code = """// @fluxbase:allow-unauthenticated
// @fluxbase:cors-origins https://app.example.com
async function handler(req) {
  return { status: 200, headers: { "Cache-Control": "public, max-age=600" }, body: "cacheable" }
}"""
    deploy(client, admin_headers, "cached", code)
    plain = call(client, "cached", method="GET")
    assert plain.status_code == 200 and plain.headers["Cache-Control"] == "public, max-age=600"
    assert "origin" in plain.headers.get("Vary", "").lower()


def test_a_functions_own_access_control_headers_are_dropped_in_any_case(client, admin_headers):
    """Held: several spellings of the same header are all dropped, no 500."""
    code = """// @fluxbase:allow-unauthenticated
// @fluxbase:cors-origins https://app.example.com
async function handler(req) {
  return { status: 200, body: "x", headers: { "access-control-allow-origin": "*", "ACCESS-CONTROL-ALLOW-ORIGIN": "*",
    "Access-Control-Allow-Credentials": "true", "access-control-expose-headers": "X-Secret", "Vary": "Accept" } }
}"""
    deploy(client, admin_headers, "f", code)
    refused = call(client, "f", headers={"Origin": EVIL})
    assert refused.status_code == 200 and cors_headers(refused) == {}
    allowed = call(client, "f", headers={"Origin": APP})
    assert allowed.headers.getlist("Access-Control-Allow-Origin") == [APP]
    assert "X-Secret" not in allowed.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    assert {"accept", "origin"} <= {part.strip().lower() for part in allowed.headers["Vary"].split(",")}


@pytest.mark.parametrize(
    "reference",
    [
        "x" * 5000,
        "a/b/c/d",
        "%ff%fe",
        "..%2f..%2fadmin",
        "default/" + "\u202e" * 100,
        "ns/",
    ],
)
def test_odd_preflights_never_fail_and_never_run_anything(app, client, admin_headers, reference):
    """Held: a preflight for any reference is a 204 (or a routing 404/405), never a 500."""
    answer = client.open(
        f"{BASE}/{reference}/invoke?namespace=%ff",
        method="OPTIONS",
        headers={"Origin": "null", **PREFLIGHT},
    )
    assert answer.status_code in (204, 404, 405)
    assert executions(app) == 0


def test_preflights_and_options_are_never_rate_limited_nor_run(app, client, admin_headers):
    """Held: OPTIONS (with or without a preflight's headers) neither counts nor runs."""
    deploy(client, admin_headers, "once", "// @fluxbase:rate-limit 1/hour\n" + OPEN)
    for _ in range(3):
        assert call(client, "once", method="OPTIONS", headers={"Origin": APP, **PREFLIGHT}).status_code == 204
        assert call(client, "once", method="OPTIONS", headers={"Origin": APP}).status_code == 200
        assert call(client, "once", method="OPTIONS").status_code == 200
    assert executions(app) == 0
    assert call(client, "once").status_code == 200
    limited = call(client, "once", headers={"Origin": APP})
    assert limited.status_code == 429
    # A browser may read why: the 429 carries the function's CORS and exposes Retry-After.
    assert limited.headers["Access-Control-Allow-Origin"] == APP
    assert "Retry-After" in limited.headers["Access-Control-Expose-Headers"]


# --- Rate limits -------------------------------------------------------------------------------


def test_forwarded_headers_do_not_pick_the_counted_address(client, admin_headers):
    """Held: no proxy is trusted, so X-Forwarded-For and friends cannot reset an anonymous caller's count."""
    deploy(client, admin_headers, "once", "// @fluxbase:rate-limit 1/hour\n" + OPEN)
    assert call(client, "once").status_code == 200
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded", "True-Client-IP", "CF-Connecting-IP"):
        value = "for=10.9.9.9" if header == "Forwarded" else "10.9.9.9"
        assert call(client, "once", headers={header: value}).status_code == 429


def test_refused_callers_do_not_use_up_anyone_elses_limit(client, admin_headers, service_key):
    """Held: 401s are not counted; a key and an account count apart; a huge daily limit works."""
    deploy(client, admin_headers, "once", "// @fluxbase:rate-limit 1/min\n" + HELLO)
    assert [call(client, "once").status_code for _ in range(3)] == [401, 401, 401]
    key = service_key(["functions:execute"])
    assert [call(client, "once", headers=key).status_code for _ in range(2)] == [200, 429]
    assert [call(client, "once", headers=admin_headers).status_code for _ in range(2)] == [200, 429]
    deploy(client, admin_headers, "huge", "// @fluxbase:rate-limit 999999999/day\n" + OPEN)
    answer = call(client, "huge")
    assert answer.status_code == 200 and answer.headers["X-RateLimit-Remaining"] == "999999998"


def test_same_named_functions_of_two_tenants_count_apart(app, client, admin_headers):
    """Held: the count is per function id, not per name."""
    create_tenant(app, "acme")
    code = "// @fluxbase:rate-limit 1/hour\n" + OPEN
    deploy(client, admin_headers, "once", code)
    deploy(client, {**admin_headers, "X-FB-Tenant": "acme"}, "once", code)
    assert call(client, "once").status_code == 200
    assert call(client, "once", headers={"X-FB-Tenant": "acme"}).status_code == 200
    assert call(client, "once").status_code == 429


# --- API values and rollbacks ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"cors_max_age": True},
        {"cors_max_age": 60.5},
        {"cors_max_age": 10**30},
        {"cors_origins": []},
        {"cors_origins": [None]},
        {"cors_origins": ["https://a.example\r\nSet-Cookie: x=y"]},
        {"cors_headers": ["X-A\r\nX-B"]},
        {"cors_methods": ["G\u0130T"]},
        {"cors_origins": {"https://a.example": True}},
        {"rate_limit": 5},
        {"rate_limit": "0/min"},
        {"rate_limit": "1000000000/day"},
        {"allow_unauthenticated": "true"},
        {"cors_headers": ["x"] * 51},
    ],
)
def test_bad_api_values_are_400s(client, admin_headers, body):
    """Held: every malformed value is a 400 naming the field, never a 500 nor a stored value."""
    deploy(client, admin_headers, "f", OPEN)
    refused = client.put(f"{BASE}/f", json=body, headers=admin_headers)
    assert refused.status_code == 400, refused.json


def test_rollback_to_old_code_with_a_bad_directive_is_a_400_and_changes_nothing(app, client, admin_headers):
    """Held: code stored before directives were checked (written straight to the table) cannot be rolled back to."""
    deploy(client, admin_headers, "f", OPEN)
    client.put(f"{BASE}/f", json={"code": OPEN + "\n// v2"}, headers=admin_headers)
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE function_versions SET code = :code WHERE version = 1"),
            {"code": "// @fluxbase:no-such-thing\n" + HELLO},
        )
    refused = client.post(f"{BASE}/f/rollback/1", headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "ANNOTATION_INVALID"
    stored = client.get(f"{BASE}/f", headers=admin_headers).json
    assert stored["version"] == 2 and stored["allow_unauthenticated"] is True


def test_the_dashboard_escapes_directive_values(client, dashboard):
    """Held: an origin may carry `<`, `>` and quotes (the host part only excludes `/`, `,`, `?`, `#` and
    spaces); the detail page escapes them."""
    from tests.conftest import ADMIN_EMAIL, login

    code = "// @fluxbase:cors-origins https://<b>x<b>\"'\n" + HELLO
    deploy(client, login(client, ADMIN_EMAIL), "f", code)
    page = dashboard.client.get("/dashboard/functions/default/f")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "https://&lt;b&gt;x&lt;b&gt;" in text and "<b>x<b>" not in text


# FOUND (low, operator): `check_defaults` skips every boolean, not only
# CORS_ALLOW_CREDENTIALS's, and expects text for the flag: a wrong type in
# `instance/config.py` passes start-up and then 500s every function save and invoke
# (`CORS_ALLOWED_ORIGINS = True`), sends `Access-Control-Max-Age: True`, or stops
# start-up with an AttributeError instead of a ConfigError naming the setting.
@pytest.mark.parametrize(
    "config",
    [
        {"CORS_ALLOWED_ORIGINS": True},
        {"CORS_ALLOWED_METHODS": False},
        {"CORS_MAX_AGE": True},
        {"CORS_ALLOW_CREDENTIALS": 1},
    ],
    ids=["origins-bool", "methods-bool", "max-age-bool", "credentials-int"],
)
def test_a_cors_default_of_the_wrong_type_stops_start_up_with_a_config_error(make_app, deno_dir, config):
    from flux.config import ConfigError

    with pytest.raises(ConfigError):
        app = make_app(FUNCTIONS_DENO_DIR=str(deno_dir), **config)
        if app.extensions["functions"]["runtime"] is not None:
            app.extensions["functions"]["runtime"].close()
