"""`fluxbase tenants …`: tenants and their members on a running server, over HTTP (seed 004).

Registered through `register_commands`, so disabling the plugin removes the commands.
SLUG may also be the tenant's id: the server takes either.
"""

from __future__ import annotations

import click

from flux.api import json_option, pass_client, report, show_record, show_table
from plugins.tenants.client import TenantsClient

TENANT_COLUMNS = ("slug", "name", "id", "created_at", "deleted_at")
MEMBER_COLUMNS = ("user_id", "email", "name", "role", "created_at")


@click.group("tenants")
def tenants_group() -> None:
    """Tenants and their members (instance admins manage every tenant)."""


@tenants_group.command("list")
@click.option("--deleted", is_flag=True, help="The soft-deleted tenants instead (instance admins only).")
@json_option
@pass_client(TenantsClient)
def tenants_list(tenants: TenantsClient, deleted: bool, as_json: bool) -> None:
    """List the tenants you may see, oldest first."""
    show_table(tenants.list_tenants(deleted), TENANT_COLUMNS, as_json, "No tenants.")


@tenants_group.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The tenant's display name.")
@json_option
@pass_client(TenantsClient)
def tenants_create(tenants: TenantsClient, slug: str, name: str, as_json: bool) -> None:
    """Create a tenant (instance admins only)."""
    tenant = tenants.create_tenant(slug, name)
    report(tenant, as_json, f"Created tenant {slug!r} (id {tenant['id']}).")


@tenants_group.command("show")
@click.argument("slug")
@json_option
@pass_client(TenantsClient)
def tenants_show(tenants: TenantsClient, slug: str, as_json: bool) -> None:
    """Show a tenant."""
    show_record(tenants.get_tenant(slug), as_json)


def _confirm_hard_delete(slug: str) -> None:
    """Nothing undoes a hard delete, so SLUG (or the id given) must be typed again; a script says `--yes`."""
    typed = click.prompt(
        f"This deletes tenant {slug!r} and all its data for good. Type {slug} to confirm",
        default="",
        show_default=False,
        err=True,
    )
    if typed != slug:
        raise click.ClickException(f"{typed!r} is not {slug!r}: nothing was deleted")


@tenants_group.command("delete")
@click.argument("slug")
@click.option("--hard", is_flag=True, help="Delete the tenant and all its data for good, not recoverable.")
@click.option("--yes", is_flag=True, help="With --hard: do not ask to type the slug.")
@pass_client(TenantsClient)
def tenants_delete(tenants: TenantsClient, slug: str, hard: bool, yes: bool) -> None:
    """Soft delete a tenant (hidden, its data kept until recovered), or with --hard destroy it."""
    if hard and not yes:
        _confirm_hard_delete(slug)
    tenants.delete_tenant(slug, hard)
    if hard:
        click.echo(f"Deleted tenant {slug!r} and all its data for good.")
    else:
        click.echo(f"Deleted tenant {slug!r}; `fluxbase tenants recover {slug}` brings it back.")


@tenants_group.command("recover")
@click.argument("slug")
@json_option
@pass_client(TenantsClient)
def tenants_recover(tenants: TenantsClient, slug: str, as_json: bool) -> None:
    """Bring a soft-deleted tenant back with its data (instance admins only)."""
    report(tenants.recover_tenant(slug), as_json, f"Recovered tenant {slug!r}.")


@tenants_group.command("members")
@click.argument("slug")
@json_option
@pass_client(TenantsClient)
def tenants_members(tenants: TenantsClient, slug: str, as_json: bool) -> None:
    """List a tenant's members (dashboard accounts) with their roles."""
    show_table(tenants.list_members(slug), MEMBER_COLUMNS, as_json, "No members.")


@tenants_group.command("add-member")
@click.argument("slug")
@click.argument("account_id")
@click.option("--role", type=click.Choice(["tenant_member", "tenant_admin"]), help="Default: tenant_member.")
@json_option
@pass_client(TenantsClient)
def tenants_add_member(tenants: TenantsClient, slug: str, account_id: str, role: str | None, as_json: bool) -> None:
    """Make a dashboard account (by its id) a member of the tenant."""
    member = tenants.add_member(slug, account_id, role)
    report(member, as_json, f"Added {member['email']} to tenant {slug!r} as {member['role']}.")


@tenants_group.command("remove-member")
@click.argument("slug")
@click.argument("account_id")
@pass_client(TenantsClient)
def tenants_remove_member(tenants: TenantsClient, slug: str, account_id: str) -> None:
    """Remove a dashboard account from the tenant (the account itself stays)."""
    tenants.remove_member(slug, account_id)
    click.echo(f"Removed account {account_id!r} from tenant {slug!r}.")
