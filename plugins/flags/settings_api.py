"""Seed 002's settings API: tenant settings by category and the feature-flag switches.

Served at the seed's paths (`/api/admin/settings…`) and under `/api/v1/admin/settings…`
(where `custom` stays the settings plugin's). The tenant is the request's, as for
every call. A category's `GET` answers an `ETag`; a `PUT` or `reset` with `If-Match`
changes nothing unless it still matches (412), as Vault's check-and-set.
"""

from __future__ import annotations

import time

from flask import Response, request

from flux.api import (
    ADMIN_ROLES,
    NOT_FOUND,
    ApiBlueprint,
    Tag,
    answer,
    current_tenant_id,
    db,
    error_codes,
    raises,
    require,
    tenant_settings,
)
from plugins.flags import store
from plugins.flags.schemas import (
    AllSettings,
    CategoryPath,
    FeatureFlagOut,
    FeatureFlags,
    FlagPath,
    FlagToggle,
    FlagToggled,
    SettingsReset,
    SettingsUpdated,
    SettingsValues,
)

READ, WRITE = "tenant_settings:read", "tenant_settings:write"
CHANGE_CODES = (NOT_FOUND, tenant_settings.UNKNOWN_SETTING, tenant_settings.PRECONDITION_FAILED)
TAG = Tag(name="tenant settings and feature flags (seed 002)")

seed_api = ApiBlueprint("tenant_settings_seed", __name__, url_prefix="/api/admin/settings", abp_tags=[TAG])
v1_api = ApiBlueprint("tenant_settings", __name__, url_prefix="/api/v1/admin/settings", abp_tags=[TAG])


def tagged(response: Response, etag: str) -> Response:
    response.set_etag(etag)
    return response


@seed_api.get("", responses={200: AllSettings})
@v1_api.get("", responses={200: AllSettings})
@require(*ADMIN_ROLES, scope=READ)
def all_settings():
    """Every category's values for the request's tenant: stored, else environment, else default."""
    values = tenant_settings.read_all(current_tenant_id())
    return tagged(answer(AllSettings(values)), tenant_settings.etag_of(values))


@seed_api.get("/feature-flags", responses={200: FeatureFlags})
@v1_api.get("/feature-flags", responses={200: FeatureFlags})
@require(*ADMIN_ROLES, scope=READ)
def feature_flags():
    flags = [
        FeatureFlagOut(
            key=flag.key,
            display_name=flag.display_name,
            description=flag.description,
            enabled=store.is_enabled(flag, state),
            category=flag.category,
            impact=flag.impact,
        )
        for flag, state in store.declared_states(current_tenant_id())
    ]
    return answer(FeatureFlags(flags=flags))


@seed_api.put("/feature-flags/<flag>", responses={200: FlagToggled})
@v1_api.put("/feature-flags/<flag>", responses={200: FlagToggled})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(NOT_FOUND)
def toggle_flag(path: FlagPath, body: FlagToggle):
    """`{"enabled": true|false}`; any other value is a 400."""
    updated_at = store.set_declared(current_tenant_id(), path.flag, body.enabled)
    db.session.commit()
    return answer(FlagToggled(key=path.flag, enabled=body.enabled, updated_at=updated_at))


@seed_api.post("/reset/<category>", responses={200: SettingsReset})
@v1_api.post("/reset/<category>", responses={200: SettingsReset})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(NOT_FOUND, tenant_settings.PRECONDITION_FAILED)
def reset_category(path: CategoryPath):
    """Forget the tenant's stored values of a category: the environment's or the defaults apply again."""
    applied = tenant_settings.apply(current_tenant_id(), path.category, {}, if_match=_if_match(), reset=True)
    db.session.commit()
    reset = SettingsReset(category=path.category, reset_at=int(time.time()))
    return tagged(answer(reset), applied.etag)


@seed_api.get("/<category>", responses={200: SettingsValues})
@v1_api.get("/<category>", responses={200: SettingsValues})
@require(*ADMIN_ROLES, scope=READ)
@raises(NOT_FOUND)
def get_category(path: CategoryPath):
    values = tenant_settings.read(path.category, current_tenant_id())
    return tagged(answer(SettingsValues(values)), tenant_settings.etag_of(values))


@seed_api.put("/<category>", responses={200: SettingsUpdated})
@v1_api.put("/<category>", responses={200: SettingsUpdated})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(*CHANGE_CODES, error_codes.INVALID_BODY)
def update_category(path: CategoryPath, body: SettingsValues):
    """Deep-merge the body into the category; `null` forgets a stored value (or a group's)."""
    category = tenant_settings.catalog().category(path.category)
    updates = category.leaf_updates(body.root)
    applied = tenant_settings.apply(current_tenant_id(), path.category, updates, if_match=_if_match())
    db.session.commit()
    updated = SettingsUpdated(category=path.category, changes=applied.changes, updated_at=int(time.time()))
    return tagged(answer(updated), applied.etag)


def _if_match():
    return request.if_match if "If-Match" in request.headers else None
