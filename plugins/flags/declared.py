"""Flags that code declares (`register_feature_flags`): the seed's four, and any plugin's.

A declared flag is a boolean switch whose default the code gives; a tenant turns it on
or off (`PUT …/feature-flags/{key}`), and the choice is stored beside the tenant's
custom flags in the key-value store, namespace `tenant:<id>:flags`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from flux.api import ConfigError

FLAG_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")
Impact = Literal["low", "medium", "high"]


@dataclass(frozen=True)
class FeatureFlag:
    key: str
    display_name: str
    description: str
    category: str
    impact: Impact = "low"
    enabled: bool = False


SEED_FLAGS = [
    FeatureFlag(
        "passwordless_enabled",
        "Passwordless Authentication",
        "Enable passwordless authentication with WebAuthn/Passkeys",
        "authentication",
        "low",
        False,
    ),
    FeatureFlag(
        "advanced_mfa", "Advanced MFA", "Enable risk-based MFA and adaptive authentication", "security", "medium", True
    ),
    FeatureFlag("rebac_enabled", "ReBAC", "Enable relationship-based access control", "access_control", "high", True),
    FeatureFlag(
        "audit_log_export",
        "Audit Log Export",
        "CSV/JSON export functionality for audit logs",
        "compliance",
        "low",
        True,
    ),
]


def merge_declared(answers: Iterable[tuple[str, Iterable[FeatureFlag] | None]]) -> dict[str, FeatureFlag]:
    """Every plugin's declared flags by key; a malformed or twice-declared key stops start-up."""
    flags: dict[str, FeatureFlag] = {}
    owners: dict[str, str] = {}
    for plugin, declared in answers:
        for flag in declared or []:
            if not isinstance(flag, FeatureFlag) or not FLAG_KEY.match(flag.key):
                raise ConfigError(f"plugin {plugin} declares a feature flag that is not a FeatureFlag with a key")
            if flag.key in flags:
                owner = owners[flag.key]
                raise ConfigError(f"plugin {plugin} declares the feature flag {flag.key!r} of plugin {owner}")
            flags[flag.key], owners[flag.key] = flag, plugin
    return dict(sorted(flags.items()))
