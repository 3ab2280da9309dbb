"""Isolation, proven: two tenants with data in every tenant-owned table, and every read route of every plugin.

One app per module, populated once through the API: tenants `alpha` and `bravo` get the
same kinds of rows (app users, sessions, a sign-in lockout, service keys and their
events, system and user settings and secrets, function secrets with versions, functions
with versions and executions, audit events, memberships, tenant settings in the
key-value store), every name and value carrying the tenant's slug. Each tenant has five
callers: an instance admin naming it in `X-FB-Tenant`, a tenant admin, a service key
with every scope, an app user and an anonymous caller naming it.

The checks are symmetric: whatever a caller of one tenant reads (every GET route of
`app.url_map` under `/api/v1`, lists as they are, gets with the owner's ids and names)
the same kind of caller of the other tenant must not, and each side's own data must
be there for the check to count. The module's tests run in order: the last one deletes
`alpha` for good.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from flux import create_app
from flux.auth.models import PlatformAccount
from flux.db import db
from flux.tenancy import TenantScoped
from tests.conftest import BACKEND, SETUP_TOKEN, TEST_PLUGIN, AuthActions, new_postgres_database
from tests.dashboard.test_pages import add_account
from tests.functions.conftest import BASE as FUNCTIONS
from tests.functions.conftest import call, deploy
from tests.secrets.conftest import BASE as SECRETS
from tests.secrets.conftest import add
from tests.settings.conftest import ADMIN_SECRETS, PUBLIC, add_secret, add_system, put
from tests.test_tenancy import login

pytestmark = pytest.mark.deno
SLUGS = ("alpha", "bravo")
KINDS = ("instance_admin", "tenant_admin", "service_key", "app_user", "anonymous")
TENANTS = "/api/v1/admin/tenants"
KEYS = "/api/v1/admin/service-keys"
# Tables that hold a tenant's id under another name than `tenant_id`.
OTHER_TENANT_COLUMNS = {"signin_lockouts": "scope"}
# GET routes that hold no tenant's data: they answer the same whoever asks.
NO_TENANT_DATA = {
    "api_docs.docs_page",
    "api_docs.static",
    "api_docs.openapi_document",
    "my_plugin.boom",
    "my_plugin.page",
}
# Routes that act in no tenant: they answer whichever tenant the caller names, deleted ones too.
TENANTLESS = {"auth.auth_config", "admin_auth.setup_status", "core.list_plugins", "admin_auth.me"}
LISTS_WITHOUT_TENANT_DATA = (TENANTLESS - {"admin_auth.me"}) | {  # me shows the caller's own dashboard account
    "secrets.secret_stats",  # counts only: test_counts_are_per_tenant
    "tenants.list_deleted_tenants",  # none is deleted yet
    "tenant_settings.feature_flags",  # the declared flags' on/off only: tests/flags/test_settings_api.py
}
# Gets whose parameter is a name every tenant shares (a settings category): each tenant reads its own values.
SHARED_NAMES = {"tenant_settings.get_category"}
# A deleted tenant's service key still authenticates where no tenant is resolved: test_a_deleted_tenants_key_…
OPEN_WHEN_DELETED = {("service_key", "tenants.list_tenants")}
# Instance admins manage every tenant: the tenant routes answer them whichever tenant they act in.
INSTANCE_WIDE = "tenants."
REPORT = """async function handler(req) {
  const names = JSON.parse(req.body || "{}").names ?? [];
  const found = {};
  for (const name of names) found[name] = secrets.get(name) ?? null;
  return { status: 200, headers: { "Content-Type": "application/json" },
           body: JSON.stringify({ env: Deno.env.toObject(), secrets: found }) };
}"""


@dataclass
class Side:
    """One tenant's callers, what it stored, and the strings that betray its data in an answer."""

    slug: str
    id: str = ""
    callers: dict[str, dict] = field(default_factory=dict)
    params: dict[str, list[str]] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # name a function reads -> value it must get

    def shows(self, text: str) -> bool:
        return self.slug in text.lower() or self.id in text


@dataclass
class World:
    app: object
    client: object
    admin: dict
    sides: dict[str, Side]

    def pairs(self) -> Iterator[tuple[Side, Side]]:
        alpha, bravo = self.sides["alpha"], self.sides["bravo"]
        yield from ((alpha, bravo), (bravo, alpha))


def ok(response, status: int = 200) -> dict | list:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    return response.json


def new_key(client, headers: dict, name: str) -> dict:
    """A service key with every scope, of the tenant `headers` act in."""
    return ok(client.post(KEYS, json={"name": name, "scopes": ["*"]}, headers=headers), 201)


def populate(app, client, auth: AuthActions, admin: dict, slug: str) -> Side:
    """A tenant and a row of every tenant-owned kind, through the API (the dashboard account alone directly)."""
    side = Side(slug, ok(client.post(TENANTS, json={"slug": slug, "name": slug.title()}, headers=admin), 201)["id"])
    upper = slug.upper()
    as_admin = {**admin, "X-FB-Tenant": slug}
    # A dashboard account made the tenant's admin (a membership); its sign-in is a session of the tenant.
    add_account(app, f"admin@{slug}.example")
    with app.app_context():
        account_id = db.session.scalar(
            sa.select(PlatformAccount.id).where(PlatformAccount.email == f"admin@{slug}.example")
        )
    ok(client.post(f"{TENANTS}/{slug}/admins", json={"user_id": account_id}, headers=as_admin), 201)
    # Service keys: one with every scope, one rotated (a key event).
    key, old = (new_key(client, as_admin, f"{slug}-{name}") for name in ("key", "old"))
    ok(client.post(f"{KEYS}/{old['id']}/rotate", json={}, headers=as_admin), 201)
    # An app user (with a session), and a failed sign-in (a lockout row of the tenant).
    user = auth.bearer(auth.signup(f"user@{slug}.example", tenant=slug))
    wrong = {"email": f"user@{slug}.example", "password": "not the password"}
    ok(client.post("/api/v1/auth/signin", json=wrong, headers={"X-FB-Tenant": slug}), 401)
    side.callers = {
        "instance_admin": as_admin,
        "tenant_admin": login(client, f"admin@{slug}.example"),
        "service_key": {"X-Service-Key": key["key"]},
        "app_user": user,
        "anonymous": {"X-FB-Tenant": slug},
    }
    # Settings: system (public and private), a system secret, a user setting and a user secret.
    add_system(client, as_admin, f"{slug}.brand", f"{slug}-brand", is_public=True)
    add_system(client, as_admin, f"{slug}.private", f"{slug}-private")
    add_secret(client, as_admin, f"{slug}.system_secret", f"{slug}-system-secret", base=ADMIN_SECRETS)
    put(client, user, f"{slug}.theme", f"{slug}-theme")
    add_secret(client, user, f"{slug}.token", f"{slug}-user-secret")
    # Function secrets, one with a second version, one whose name both tenants use.
    secret = add(client, as_admin, f"{upper}_FN_SECRET", f"{slug}-fn-secret-v1")
    ok(client.put(f"{SECRETS}/{secret['id']}", json={"value": f"{slug}-fn-secret"}, headers=as_admin))
    add(client, as_admin, "SHARED_SECRET", f"{slug}-shared-secret")
    # A function with its own env, in a second version, run once (an execution).
    env = {f"{upper}_OWN_ENV": f"{slug}-own-env"}
    name = f"{slug}-report"
    deploy(
        client,
        as_admin,
        name,
        code=REPORT,
        env=env,
        permissions={"env": True},
        is_public=True,
        allow_unauthenticated=True,
    )
    ok(client.put(f"{FUNCTIONS}/{name}", json={"description": f"{slug} report"}, headers=as_admin))
    ok(call(client, name, user, json={}))
    # A shared module in a second version.
    module = {"module_path": f"_shared/{slug}.ts", "content": f"export const owner = '{slug}-v1'"}
    ok(client.post(f"{FUNCTIONS}/shared", json=module, headers=as_admin), 201)
    second = {"content": f"export const owner = '{slug}'"}
    ok(client.put(f"{FUNCTIONS}/shared/_shared/{slug}.ts", json=second, headers=as_admin))
    # A function in a namespace named after the tenant (the namespaces list shows it), bundled with that module.
    deploy(client, as_admin, "tool", code=f'import {{ owner }} from "_shared/{slug}.ts";\n{REPORT}', namespace=slug)
    # Tenant settings, in the key-value store (audited in the tenant, as everything above).
    change = {"settings": {"branding.company_name": f"{slug} corp"}}
    ok(client.patch(f"{TENANTS}/{slug}/settings", json=change, headers=as_admin))
    # A segment and a custom flag that names it, in the same key-value namespace as the flags' switches.
    segment = {"key": f"{slug}-seg", "conditions": [{"attribute": "plan", "operator": "equals", "value": slug}]}
    ok(client.post("/api/v1/admin/segments", json=segment, headers=as_admin), 201)
    rule = {"conditions": [{"operator": "in_segment", "value": f"{slug}-seg"}], "variant": "off"}
    ok(client.post("/api/v1/admin/flags", json={"key": f"{slug}-flag", "rules": [rule]}, headers=as_admin), 201)
    side.secrets = {
        f"{upper}_FN_SECRET": f"{slug}-fn-secret",
        "SHARED_SECRET": f"{slug}-shared-secret",
        f"FLUXBASE_SECRET_{upper}_FN_SECRET": f"{slug}-fn-secret",
        f"{upper}_OWN_ENV": f"{slug}-own-env",
        f"{slug}.system_secret": f"{slug}-system-secret",
        f"{slug}.token": f"{slug}-user-secret",
    }
    # Path parameters that name this tenant's rows, by parameter name.
    setting_keys = [f"{slug}.{key}" for key in ("brand", "private", "system_secret", "theme", "token")]
    side.params = {
        "name": [name, f"{upper}_FN_SECRET"],
        "reference": [name, f"default/{name}"],
        "key_id": [key["id"], old["id"]],
        "secret_id": [secret["id"]],
        "key": [*setting_keys, "branding.company_name", f"{slug}-flag", f"{slug}-seg"],
        "id": [side.id, slug],
        "category": ["branding"],
        "module_path": [f"_shared/{slug}.ts", f"{slug}.ts"],
    }
    return side


@pytest.fixture(scope="module")
def world(tmp_path_factory, templates) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(new_postgres_database("flux_iso")) if BACKEND == "postgresql" else ""
        folder = tmp_path_factory.mktemp("isolation")
        app = create_app(
            {
                "TESTING": True,
                "INSTANCE_PATH": str(folder / "instance"),
                "DATABASE_URL": url,
                "SECURITY_SETUP_TOKEN": SETUP_TOKEN,
                "AUTH_PASSWORD_HASH_METHOD": "scrypt:4096:8:1",
                "PLUGINS": [TEST_PLUGIN],
                "FUNCTIONS_DENO_DIR": str(folder / "deno"),
            }
        )
        templates.migrate(app)
        client = app.test_client()
        auth = AuthActions(client)
        admin = auth.bearer(auth.setup_admin())
        sides = {slug: populate(app, client, auth, admin, slug) for slug in SLUGS}
        yield World(app, client, admin, sides)
        runtime = app.extensions["functions"]["runtime"]
        if runtime is not None:
            runtime.close()
        with app.app_context():
            db.engine.dispose()


# --- what the database holds ------------------------------------------------------------------


def tenant_columns(app) -> dict[str, str]:
    """Every table that holds a tenant's id (in the database or the loaded models), and the column holding it."""
    with app.app_context():
        inspector = sa.inspect(db.engine)
        found = {
            table: "tenant_id"
            for table in inspector.get_table_names()
            if "tenant_id" in {column["name"] for column in inspector.get_columns(table)}
        }
    found.update((table.name, "tenant_id") for table in db.metadata.sorted_tables if "tenant_id" in table.c)
    scoped = {m.local_table.name for m in db.Model.registry.mappers if issubclass(m.class_, TenantScoped)}
    assert scoped <= found.keys(), f"tenant-scoped models without a tenant_id column: {scoped - found.keys()}"
    return {**found, **OTHER_TENANT_COLUMNS}


def rows_of(app, tenant_id: str) -> dict[str, int]:
    """How many rows each table, and the tenant's key-value namespace, holds for a tenant (plain SQL)."""
    with app.app_context(), db.engine.connect() as connection:
        counts = {
            table: connection.execute(
                sa.text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = :t'), {"t": tenant_id}
            ).scalar_one()
            for table, column in tenant_columns(app).items()
        }
        counts["flux_kv"] = connection.execute(
            sa.text("SELECT count(*) FROM flux_kv WHERE namespace LIKE :n"), {"n": f"tenant:{tenant_id}:%"}
        ).scalar_one()
    return counts


def test_every_table_that_holds_a_tenant_id_has_rows_of_both_tenants(world):
    """The setup reaches every tenant-owned table: a plugin's new table fails here until it is populated."""
    for side in world.sides.values():
        counts = rows_of(world.app, side.id)
        assert {table for table, count in counts.items() if count == 0} == set(), side.slug
        # Not tenant-scoped models, found by their column: sessions, memberships; the store's namespace.
        assert {"auth_sessions", "tenant_memberships", "signin_lockouts", "flux_kv", "audit_events"} <= counts.keys()


# --- every read route, for every kind of caller ------------------------------------------------


def api_reads(app) -> list:
    """Every GET route under /api/v1 that may hold a tenant's data."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.rule.startswith("/api/v1/") and rule.endpoint not in NO_TENANT_DATA
    ]


PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def urls_naming(rule, side: Side) -> list[str]:
    """The rule's path with every combination of the side's values for its parameters."""
    names = PARAMETER.findall(rule.rule)
    combos = itertools.product(*(side.params.get(name, []) for name in names))
    return [filled(rule.rule, combo) for combo in combos]


def filled(path: str, values: tuple[str, ...]) -> str:
    given = iter(values)
    return PARAMETER.sub(lambda _: next(given), path)


def names_a_row(rule) -> bool:
    """A get of one row (by its id or name), not a list or a read under a shared name."""
    return bool(rule.arguments) and rule.endpoint not in SHARED_NAMES


def instance_wide(kind: str, endpoint: str) -> bool:
    return kind == "instance_admin" and endpoint.startswith(INSTANCE_WIDE)


def reads_naming(world: World, side: Side) -> Iterator[tuple[object, str, str]]:
    """Every read route (lists as they are, gets with the side's ids and names) and kind of caller."""
    for rule in api_reads(world.app):
        for url, kind in itertools.product(urls_naming(rule, side) if rule.arguments else [rule.rule], KINDS):
            yield rule, url, kind


class RoleRefusals:
    """Gets a kind of caller may not use at all (401, 403 to its own tenant's rows): its other URLs are skipped.

    A refusal for the caller's role or scopes does not depend on the row named, so the
    other candidates of the route would only repeat it; this halves the run.
    """

    def __init__(self) -> None:
        self.refused: set[tuple[str, str, str]] = set()

    def get(self, world: World, side: Side, rule, url: str, kind: str):
        """The response, or None when this kind was refused this route already."""
        if (side.slug, rule.endpoint, kind) in self.refused:
            return None
        response = world.client.get(url, headers=side.callers[kind])
        if rule.arguments and response.status_code in (401, 403):
            self.refused.add((side.slug, rule.endpoint, kind))
        return response


def leaks(world: World, pairs: Iterable[tuple[Side, Side]]) -> tuple[list[str], set[str], set[str]]:
    """What one tenant's callers read of the other's; the lists and gets where a caller saw its own data."""
    found, lists_seen, gets_seen = [], set(), set()
    get, owners = world.client.get, RoleRefusals()
    for owner, other in pairs:
        for rule, url, kind in reads_naming(world, owner):
            mine, exempt = owners.get(world, owner, rule, url, kind), instance_wide(kind, rule.endpoint)
            if mine is None:
                continue
            if mine.status_code >= 500:
                found.append(f"{kind} of {owner.slug} GET {url}: {mine.status_code}")
            if names_a_row(rule):  # a get of the owner's row: the other tenant's caller must not find it
                if mine.status_code == 200:
                    gets_seen.add(rule.endpoint)
                    theirs = get(url, headers=other.callers[kind])
                    if theirs.status_code != 404 and not exempt:
                        found.append(f"{kind} of {other.slug} GET {url}: {theirs.status_code}")
                continue
            theirs = get(url, headers=other.callers[kind])
            if mine.status_code != theirs.status_code:
                statuses = f"{mine.status_code} for {owner.slug}, {theirs.status_code} for {other.slug}"
                found.append(f"{kind} GET {url}: {statuses}")
            if owner.shows(mine.get_data(as_text=True)):
                lists_seen.add(rule.endpoint)
                if not exempt and not other.shows(theirs.get_data(as_text=True)):
                    found.append(f"{kind} GET {url}: {other.slug} sees none of its own data")
            if owner.shows(theirs.get_data(as_text=True)) and not exempt:
                found.append(f"{kind} of {other.slug} GET {url}: shows {owner.slug}'s data")
    return found, lists_seen, gets_seen


def assert_isolated(world: World, pairs: Iterable[tuple[Side, Side]]) -> None:
    """No leak, every list route shows its caller's own data (but the few without any), every get route is reached."""
    found, lists_seen, gets_seen = leaks(world, pairs)
    assert found == []
    reads = api_reads(world.app)
    lists = {rule.endpoint for rule in reads if not names_a_row(rule)}
    assert lists - lists_seen == LISTS_WITHOUT_TENANT_DATA, "a list route shows no tenant's data"
    gets = {rule.endpoint for rule in reads if names_a_row(rule)}
    assert gets - gets_seen == set(), "a get route no caller reaches"


def test_no_tenant_reads_the_others_data_on_any_route(world):
    assert_isolated(world, world.pairs())


def test_functions_receive_only_their_own_tenants_secrets(world):
    names = sorted({name for side in world.sides.values() for name in side.secrets})
    for owner, other in world.pairs():
        for kind in ("app_user", "service_key"):
            answer = ok(call(world.client, f"{owner.slug}-report", owner.callers[kind], json={"names": names}))
            seen = {**answer["env"], **{k: v for k, v in answer["secrets"].items() if v is not None}}
            mine = dict(owner.secrets)
            if kind != "app_user":  # only a user's own invocation reads its user secrets
                del mine[f"{owner.slug}.token"]
            assert {name: seen.get(name) for name in mine} == mine
            assert [value for value in other.secrets.values() if value in json.dumps(answer)] == []
            # The other tenant's function is unknown here, under either of its names.
            for reference in other.params["reference"]:
                refused = call(world.client, reference, owner.callers[kind], json={"names": names})
                assert (refused.status_code, refused.json["code"]) == (404, "NOT_FOUND"), reference


def test_public_settings_show_only_their_own_tenants(world):
    keys = [f"{slug}.brand" for slug in SLUGS]
    for owner, other in world.pairs():
        batch = ok(world.client.post(f"{PUBLIC}/batch", json={"keys": keys}, headers=owner.callers["anonymous"]))
        assert batch == [{"key": f"{owner.slug}.brand", "value": f"{owner.slug}-brand"}]
        refused = world.client.get(f"{PUBLIC}/{other.slug}.brand", headers=owner.callers["anonymous"])
        assert refused.status_code == 404


def test_counts_are_per_tenant(world):
    for side in world.sides.values():
        stats = ok(world.client.get(f"{SECRETS}/stats", headers=side.callers["service_key"]))
        assert stats == {"total": 2, "expiring_soon": 0, "expired": 0}


# --- soft delete, recovery, hard delete (in this order: the last one deletes alpha for good) ------------


def while_deleted(world: World, gone: Side, live: Side) -> list[str]:
    """What still answers the deleted tenant's callers, and what the live tenant's callers read of it."""
    found, get, lives = [], world.client.get, RoleRefusals()
    for rule, url, kind in reads_naming(world, gone):
        if instance_wide(kind, rule.endpoint):
            continue
        mine = get(url, headers=gone.callers[kind])
        if rule.endpoint not in TENANTLESS and (kind, rule.endpoint) not in OPEN_WHEN_DELETED:
            if mine.status_code not in (401, 403, 404):
                found.append(f"{kind} of deleted {gone.slug} GET {url}: {mine.status_code}")
        theirs = lives.get(world, live, rule, url, kind)
        if theirs is None:
            continue
        if names_a_row(rule) and (theirs.status_code == 200 or theirs.status_code >= 500):
            found.append(f"{kind} of {live.slug} GET {url}: {theirs.status_code}")
        if not names_a_row(rule) and gone.shows(theirs.get_data(as_text=True)):
            found.append(f"{kind} of {live.slug} GET {url}: shows {gone.slug}'s data")
    return found


def test_a_soft_deleted_tenant_answers_no_one_and_recovers_whole(world):
    alpha, bravo = world.sides["alpha"], world.sides["bravo"]
    stored = {side.slug: rows_of(world.app, side.id) for side in (alpha, bravo)}
    ok(world.client.delete(f"{TENANTS}/{alpha.id}", headers=world.admin), 204)
    try:
        assert while_deleted(world, alpha, bravo) == []
        deleted = ok(world.client.get(f"{TENANTS}/deleted", headers=world.admin))
        assert [tenant["slug"] for tenant in deleted] == ["alpha"]
        audited = stored["alpha"]["audit_events"] + 1  # the soft delete, in alpha's own trail
        assert {side.slug: rows_of(world.app, side.id) for side in (alpha, bravo)} == {
            **stored,
            "alpha": {**stored["alpha"], "audit_events": audited},
        }
    finally:
        recovered = ok(world.client.post(f"{TENANTS}/{alpha.id}/recover", headers=world.admin))
    assert (recovered["slug"], recovered["deleted_at"]) == ("alpha", None)
    assert_isolated(world, [(alpha, bravo)])  # alpha reads all of its own again, bravo still none of it


def test_a_deleted_tenants_key_is_refused_everywhere(world):
    """Found here: `GET /admin/tenants` answered a soft-deleted tenant's key 200 `[]` (every other route 403)."""
    created = ok(world.client.post(TENANTS, json={"slug": "charlie", "name": "Charlie"}, headers=world.admin), 201)
    key = {"X-Service-Key": new_key(world.client, {**world.admin, "X-FB-Tenant": "charlie"}, "charlie-key")["key"]}
    assert ok(world.client.get(TENANTS, headers=key))[0]["slug"] == "charlie"
    ok(world.client.delete(f"{TENANTS}/charlie", headers=world.admin), 204)
    try:
        assert world.client.get(KEYS, headers=key).status_code == 403
        assert world.client.get(TENANTS, headers=key).status_code in (401, 403)
    finally:
        ok(world.client.delete(f"{TENANTS}/{created['id']}?hard=true", headers=world.admin), 204)


def test_a_hard_delete_leaves_no_row_of_the_tenant(world):
    alpha, bravo = world.sides["alpha"], world.sides["bravo"]
    kept = rows_of(world.app, bravo.id)
    assert 0 not in rows_of(world.app, alpha.id).values()
    ok(world.client.delete(f"{TENANTS}/{alpha.id}?hard=true", headers=world.admin), 204)
    assert rows_of(world.app, alpha.id) == dict.fromkeys(kept, 0)
    assert rows_of(world.app, bravo.id) == kept
    with world.app.app_context(), db.engine.connect() as connection:
        left = connection.execute(sa.text("SELECT slug FROM tenants ORDER BY slug")).scalars().all()
    assert left == ["bravo", "default"]
    for kind, caller in alpha.callers.items():
        refused = world.client.get(f"{FUNCTIONS}/alpha-report", headers=caller)
        assert refused.status_code in (401, 403, 404), kind
    assert ok(call(world.client, "bravo-report", bravo.callers["app_user"], json={"names": ["BRAVO_FN_SECRET"]}))[
        "secrets"
    ] == {"BRAVO_FN_SECRET": "bravo-fn-secret"}
