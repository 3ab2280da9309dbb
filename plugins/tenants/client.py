"""The tenants plugin's part of the Python client: tenants and their members at `/api/v1/admin/tenants`.

    tenants = TenantsClient(FluxClient(url, token=token))
    tenants.create_tenant("acme", "Acme Inc.")
    tenants.add_member("acme", account_id, role="tenant_admin")

A tenant is named by its slug or its id, as the server accepts either.
"""

from __future__ import annotations

from typing import Any

from flux.api import FluxClient, omit_none, path_segment

TENANTS = "/api/v1/admin/tenants"


class TenantsClient:
    """Tenants (create, soft or hard delete, recover) and their members through one `FluxClient`."""

    def __init__(self, client: FluxClient) -> None:
        self.client = client

    @staticmethod
    def _tenant(tenant: str) -> str:
        return f"{TENANTS}/{path_segment(tenant)}"

    def list_tenants(self, deleted: bool = False) -> list[dict[str, Any]]:
        """Live tenants the caller may see, oldest first; with `deleted`, the soft-deleted ones instead."""
        return self.client.list_all(f"{TENANTS}/deleted" if deleted else TENANTS)

    def create_tenant(self, slug: str, name: str) -> dict[str, Any]:
        return self.client.request("POST", TENANTS, json={"slug": slug, "name": name})

    def get_tenant(self, tenant: str) -> dict[str, Any]:
        return self.client.request("GET", self._tenant(tenant))

    def delete_tenant(self, tenant: str, hard: bool = False) -> None:
        """Soft delete (hidden, data kept, recoverable), or with `hard` the tenant and all its data for good."""
        self.client.request("DELETE", self._tenant(tenant), params={"hard": "true" if hard else None})

    def recover_tenant(self, tenant: str) -> dict[str, Any]:
        """Bring a soft-deleted tenant back, with all the data it kept."""
        return self.client.request("POST", f"{self._tenant(tenant)}/recover")

    def list_members(self, tenant: str) -> list[dict[str, Any]]:
        """The dashboard accounts of the tenant, each with its role there."""
        return self.client.list_all(f"{self._tenant(tenant)}/members")

    def add_member(self, tenant: str, account_id: str, role: str | None = None) -> dict[str, Any]:
        """Make a dashboard account a member; the server's default role is `tenant_member`."""
        body = omit_none(user_id=account_id, role=role)
        return self.client.request("POST", f"{self._tenant(tenant)}/members", json=body)

    def remove_member(self, tenant: str, account_id: str) -> None:
        self.client.request("DELETE", f"{self._tenant(tenant)}/members/{path_segment(account_id)}")
