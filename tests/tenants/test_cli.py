"""`fluxbase tenants …` against a real `fluxbase serve` process, as an instance admin who ran `fluxbase login`.

Every command is checked by what it prints, its exit code and what the server stored.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner

from flux.cli import cli
from flux.db import db
from flux.tenancy import Tenant, TenantMembership
from tests.conftest import ADMIN_EMAIL

TENANT_HEADER = ["SLUG", "NAME", "ID", "CREATED_AT", "DELETED_AT"]


def stored_tenant(live_app, slug: str) -> dict[str, Any] | None:
    """The tenant's row as the server keeps it, live or soft-deleted; `None` when there is none."""
    with live_app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            return None
        return {"id": tenant.id, "name": tenant.name, "deleted": tenant.deleted_at is not None}


def stored_roles(live_app, tenant_id: str) -> dict[str, str]:
    """Account id to role, of every membership the server keeps for the tenant."""
    with live_app.app_context():
        query = sa.select(TenantMembership).where(TenantMembership.tenant_id == tenant_id)
        return {member.account_id: member.role for member in db.session.scalars(query)}


def slugs_listed(fluxbase, *options: str) -> list[str]:
    return [row["slug"] for row in json.loads(fluxbase("tenants", "list", "--json", *options).stdout)]


def test_create_list_and_show_as_text_and_json(admin_terminal, live_app):
    fluxbase = admin_terminal
    result = fluxbase("tenants", "create", "acme", "--name", "Acme Inc.")
    acme = stored_tenant(live_app, "acme")
    assert (result.exit_code, result.stdout) == (0, f"Created tenant 'acme' (id {acme['id']}).\n")
    assert acme == {"id": acme["id"], "name": "Acme Inc.", "deleted": False}

    created = json.loads(fluxbase("tenants", "create", "globex", "--name", "Globex", "--json").stdout)
    assert (created["slug"], created["name"], created["deleted_at"]) == ("globex", "Globex", None)
    assert created["id"] == stored_tenant(live_app, "globex")["id"]

    header, *rows = fluxbase("tenants", "list").stdout.splitlines()
    assert header.split() == TENANT_HEADER
    assert [row.split()[0] for row in rows] == ["default", "acme", "globex"]  # oldest first
    assert rows[1].startswith(f"acme     Acme Inc.  {acme['id']}  20")
    assert rows[1].endswith("  -")  # not deleted
    listed = json.loads(fluxbase("tenants", "list", "--json").stdout)
    assert [row["slug"] for row in listed] == ["default", "acme", "globex"]

    assert json.loads(fluxbase("tenants", "show", "globex", "--json").stdout) == created == listed[2]
    lines = fluxbase("tenants", "show", "acme").stdout.splitlines()
    assert {"slug        acme", "name        Acme Inc.", f"id          {acme['id']}", "deleted_at  -"} <= set(lines)
    assert fluxbase("tenants", "show", acme["id"], "--json").stdout == json.dumps(listed[1], indent=2) + "\n"


def test_lists_are_read_page_by_page(admin_terminal, monkeypatch):
    """The server pages at `limit`; the command asks until a page runs short, as every list command does."""
    for index in range(5):
        assert admin_terminal("tenants", "create", f"t{index}", "--name", f"T{index}").exit_code == 0
    monkeypatch.setattr("flux.client.MAX_PAGE_SIZE", 2)
    assert slugs_listed(admin_terminal) == ["default", "t0", "t1", "t2", "t3", "t4"]
    assert len(admin_terminal("tenants", "list").stdout.splitlines()) == 1 + 6


def test_soft_delete_hides_the_tenant_and_recover_brings_it_back(admin_terminal, live_app):
    fluxbase = admin_terminal
    fluxbase("tenants", "create", "acme", "--name", "Acme Inc.")
    result = fluxbase("tenants", "delete", "acme")
    assert (result.exit_code, result.stdout) == (
        0,
        "Deleted tenant 'acme'; `fluxbase tenants recover acme` brings it back.\n",
    )
    assert stored_tenant(live_app, "acme")["deleted"]
    assert slugs_listed(fluxbase) == ["default"]
    assert slugs_listed(fluxbase, "--deleted") == ["acme"]
    header, row = fluxbase("tenants", "list", "--deleted").stdout.splitlines()
    assert (header.split(), row.split()[-1][:2]) == (TENANT_HEADER, "20")  # deleted_at is shown
    result = fluxbase("tenants", "show", "acme")
    assert (result.exit_code, result.stderr) == (1, "Error: tenant 'acme' not found (404 TENANT_NOT_FOUND)\n")

    result = fluxbase("tenants", "recover", "acme")
    assert (result.exit_code, result.stdout) == (0, "Recovered tenant 'acme'.\n")
    assert not stored_tenant(live_app, "acme")["deleted"]
    assert slugs_listed(fluxbase) == ["default", "acme"]
    assert fluxbase("tenants", "list", "--deleted").stdout == "No tenants.\n"

    fluxbase("tenants", "delete", "acme")
    recovered = json.loads(fluxbase("tenants", "recover", "acme", "--json").stdout)
    assert (recovered["slug"], recovered["deleted_at"]) == ("acme", None)
    result = fluxbase("tenants", "recover", "acme")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "Error: tenant 'acme' is not deleted (409 TENANT_NOT_DELETED)\n"


def test_hard_delete_destroys_the_tenant_only_once_its_slug_is_typed(admin_terminal, live_app, live_admin):
    fluxbase = admin_terminal
    acme_id = json.loads(fluxbase("tenants", "create", "acme", "--name", "Acme Inc.", "--json").stdout)["id"]
    fluxbase("tenants", "add-member", "acme", live_admin["user"]["id"])
    prompt = "This deletes tenant 'acme' and all its data for good. Type acme to confirm: "

    result = fluxbase("tenants", "delete", "acme", "--hard", input="acm\n")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"{prompt}acm\nError: 'acm' is not 'acme': nothing was deleted\n"
    result = fluxbase("tenants", "delete", "acme", "--hard", input="")  # no terminal to answer: no deletion
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"{prompt}Aborted!\n"
    assert stored_tenant(live_app, "acme") == {"id": acme_id, "name": "Acme Inc.", "deleted": False}

    result = fluxbase("tenants", "delete", "acme", "--hard", input="acme\n")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Deleted tenant 'acme' and all its data for good.\n",
        prompt + "acme\n",  # the runner echoes what was typed
    )
    assert stored_tenant(live_app, "acme") is None
    assert stored_roles(live_app, acme_id) == {}

    fluxbase("tenants", "create", "globex", "--name", "Globex")
    fluxbase("tenants", "delete", "globex")  # a soft-deleted tenant can be deleted for good too
    result = fluxbase("tenants", "delete", "globex", "--hard", "--yes")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Deleted tenant 'globex' and all its data for good.\n",
        "",
    )
    assert stored_tenant(live_app, "globex") is None
    result = fluxbase("tenants", "recover", "globex")
    assert (result.exit_code, result.stderr) == (1, "Error: tenant 'globex' not found (404 TENANT_NOT_FOUND)\n")


def test_members_are_listed_added_and_removed(admin_terminal, live_app, live_admin):
    fluxbase = admin_terminal
    admin_id = live_admin["user"]["id"]
    acme_id = json.loads(fluxbase("tenants", "create", "acme", "--name", "Acme Inc.", "--json").stdout)["id"]
    assert fluxbase("tenants", "members", "acme").stdout == "No members.\n"
    assert fluxbase("tenants", "members", "acme", "--json").stdout == "[]\n"

    result = fluxbase("tenants", "add-member", "acme", admin_id, "--role", "tenant_admin")
    assert (result.exit_code, result.stdout) == (0, f"Added {ADMIN_EMAIL} to tenant 'acme' as tenant_admin.\n")
    assert stored_roles(live_app, acme_id) == {admin_id: "tenant_admin"}
    header, row = fluxbase("tenants", "members", "acme").stdout.splitlines()
    assert header.split() == ["USER_ID", "EMAIL", "NAME", "ROLE", "CREATED_AT"]
    assert row.split()[:4] == [admin_id, ADMIN_EMAIL, "Ada", "tenant_admin"]
    (member,) = json.loads(fluxbase("tenants", "members", "acme", "--json").stdout)
    assert (member["user_id"], member["role"], member["tenant_id"]) == (admin_id, "tenant_admin", acme_id)

    result = fluxbase("tenants", "remove-member", "acme", admin_id)
    assert (result.exit_code, result.stdout) == (0, f"Removed account '{admin_id}' from tenant 'acme'.\n")
    assert stored_roles(live_app, acme_id) == {}

    added = json.loads(fluxbase("tenants", "add-member", "acme", admin_id, "--json").stdout)
    assert (added["user_id"], added["role"]) == (admin_id, "tenant_member")  # the server's default role
    assert stored_roles(live_app, acme_id) == {admin_id: "tenant_member"}
    result = fluxbase("tenants", "add-member", "acme", "no-such-account")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: ")
    assert result.stderr.endswith("(404 NOT_FOUND)\n")
    result = fluxbase("tenants", "add-member", "acme", admin_id, "--role", "owner")
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.stderr
    assert stored_roles(live_app, acme_id) == {admin_id: "tenant_member"}


def test_the_servers_refusals_are_one_line_with_exit_code_1(admin_terminal, live_server, live_admin, live_app):
    fluxbase = admin_terminal
    result = fluxbase("tenants", "create", "Bad_Slug", "--name", "Bad")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: ")
    assert "a slug is 1 to 63 lowercase letters, digits and '-', starting with a letter" in result.stderr
    assert result.stderr.endswith("(400 INVALID_FIELD)\n")
    assert result.stderr.count("\n") == 1
    assert stored_tenant(live_app, "Bad_Slug") is None

    fluxbase("tenants", "create", "acme", "--name", "Acme Inc.")
    result = fluxbase("tenants", "create", "acme", "--name", "Other")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: a tenant with the slug 'acme' exists (perhaps soft-deleted) (409 ALREADY_EXISTS)\n",
    )
    assert stored_tenant(live_app, "acme")["name"] == "Acme Inc."
    result = fluxbase("tenants", "delete", "default")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: the default tenant cannot be deleted (400 DEFAULT_TENANT_FIXED)\n",
    )
    result = fluxbase("tenants", "create", "nameless")
    assert (result.exit_code, "Missing option '--name'" in result.stderr) == (2, True)
    assert stored_tenant(live_app, "nameless") is None

    # A service key sees its own tenant and manages no tenants.
    key = live_server.create_service_key(live_admin, ["tenants:read"])
    by_key = {"FLUXBASE_URL": live_server.url, "FLUXBASE_TOKEN": key}
    assert [row["slug"] for row in json.loads(fluxbase("tenants", "list", "--json", env=by_key).stdout)] == ["default"]
    result = fluxbase("tenants", "delete", "acme", env=by_key)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.endswith("(403 FORBIDDEN)\n")
    assert not stored_tenant(live_app, "acme")["deleted"]


def test_the_commands_are_the_plugins_and_go_with_it(tmp_path):
    def run(*disabled: str):
        env = {"FLUXBASE_INSTANCE_PATH": str(tmp_path), "FLUXBASE_DISABLED_PLUGINS": ",".join(disabled)}
        return CliRunner().invoke(cli, ["tenants", "--help"], env=env)

    result = run()
    assert result.exit_code == 0, result.output
    for command in ("list", "create", "show", "delete", "recover", "members", "add-member", "remove-member"):
        assert f"\n  {command} " in result.output
    result = run("tenants")
    assert (result.exit_code, "No such command 'tenants'" in result.output) == (2, True)
