"""Feature flags per tenant: declared flags' on/off state, kept in the key-value store.

Each change locks the tenant's row (as settings changes do) and is audited as
`settings.update`, category `feature_flags`, with its diff, in the same transaction.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app

from flux.api import NOT_FOUND, NotFound, audit, flux_state, tenant_settings
from plugins.flags.declared import FeatureFlag


def namespace(tenant_id: str) -> str:
    return f"tenant:{tenant_id}:flags"


def declared() -> dict[str, FeatureFlag]:
    return current_app.extensions["flags"].declared


def _declared_flag(key: str) -> FeatureFlag:
    flag = declared().get(key)
    if flag is None:
        known = ", ".join(declared())
        raise NotFound(f"no feature flag {key!r}; the flags are {known}", code=NOT_FOUND)
    return flag


def declared_states(tenant_id: str) -> list[tuple[FeatureFlag, dict[str, Any]]]:
    """Every declared flag with its stored state (`{}` where the tenant never changed it): one read."""
    stored = flux_state().store.items_json(namespace(tenant_id))
    return [(flag, stored.get(key) or {}) for key, flag in declared().items()]


def is_enabled(flag: FeatureFlag, state: dict[str, Any]) -> bool:
    return state.get("enabled", flag.enabled)


def set_declared(tenant_id: str, key: str, enabled: bool) -> int:
    """Turn a declared flag on or off for the tenant; return the change's time (unix seconds)."""
    flag = _declared_flag(key)
    tenant_settings.lock_tenant(tenant_id)
    store, space = flux_state().store, namespace(tenant_id)
    before = is_enabled(flag, store.get_json(space, key) or {})
    changes = {} if before == enabled else {key: {"old": before, "new": enabled}}
    audit.record("settings.update", f"settings/feature_flags/{key}", category="feature_flags", changes=changes)
    updated_at = int(time.time())
    store.set_json(space, key, {"enabled": enabled, "updated_at": updated_at})
    return updated_at
