"""The settings plugin's part of the Python client: write-only settings secrets.

The tenant's system secrets (`/api/v1/admin/settings/custom/secret`), or with `user=True`
the signed-in app user's own (`/api/v1/settings/secret`):

    SettingSecretsClient(FluxClient(url, token=token)).set_setting_secret("smtp", value)
"""

from __future__ import annotations

from typing import Any

from flux.api import FluxClient, omit_none, path_segment, update_or_create


class SettingSecretsClient:
    """Settings secrets (system, or the app user's own) through one `FluxClient`."""

    def __init__(self, client: FluxClient) -> None:
        self.client = client

    @staticmethod
    def _settings_secrets(user: bool) -> str:
        return "/api/v1/settings/secret" if user else "/api/v1/admin/settings/custom/secret"

    def list_setting_secrets(self, user: bool = False) -> list[dict[str, Any]]:
        return self.client.list_all(self._settings_secrets(user))

    def create_setting_secret(
        self, key: str, value: str, description: str | None = None, user: bool = False
    ) -> dict[str, Any]:
        body = omit_none(key=key, value=value, description=description)
        return self.client.request("POST", self._settings_secrets(user), json=body)

    def get_setting_secret(self, key: str, user: bool = False) -> dict[str, Any]:
        return self.client.request("GET", f"{self._settings_secrets(user)}/{path_segment(key)}")

    def update_setting_secret(
        self, key: str, value: str | None = None, description: str | None = None, user: bool = False
    ) -> dict[str, Any]:
        body = omit_none(value=value, description=description)
        return self.client.request("PUT", f"{self._settings_secrets(user)}/{path_segment(key)}", json=body)

    def set_setting_secret(
        self, key: str, value: str, description: str | None = None, user: bool = False
    ) -> tuple[dict[str, Any], bool]:
        """Update the secret if it exists, else create it; its metadata and whether it was created."""
        return update_or_create(
            lambda: self.update_setting_secret(key, value, description, user),
            lambda: self.create_setting_secret(key, value, description, user),
        )

    def delete_setting_secret(self, key: str, user: bool = False) -> None:
        self.client.request("DELETE", f"{self._settings_secrets(user)}/{path_segment(key)}")
