"""The flags plugin's part of the Python client: tenant settings, feature flags and their evaluation.

    flags = FlagsClient(FluxClient(url, token=token))
    flags.update_settings("authentication", {"password_policy": {"min_length": 12}})
    flags.switch_feature_flag("passwordless_enabled", True)
    flags.create_flag({"key": "new-checkout"})
    flags.evaluate("new-checkout", {"targetingKey": "user-1"})["value"]

Declared flags (the code's, on or off per tenant) live under the settings API; custom
flags (typed, with rules and rollouts) under `/api/v1/admin/flags`; OFREP evaluates both.
"""

from __future__ import annotations

from typing import Any

from flux.api import FluxClient, path_segment

SETTINGS = "/api/v1/admin/settings"
FLAGS = "/api/v1/admin/flags"
OFREP = "/ofrep/v1/evaluate/flags"


class FlagsClient:
    """Tenant settings by category, declared and custom flags, and OFREP evaluation through one `FluxClient`."""

    def __init__(self, client: FluxClient) -> None:
        self.client = client

    @staticmethod
    def _flag(key: str) -> str:
        return f"{FLAGS}/{path_segment(key)}"

    # -- settings by category ----------------------------------------------------------

    def all_settings(self) -> dict[str, dict[str, Any]]:
        """Every category's values: the tenant's stored ones, else the environment's, else the defaults."""
        return self.client.request("GET", SETTINGS)

    def get_settings(self, category: str) -> dict[str, Any]:
        return self.client.request("GET", f"{SETTINGS}/{path_segment(category)}")

    def update_settings(self, category: str, values: dict[str, Any], if_match: str | None = None) -> dict[str, Any]:
        """Deep-merge `values` into the category (`None` forgets a stored value); `changes` holds each old and new.

        With `if_match` (a tag the server answered, or `*`) nothing changes unless it still matches: 412.
        """
        path = f"{SETTINGS}/{path_segment(category)}"
        return self.client.request("PUT", path, json=values, headers={"If-Match": if_match})

    def reset_settings(self, category: str) -> dict[str, Any]:
        """Forget the tenant's stored values of the category: the environment's or the defaults apply again."""
        return self.client.request("POST", f"{SETTINGS}/reset/{path_segment(category)}")

    # -- declared flags ----------------------------------------------------------------

    def feature_flags(self) -> list[dict[str, Any]]:
        """The flags the code declares, each with whether it is on for the tenant."""
        return self.client.request("GET", f"{SETTINGS}/feature-flags")["flags"]

    def switch_feature_flag(self, key: str, enabled: bool) -> dict[str, Any]:
        body = {"enabled": enabled}
        return self.client.request("PUT", f"{SETTINGS}/feature-flags/{path_segment(key)}", json=body)

    # -- custom flags ------------------------------------------------------------------

    def list_flags(self) -> list[dict[str, Any]]:
        """The tenant's custom flags by key (the declared ones: `feature_flags`)."""
        return self.client.list_all(FLAGS)

    def get_flag(self, key: str) -> dict[str, Any]:
        return self.client.request("GET", self._flag(key))

    def create_flag(self, definition: dict[str, Any]) -> dict[str, Any]:
        return self.client.request("POST", FLAGS, json=definition)

    def replace_flag(self, key: str, definition: dict[str, Any]) -> dict[str, Any]:
        """The whole definition: what it does not name takes its default again."""
        return self.client.request("PUT", self._flag(key), json=definition)

    def change_flag(self, key: str, changes: dict[str, Any]) -> dict[str, Any]:
        """The fields given replace the stored ones (`{"enabled": False}`); the rest stay."""
        return self.client.request("PATCH", self._flag(key), json=changes)

    def delete_flag(self, key: str) -> None:
        self.client.request("DELETE", self._flag(key))

    # -- evaluation (OFREP) -------------------------------------------------------------

    def evaluate(self, key: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
        """One flag, declared or custom, for `context`: `{key, value, reason, variant, metadata}`."""
        return self.client.request("POST", f"{OFREP}/{path_segment(key)}", json={"context": context or {}})

    def evaluate_all(self, context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every flag for `context`; one that cannot be evaluated holds `errorCode` and `errorDetails`."""
        return self.client.request("POST", OFREP, json={"context": context or {}})["flags"]
