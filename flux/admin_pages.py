"""Dashboard pages as records, contributed by plugins through `register_admin_pages`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdminPage:
    """One entry of the dashboard navigation.

    `endpoint` names a view the plugin registered (`"flags_admin.index"`); `permission`
    is the role a signed-in administrator needs to see the entry (the navigation hides
    it from others; `instance_admin` sees every entry). The view itself must still check
    permissions with `flux.auth.permissions.require`.
    """

    title: str
    endpoint: str
    category: str = "General"
    permission: str = "instance_admin"
    order: int = 100
