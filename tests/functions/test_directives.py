"""`@fluxbase:` directives: how they are read, and how they, the API and the defaults decide a function's settings."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flux.db import db
from plugins.functions.directives import AnnotationError, read
from tests.functions.conftest import BASE, HELLO, deploy

ANNOTATED = (
    """/**
 * Webhook handler with custom CORS
 *
 * @fluxbase:allow-unauthenticated
 * @fluxbase:public false
 * @fluxbase:cors-origins https://api.stripe.com, https://api.github.com
 * @fluxbase:cors-methods post,OPTIONS
 * @fluxbase:cors-headers Content-Type,X-Stripe-Signature
 * @fluxbase:cors-credentials
 * @fluxbase:cors-max-age 300
 * @fluxbase:rate-limit 100/minute
 */
"""
    + HELLO
)


def test_every_directive_of_the_seed_is_read():
    assert read(ANNOTATED) == {
        "allow_unauthenticated": True,
        "is_public": False,
        "cors_origins": ["https://api.stripe.com", "https://api.github.com"],
        "cors_methods": ["POST", "OPTIONS"],
        "cors_headers": ["Content-Type", "X-Stripe-Signature"],
        "cors_credentials": True,
        "cors_max_age": 300,
        "rate_limit": "100/min",
    }


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("// @fluxbase:rate-limit 10/day", {"rate_limit": "10/day"}),
        ("/* @fluxbase:public false */", {"is_public": False}),
        ("  /** @fluxbase:cors-max-age 0 */", {"cors_max_age": 0}),
        ("// @fluxbase:allow-unauthenticated false", {"allow_unauthenticated": False}),
        ("// @fluxbase:cors-origins *", {"cors_origins": ["*"]}),
        ("// @fluxbase:cors-origins http://localhost:5173/", {"cors_origins": ["http://localhost:5173"]}),
        # Not a comment line: a string that mentions a directive is code.
        ('const help = "use @fluxbase:rate-limit 5/min";', {}),
        ("return x // see @fluxbase:public false", {}),
    ],
)
def test_a_directive_is_the_first_thing_on_a_comment_line(line, expected):
    assert read(f"{line}\n{HELLO}") == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("// @fluxbase:rate-limit lots", "line 2: @fluxbase:rate-limit takes N/min, N/hour or N/day"),
        ("// @fluxbase:rate-limit 0/min", "N at least 1"),
        ("// @fluxbase:rate-limit 5/week", "not '5/week'"),
        ("// @fluxbase:public maybe", "line 2: @fluxbase:public takes true or false, not 'maybe'"),
        ("// @fluxbase:cors-origins app.example.com", "'app.example.com' is not a valid origin"),
        ("// @fluxbase:cors-origins", "needs at least one origin"),
        ("// @fluxbase:cors-methods GET,P OST", "'P OST' is not a valid HTTP method"),
        ("// @fluxbase:cors-headers X-Ok,Bad:Header", "'Bad:Header' is not a valid header name"),
        ("// @fluxbase:cors-max-age 86401", "0 to 86400 seconds"),
        ("// @fluxbase:cors-max-age soon", "whole seconds"),
        ("// @fluxbase:rate-limits 5/min", "line 2: unknown directive @fluxbase:rate-limits; known: allow-unauth"),
    ],
)
def test_a_malformed_directive_names_its_line(line, message):
    with pytest.raises(AnnotationError) as raised:
        read(f"// a handler\n{line}\n{HELLO}")
    assert message in str(raised.value)


def test_a_directive_given_twice_is_refused():
    with pytest.raises(AnnotationError, match="line 3: @fluxbase:public is already given on line 1"):
        read("// @fluxbase:public false\n// ok\n// @fluxbase:public true\n" + HELLO)


def test_the_stored_function_shows_each_value_and_where_it_came_from(client, admin_headers):
    created = deploy(client, admin_headers, "webhook", ANNOTATED, cors_max_age=60)
    assert created["allow_unauthenticated"] is True and created["is_public"] is False
    assert created["cors_origins"] == ["https://api.stripe.com", "https://api.github.com"]
    assert (created["cors_max_age"], created["rate_limit"], created["cors_credentials"]) == (60, "100/min", True)
    assert created["settings_sources"] == {
        "allow_unauthenticated": "annotation",
        "is_public": "annotation",
        "cors_origins": "annotation",
        "cors_methods": "annotation",
        "cors_headers": "annotation",
        "cors_credentials": "annotation",
        "cors_max_age": "api",
        "rate_limit": "annotation",
    }
    plain = deploy(client, admin_headers, "plain")
    assert set(plain["settings_sources"].values()) == {"default"}
    assert (plain["allow_unauthenticated"], plain["is_public"], plain["rate_limit"]) == (False, True, None)
    assert plain["cors_origins"] == ["*"] and plain["cors_max_age"] == 3600


def test_the_api_wins_over_the_code_and_null_hands_back_to_it(client, admin_headers, app):
    deploy(client, admin_headers, "webhook", ANNOTATED)
    changed = client.put(f"{BASE}/webhook", json={"is_public": True, "rate_limit": "5/hour"}, headers=admin_headers)
    assert changed.status_code == 200
    assert (changed.json["is_public"], changed.json["rate_limit"]) == (True, "5/hour")
    assert changed.json["settings_sources"]["is_public"] == "api"
    # New code changes what its directives decide, never what the API set.
    new_code = "// @fluxbase:public false\n// @fluxbase:rate-limit 1/day\n" + HELLO
    changed = client.put(f"{BASE}/webhook", json={"code": new_code}, headers=admin_headers).json
    assert (changed["is_public"], changed["rate_limit"], changed["allow_unauthenticated"]) == (True, "5/hour", False)
    assert changed["settings_sources"]["allow_unauthenticated"] == "default"
    dropped = client.put(f"{BASE}/webhook", json={"is_public": None, "rate_limit": None}, headers=admin_headers).json
    assert (dropped["is_public"], dropped["rate_limit"]) == (False, "1/day")
    assert dropped["settings_sources"]["is_public"] == dropped["settings_sources"]["rate_limit"] == "annotation"
    with app.app_context(), db.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT api_settings, is_public FROM functions")).one()
    assert (stored.is_public in (False, 0)) and stored.api_settings in ("{}", {})


def test_a_malformed_directive_is_a_400_naming_the_line_and_stores_nothing(client, admin_headers):
    bad = "// @fluxbase:rate-limit 100 per minute\n" + HELLO
    refused = client.post(BASE, json={"name": "bad", "code": bad}, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "ANNOTATION_INVALID"
    assert "line 1: @fluxbase:rate-limit" in refused.json["error"]
    assert client.get(f"{BASE}/bad", headers=admin_headers).status_code == 404
    deploy(client, admin_headers, "good")
    refused = client.put(f"{BASE}/good", json={"code": bad}, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "ANNOTATION_INVALID"
    assert client.get(f"{BASE}/good", headers=admin_headers).json["version"] == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cors_origins", ["ftp//x"]),
        ("cors_methods", "GET;POST"),
        ("cors_max_age", -1),
        ("cors_max_age", "60"),
        ("rate_limit", "100"),
        ("cors_credentials", "yes"),
    ],
)
def test_api_values_are_checked_as_directives_are(client, admin_headers, field, value):
    refused = client.post(BASE, json={"name": "f", "code": HELLO, field: value}, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "INVALID_FIELD"
    assert refused.json["details"][0]["loc"][-1] == field


def test_lists_take_text_or_arrays(client, admin_headers):
    created = deploy(client, admin_headers, "f", cors_origins="https://a.example, https://b.example:8443")
    assert created["cors_origins"] == ["https://a.example", "https://b.example:8443"]
    changed = client.put(f"{BASE}/f", json={"cors_headers": ["X-One", "x-two"]}, headers=admin_headers).json
    assert changed["cors_headers"] == ["X-One", "x-two"]


def test_server_defaults_apply_where_neither_the_api_nor_the_code_says(make_app, deno_dir):
    app = make_app(
        FUNCTIONS_DENO_DIR=str(deno_dir),
        CORS_ALLOWED_ORIGINS=["https://one.example"],
        CORS_ALLOW_CREDENTIALS=True,
        CORS_MAX_AGE=120,
    )
    client = app.test_client()
    from tests.conftest import AuthActions

    headers = AuthActions.bearer(AuthActions(client).setup_admin())
    created = deploy(client, headers, "f", "// @fluxbase:cors-max-age 30\n" + HELLO)
    assert created["cors_origins"] == ["https://one.example"] and created["cors_credentials"] is True
    assert created["cors_max_age"] == 30


def test_a_bad_server_default_stops_start_up(make_app):
    from flux.config import ConfigError

    with pytest.raises(ConfigError, match="CORS_ALLOWED_ORIGINS"):
        make_app(CORS_ALLOWED_ORIGINS=["app.example.com"])


def test_rollback_reads_the_old_codes_directives(client, admin_headers):
    deploy(client, admin_headers, "f", "// @fluxbase:rate-limit 3/min\n" + HELLO)
    client.put(f"{BASE}/f", json={"code": HELLO}, headers=admin_headers)
    assert client.get(f"{BASE}/f", headers=admin_headers).json["rate_limit"] is None
    rolled = client.post(f"{BASE}/f/rollback/1", headers=admin_headers)
    assert rolled.status_code == 200 and rolled.json["rate_limit"] == "3/min" and rolled.json["version"] == 3


def test_public_false_in_the_code_hides_the_function_from_anonymous_listings(client, admin_headers):
    deploy(client, admin_headers, "hidden", "// @fluxbase:public false\n" + HELLO)
    deploy(client, admin_headers, "shown")
    assert [f["name"] for f in client.get(BASE).json] == ["shown"]
    assert client.get(f"{BASE}/hidden").status_code == 404
    assert {f["name"] for f in client.get(BASE, headers=admin_headers).json} == {"hidden", "shown"}
