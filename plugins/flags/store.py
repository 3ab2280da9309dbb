"""A tenant's feature flags in the key-value store: declared flags' switches, custom flags, segments.

One namespace per tenant, `tenant:<id>:flags`, so evaluation reads everything it needs
at once (`everything`): a declared flag's key holds `{"enabled", "updated_at"}`, a
custom flag's key `{"definition", "version", "updated_at"}`, a segment's
`segment:<key>` the same (a flag key cannot hold ':'), and `meta:revision` a token
every change replaces, in the change's own transaction: one small read tells an
evaluator whether what it compiled is still current.

Each change locks the tenant's row (as settings changes do) and is audited in the same
transaction: declared switches as `settings.update` (category `feature_flags`, the
seed's vocabulary), custom flags and segments as `flag.*` and `segment.*` with the key.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from flask import current_app

from flux.api import (
    ALREADY_EXISTS,
    NOT_FOUND,
    Conflict,
    NotFound,
    audit,
    current_tenant_id,
    error_codes,
    flux_state,
    parse,
    tenant_settings,
)
from plugins.flags.declared import FeatureFlag
from plugins.flags.definitions import SEGMENT, FlagDefinition, Segment

SEGMENT_PREFIX, REVISION_KEY = "segment:", "meta:revision"
MAX_FLAGS, MAX_SEGMENTS = 1000, 200
SEGMENT_IN_USE = error_codes.register(
    "SEGMENT_IN_USE", 409, "Flags still name the segment; the message lists them.", "flags"
)
TOO_MANY = error_codes.register("TOO_MANY_FLAGS", 409, "The tenant has as many flags or segments as allowed.", "flags")


def namespace(tenant_id: str) -> str:
    return f"tenant:{tenant_id}:flags"


def declared() -> dict[str, FeatureFlag]:
    return current_app.extensions["flags"].declared


def everything(tenant_id: str) -> dict[str, bytes]:
    """What the tenant stores for its flags, raw, its revision included: one read, for evaluation."""
    return flux_state().store.items(namespace(tenant_id))


def revision(tenant_id: str) -> bytes | None:
    """The token of the tenant's last flags change (None before the first)."""
    return flux_state().store.get(namespace(tenant_id), REVISION_KEY)


def _changed(tenant_id: str) -> None:
    flux_state().store.set_json(namespace(tenant_id), REVISION_KEY, uuid.uuid4().hex)


def _now() -> int:
    return int(time.time())


# --- declared flags ---------------------------------------------------------------------------


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
    updated_at = _now()
    store.set_json(space, key, {"enabled": enabled, "updated_at": updated_at})
    _changed(tenant_id)
    return updated_at


# --- custom flags and segments ------------------------------------------------------------------


class Documents:
    """Custom flags (`kind="flag"`) or segments (`kind="segment"`) of one tenant, as stored documents."""

    def __init__(self, tenant_id: str, kind: str) -> None:
        self.tenant_id, self.kind = tenant_id, kind
        self.prefix = SEGMENT_PREFIX if kind == "segment" else ""
        self.model = Segment if kind == "segment" else FlagDefinition
        self.limit = MAX_SEGMENTS if kind == "segment" else MAX_FLAGS

    def _stored_key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def _missing(self, key: str) -> NotFound:
        return NotFound(f"no {self.kind} {key!r} in this tenant", code=NOT_FOUND)

    def all(self) -> list[dict[str, Any]]:
        """Every document of this kind, by key."""
        stored = flux_state().store.items_json(namespace(self.tenant_id), self.prefix)
        return [doc for key, doc in stored.items() if kind_of(key, doc) == self.kind]

    def get(self, key: str) -> dict[str, Any]:
        document = flux_state().store.get_json(namespace(self.tenant_id), self._stored_key(key))
        if document is None or "definition" not in document:
            raise self._missing(key)
        return document

    def create(self, definition: FlagDefinition | Segment) -> dict[str, Any]:
        tenant_settings.lock_tenant(self.tenant_id)
        key = definition.key
        if self.kind == "flag" and key in declared():
            raise Conflict(
                f"{key!r} is a declared flag: switch it at /settings/feature-flags/{key}", code=ALREADY_EXISTS
            )
        existing = flux_state().store.get(namespace(self.tenant_id), self._stored_key(key))
        if existing is not None:
            raise Conflict(f"the {self.kind} {key!r} exists already in this tenant", code=ALREADY_EXISTS)
        if len(self.all()) >= self.limit:
            raise Conflict(f"a tenant may have at most {self.limit} {self.kind}s; delete one first", code=TOO_MANY)
        self._check_segments(definition)
        return self._write(definition, version=1, action="create")

    def replace(self, key: str, definition: FlagDefinition | Segment) -> dict[str, Any]:
        tenant_settings.lock_tenant(self.tenant_id)
        return self._next_version(self.get(key), definition)

    def change(self, key: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The fields given over the stored definition (`{"enabled": false}`), checked whole, as a new version."""
        tenant_settings.lock_tenant(self.tenant_id)
        current = self.get(key)
        return self._next_version(current, parse(self.model, {**current["definition"], **fields, "key": key}))

    def _next_version(self, current: dict[str, Any], definition: FlagDefinition | Segment) -> dict[str, Any]:
        self._check_segments(definition)
        return self._write(definition, version=current["version"] + 1, action="update")

    def delete(self, key: str) -> None:
        tenant_settings.lock_tenant(self.tenant_id)
        self.get(key)
        if self.kind == "segment":
            users = sorted(
                flag["definition"]["key"]
                for flag in Documents(self.tenant_id, "flag").all()
                if key in _segments_of(flag)
            )
            if users:
                raise Conflict(f"flags still name the segment {key!r}: {', '.join(users)}", code=SEGMENT_IN_USE)
        audit.record(f"{self.kind}.delete", f"{self.kind}s/{key}", key=key)
        flux_state().store.delete(namespace(self.tenant_id), self._stored_key(key))
        _changed(self.tenant_id)

    def _check_segments(self, definition: FlagDefinition | Segment) -> None:
        """A flag names only segments that exist (a segment deleted later is refused while named)."""
        if self.kind != "flag":
            return
        named = _segments_of({"definition": definition.model_dump(mode="json")})
        known = {doc["definition"]["key"] for doc in Documents(self.tenant_id, "segment").all()}
        missing = sorted(named - known)
        if missing:
            raise NotFound(f"no segment {missing[0]!r} in this tenant: create it first", code=NOT_FOUND)

    def _write(self, definition: FlagDefinition | Segment, version: int, action: str) -> dict[str, Any]:
        document = {"definition": definition.model_dump(mode="json"), "version": version, "updated_at": _now()}
        audit.record(f"{self.kind}.{action}", f"{self.kind}s/{definition.key}", key=definition.key, version=version)
        flux_state().store.set_json(namespace(self.tenant_id), self._stored_key(definition.key), document)
        _changed(self.tenant_id)
        return document


def kind_of(key: str, document: Any) -> str:
    """What a stored key holds: a `segment`, a custom `flag`, a declared flag's `switch`, or `meta`."""
    if key.startswith(SEGMENT_PREFIX):
        return "segment"
    if ":" in key:
        return "meta"
    return "flag" if "definition" in document else "switch"


def flags() -> Documents:
    """The request's tenant's custom flags."""
    return Documents(current_tenant_id(), "flag")


def segments() -> Documents:
    """The request's tenant's segments."""
    return Documents(current_tenant_id(), "segment")


def _segments_of(document: dict[str, Any]) -> set[str]:
    definition = document["definition"]
    return {
        condition["value"]
        for rule in definition.get("rules", ())
        for condition in rule["conditions"]
        if condition["operator"] in SEGMENT
    }
