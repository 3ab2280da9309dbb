"""Feature flags in functions: the `flags` object, evaluated per caller, asked of the plugins only when touched."""

from __future__ import annotations

from typing import Any

import pytest

from flux import hookimpl
from flux.tenancy import default_tenant_id
from plugins.functions.invocation_flags import MAX_FLAGS_BYTES
from tests.functions.conftest import BASE, call, deploy, warm_workers

READS_FLAGS = """async function handler(req) {
  return { enabled: flags.isEnabled("k"), value: flags.get("v", "fallback"), missing: flags.get("nope", 7),
           user: req.user_id ?? null };
}"""
READS_OFTEN = """async function handler(req) {
  let enabled = 0;
  for (let i = 0; i < 50; i++) if (flags.isEnabled("k") && flags.get("v") !== undefined) enabled++;
  return { enabled };
}"""


class FlagSource:
    """A flags plugin that answers from the evaluation context, or with `answer` when set, and counts its calls."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []
        self.answer: dict[str, Any] | None = None

    @hookimpl
    def collect_invocation_flags(self, tenant_id, context):
        self.contexts.append(context)
        if self.answer is not None:
            return self.answer
        if "targetingKey" not in context:
            return {"k": "yes"}  # truthy, yet not `true`: not enabled
        return {"k": True, "v": context["targetingKey"]}


@pytest.fixture
def source(app) -> FlagSource:
    source = FlagSource()
    app.extensions["flux"].plugins.register(source)
    return source


def test_each_app_user_gets_flags_evaluated_for_them(app, client, auth, admin_headers, source):
    deploy(client, admin_headers, "flagged", code=READS_FLAGS)
    ada, bo = (auth.bearer(auth.signup(email)) for email in ("ada@example.com", "bo@example.com"))
    as_ada, as_bo = call(client, "flagged", ada).json, call(client, "flagged", bo).json
    assert as_ada == {"enabled": True, "value": as_ada["user"], "missing": 7, "user": as_ada["user"]}
    assert as_bo["value"] == as_bo["user"] != as_ada["user"]
    with app.app_context():
        tenant_id = default_tenant_id()
    assert source.contexts[0] == {
        "targetingKey": as_ada["user"],
        "user_id": as_ada["user"],
        "email": "ada@example.com",
        "role": "authenticated",
        "tenant_id": tenant_id,
        "function": "flagged",
        "namespace": "default",
    }


def test_callers_other_than_app_users_have_no_targeting_key(app, client, admin_headers, source):
    deploy(client, admin_headers, "open-flags", code=READS_FLAGS, allow_unauthenticated=True)
    anonymous = call(client, "open-flags").json
    assert anonymous == {"enabled": False, "value": "fallback", "missing": 7, "user": None}
    with app.app_context():
        tenant_id = default_tenant_id()
    assert source.contexts[-1] == {
        "role": "anon",
        "tenant_id": tenant_id,
        "function": "open-flags",
        "namespace": "default",
    }
    call(client, "open-flags", admin_headers)  # a dashboard account: known, but not an app user
    assert "targetingKey" not in source.contexts[-1] and source.contexts[-1]["user_id"]


def test_flags_are_asked_for_only_when_touched_and_once_per_call(client, admin_headers, auth, source):
    deploy(client, admin_headers, "plain")
    deploy(client, admin_headers, "often", code=READS_OFTEN)
    user = auth.bearer(auth.signup("ada@example.com"))
    assert call(client, "plain", user).json == {"message": "Hello World!"}
    assert source.contexts == []  # never touched: never evaluated
    assert call(client, "often", user).json == {"enabled": 50}
    assert len(source.contexts) == 1
    assert call(client, "often", user).json == {"enabled": 50}
    assert len(source.contexts) == 2


def test_flags_are_not_kept_across_calls(app, client, admin_headers, source):
    deploy(client, admin_headers, "flagged", code=READS_FLAGS)
    source.answer = {"k": True, "v": "first"}
    assert call(client, "flagged", admin_headers).json["value"] == "first"
    source.answer = {"k": False, "v": "second"}
    second = call(client, "flagged", admin_headers).json
    assert (second["enabled"], second["value"]) == (False, "second")
    assert warm_workers(app) == 1  # the same warm process answered both


def test_flags_over_the_size_bound_reach_the_function_as_none(client, admin_headers, source):
    deploy(client, admin_headers, "flagged", code=READS_FLAGS)
    source.answer = {"k": True, "v": "x" * MAX_FLAGS_BYTES}
    answer = call(client, "flagged", admin_headers)
    assert answer.status_code == 200
    assert answer.json == {"enabled": False, "value": "fallback", "missing": 7, "user": answer.json["user"]}
    logs = client.get(f"{BASE}/flagged/logs", headers=admin_headers).json
    assert [line["level"] for line in logs] == ["error"]
    assert "the limit is 1048576 bytes (1 MiB): the function got no flags" in logs[0]["message"]


def test_the_type_check_knows_flags(client, admin_headers):
    typed = """export default async function handler(req: Request) {
  const on: boolean = flags.isEnabled("x");
  const limit: number = flags.get("x", 1);
  return { on, limit };
}"""
    deploy(client, admin_headers, "typed", code=typed)
    refused = client.post(BASE, json={"name": "wrong", "code": 'flags.enable("x")'}, headers=admin_headers)
    assert (refused.status_code, refused.json["code"]) == (400, "CODE_INVALID")
    assert "enable" in refused.json["error"]
