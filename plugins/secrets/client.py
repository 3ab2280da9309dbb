"""The secrets plugin's part of the Python client: function secrets at `/api/v1/secrets`.

    secrets = SecretsClient(FluxClient(url, token=token))
    secrets.set_secret("STRIPE_KEY", value, namespace="production")

Values go to the server only; no answer holds one.
"""

from __future__ import annotations

from typing import Any

from flux.api import FluxClient, omit_none, path_segment, update_or_create


class SecretsClient:
    """Function secrets (global or per namespace, versioned) through one `FluxClient`."""

    def __init__(self, client: FluxClient) -> None:
        self.client = client

    @staticmethod
    def _secret(name: str) -> str:
        return f"/api/v1/secrets/by-name/{path_segment(name)}"

    def list_secrets(self, scope: str | None = None, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.client.list_all("/api/v1/secrets", params={"scope": scope, "namespace": namespace})

    def create_secret(
        self,
        name: str,
        value: str,
        scope: str | None = None,
        namespace: str | None = None,
        description: str | None = None,
        expires_at: str | None = None,
    ) -> dict[str, Any]:
        """A new secret at version 1; the scope defaults to `namespace` with a namespace, else `global`."""
        body = omit_none(
            name=name, value=value, scope=scope, namespace=namespace, description=description, expires_at=expires_at
        )
        return self.client.request("POST", "/api/v1/secrets", json=body)

    def get_secret(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """Metadata of the namespace's secret `name`, or of the global one without a namespace."""
        return self.client.request("GET", self._secret(name), params={"namespace": namespace})

    def update_secret(
        self,
        name: str,
        namespace: str | None = None,
        value: str | None = None,
        description: str | None = None,
        expires_at: str | None = None,
    ) -> dict[str, Any]:
        """Change what is given; a new value makes a new version."""
        body = omit_none(value=value, description=description, expires_at=expires_at)
        return self.client.request("PUT", self._secret(name), json=body, params={"namespace": namespace})

    def set_secret(
        self,
        name: str,
        value: str,
        scope: str | None = None,
        namespace: str | None = None,
        description: str | None = None,
        expires_at: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Update the secret if it exists, else create it; its metadata and whether it was created."""
        return update_or_create(
            lambda: self.update_secret(name, namespace, value, description, expires_at),
            lambda: self.create_secret(name, value, scope, namespace, description, expires_at),
        )

    def delete_secret(self, name: str, namespace: str | None = None) -> None:
        self.client.request("DELETE", self._secret(name), params={"namespace": namespace})

    def secret_versions(self, name: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """`{version, created_at, created_by}` of every stored version, newest first."""
        path = f"{self._secret(name)}/versions"
        return self.client.list_all(path, params={"namespace": namespace})

    def rollback_secret(self, name: str, version: int, namespace: str | None = None) -> dict[str, Any]:
        """Make the value of `version` current again, as a new version."""
        path = f"{self._secret(name)}/rollback/{int(version)}"
        return self.client.request("POST", path, params={"namespace": namespace})
