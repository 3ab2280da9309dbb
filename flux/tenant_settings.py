"""Tenant settings by category (seed 002): typed, with defaults, resolved stored > environment > code.

A category is a pydantic model whose fields all have defaults, registered by a plugin
(`register_setting_categories`); a nested model is a group, every other field a leaf.
A tenant's stored values live in the key-value store, one key per leaf
(`authentication.password_policy.min_length`) in the namespace `tenant:<id>:settings`,
which the tenants plugin's `/admin/tenants/{id}/settings` reads and writes too, so both
APIs see the same values. A leaf with no stored value takes
`FLUXBASE_SETTINGS_<CATEGORY>_<PATH>` (read once, at start-up) or else its default.

Every change goes through `apply`: the tenant's row is locked (so a check-and-set holds
between two writers), the whole category is validated, and the diff is audited as
`settings.update` in the same transaction as the writes: no audit record, no change.
Category values are configuration, not secrets, so the audit keeps them; a secret
(an SMTP password, a webhook signing key) belongs in the secrets plugin, named by a setting.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from werkzeug.datastructures import ETags

from flux import audit, error_codes
from flux.config import ConfigError
from flux.db import db
from flux.errors import ApiError, BadRequest, NotFound
from flux.schemas import as_api_error
from flux.tenancy import Tenant, current_tenant_id

log = logging.getLogger("flux.settings")

ENV_PREFIX = "FLUXBASE_SETTINGS_"
CATEGORY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
RESERVED_NAMES = frozenset({"custom", "feature_flags", "reset"})  # paths of their own beside the categories

UNKNOWN_SETTING = error_codes.register(
    "UNKNOWN_SETTING", 400, "No such setting in this category; the message lists the known ones."
)
PRECONDITION_FAILED = error_codes.register(
    "PRECONDITION_FAILED", 412, "`If-Match` names a version that is no longer current: read again, then retry."
)


class SettingsGroup(BaseModel):
    """The base of a category and of its groups: unknown fields are refused, never ignored."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _group_model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _leaf_paths(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    """Every leaf of `model` as `{dotted path: its annotation}`."""
    leaves: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        group = _group_model(field.annotation)
        if group is not None:
            leaves.update(_leaf_paths(group, f"{prefix}{name}."))
        else:
            leaves[prefix + name] = (
                typing.Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
            )
    return leaves


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` as `{"a.b": 1}` (only dicts are descended into)."""
    flat: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{name}."))
        else:
            flat[prefix + name] = value
    return flat


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        *groups, leaf = path.split(".")
        branch = nested
        for group in groups:
            branch = branch.setdefault(group, {})
        branch[leaf] = value
    return nested


def etag_of(values: Any) -> str:
    """A strong validator of settings' values: the same values give the same tag on every node."""
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return digest[:24]


@dataclass(frozen=True)
class Category:
    """One registered category: its model, its leaves, and their values before any tenant's."""

    name: str
    model: type[SettingsGroup]
    leaves: dict[str, Any]
    defaults: dict[str, Any]  # the code's, by leaf
    base: dict[str, Any]  # the defaults, with the environment's values over them

    @property
    def description(self) -> str:
        return (self.model.__doc__ or "").strip().split("\n")[0]

    def validated(self, flat: Mapping[str, Any], where: str = "") -> dict[str, Any]:
        """`flat` checked against the model as a whole; a 400 naming the field (prefixed by `where`)."""
        try:
            checked = self.model.model_validate(unflatten(flat))
        except ValidationError as error:
            problem = as_api_error(error)
            problem.message = f"{where}{problem.message}"
            raise problem from None
        return flatten(checked.model_dump(mode="json"))

    def leaf_updates(self, partial: Any, where: str = "", group: str = "") -> dict[str, Any]:
        """A partial body (`{"password_policy": {"min_length": 12}}`, or dotted keys) as `{leaf: value}`.

        `null` for a leaf or a group removes the stored values under it; an unknown name is
        a 400 naming it (prefixed by `where`).
        """
        if not isinstance(partial, dict):
            subject = f"{where}{group.rstrip('.')}" or "the body"
            raise BadRequest(f"{subject} must be a JSON object of settings", code=error_codes.INVALID_FIELD)
        updates: dict[str, Any] = {}
        for name, given in partial.items():
            path = f"{group}{name}"
            under = [leaf for leaf in self.leaves if leaf.startswith(f"{path}.")]
            if path in self.leaves:
                updates[path] = given
            elif under and given is None:
                updates.update(dict.fromkeys(under))
            elif under:
                updates.update(self.leaf_updates(given, where, f"{path}."))
            else:
                raise self.unknown(where + path)
        return updates

    def key_updates(self, key: str, given: Any) -> dict[str, Any]:
        """A dotted tenant-setting key (`authentication.lockout.max_attempts`, or a category's name) as leaf updates."""
        path = key.partition(".")[2]
        if not path:
            return dict.fromkeys(self.leaves) if given is None else self.leaf_updates(given, f"{self.name}.")
        return self.leaf_updates({path: given}, f"{self.name}.")

    def unknown(self, path: str) -> ApiError:
        known = ", ".join(sorted(self.leaves))
        return BadRequest(f"{path}: no such setting in {self.name!r}; it has {known}", code=UNKNOWN_SETTING)


class SettingCatalog:
    """Every registered category, built once per app from the plugins' answers and the environment."""

    def __init__(
        self, answers: Iterable[tuple[str, Mapping[str, type[SettingsGroup]] | None]], sources: Mapping[str, Any]
    ) -> None:
        """`sources`: `FLUXBASE_SETTINGS_*` names to values (`ConfigLayers.settings_sources`)."""
        self.categories: dict[str, Category] = {}
        owners: dict[str, str] = {}
        for plugin, categories in answers:
            for name, model in (categories or {}).items():
                self._check(plugin, name, model, owners)
                owners[name] = plugin
                self.categories[name] = self._category(name, model, sources)
        self.categories = dict(sorted(self.categories.items()))
        self.changes = 0  # settings changes this process applied: copies derived from settings compare it
        self._warn_unknown_variables(sources)

    @staticmethod
    def _check(plugin: str, name: str, model: Any, owners: dict[str, str]) -> None:
        if not isinstance(name, str) or not CATEGORY_NAME.match(name) or name in RESERVED_NAMES:
            raise ConfigError(f"plugin {plugin} registers a settings category named {name!r}: use [a-z][a-z0-9_]*")
        if name in owners:
            raise ConfigError(f"plugin {plugin} registers the settings category {name!r} of plugin {owners[name]}")
        if not (isinstance(model, type) and issubclass(model, SettingsGroup)):
            raise ConfigError(f"plugin {plugin}: settings category {name!r} must be a flux.api.SettingsGroup")

    def _category(self, name: str, model: type[SettingsGroup], sources: Mapping[str, Any]) -> Category:
        leaves = _leaf_paths(model)
        defaults = flatten(model().model_dump(mode="json"))
        base = dict(defaults)
        for path, annotation in leaves.items():
            variable = variable_name(name, path)
            if variable in sources:
                base[path] = _from_environment(variable, sources[variable], annotation)
        category = Category(name, model, leaves, defaults, defaults)
        try:
            base = category.validated(base)
        except ApiError as error:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}_…: {error.message}") from None
        return Category(name, model, leaves, defaults, base)

    def _warn_unknown_variables(self, sources: Mapping[str, Any]) -> None:
        known = {variable_name(name, path) for name, category in self.categories.items() for path in category.leaves}
        for variable in sorted(name for name in sources if name.startswith(ENV_PREFIX) and name not in known):
            log.warning("%s names no tenant setting; see `GET /api/v1/admin/settings` for the categories", variable)

    def category(self, name: str) -> Category:
        category = self.categories.get(name)
        if category is None:
            known = ", ".join(self.categories)
            raise NotFound(f"no settings category {name!r}; the categories are {known}", code=error_codes.NOT_FOUND)
        return category

    def owner_of(self, key: str) -> Category | None:
        """The category a dotted tenant-setting key falls in (`authentication.…`), if any."""
        return self.categories.get(key.split(".", 1)[0])


def variable_name(category: str, path: str) -> str:
    return f"{ENV_PREFIX}{category}_{path.replace('.', '_')}".upper()


def _from_environment(variable: str, raw: Any, annotation: Any) -> Any:
    """A value as an operator writes it: `12`, `true`, `a,b` or JSON (`["a", "b"]`)."""
    adapter = TypeAdapter(annotation)
    candidates: list[Any] = [raw]
    if isinstance(raw, str):  # the instance file and tests give Python values
        try:
            candidates.append(json.loads(raw))
        except ValueError:
            pass
        candidates.append([item.strip() for item in raw.split(",") if item.strip()])
    for candidate in candidates:
        try:
            return adapter.validate_python(candidate, strict=False)
        except ValidationError:
            continue
    raise ConfigError(f"{variable}={raw!r} does not fit the setting's type ({adapter.json_schema().get('type')})")


# --- per tenant --------------------------------------------------------------------------------


def namespace(tenant_id: str) -> str:
    return f"tenant:{tenant_id}:settings"


def catalog() -> SettingCatalog:
    from flux.app import flux_state  # the app module imports this one

    return flux_state().settings


def _store():
    from flux.app import flux_state

    return flux_state().store


def _own(stored: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Category `name`'s stored values out of a tenant's settings, by path within the category."""
    prefix = f"{name}."
    return {key.removeprefix(prefix): value for key, value in stored.items() if key.startswith(prefix)}


def _stored(tenant_id: str, category: Category) -> dict[str, Any]:
    return _own(_store().items_json(namespace(tenant_id), f"{category.name}."), category.name)


def stored_by_category(tenant_id: str) -> dict[str, dict[str, Any]]:
    """Each category's stored values (by path within it), from one read of the tenant's settings."""
    stored = _store().items_json(namespace(tenant_id))
    return {name: _own(stored, name) for name in catalog().categories}


def _resolved(category: Category, stored: Mapping[str, Any]) -> dict[str, Any]:
    return {**category.base, **{path: value for path, value in stored.items() if path in category.leaves}}


def resolved(name: str, stored: Mapping[str, Any]) -> dict[str, Any]:
    """A category's values, nested, given its stored ones (`stored_by_category`): the rest are the base's."""
    return unflatten(_resolved(catalog().category(name), stored))


def read(name: str, tenant_id: str | None = None) -> dict[str, Any]:
    """A category's values for a tenant (the current one by default), nested as the seed shows them."""
    category = catalog().category(name)
    return unflatten(_resolved(category, _stored(tenant_id or current_tenant_id(), category)))


def read_all(tenant_id: str) -> dict[str, dict[str, Any]]:
    """Every category's values, from one read of the tenant's stored settings."""
    return {name: resolved(name, stored) for name, stored in stored_by_category(tenant_id).items()}


def server_values(name: str) -> dict[str, Any]:
    """A category's values before any tenant's (environment, else code): what no tenant admin can change."""
    return unflatten(catalog().category(name).base)


def value(key: str, tenant_id: str | None = None) -> Any:
    """One leaf (`authentication.lockout.max_attempts`) for a tenant (the current one by default)."""
    name, _, path = key.partition(".")
    category = catalog().category(name)
    if path not in category.leaves:
        raise KeyError(key)
    stored = _store().get_json(namespace(tenant_id or current_tenant_id()), key, default=_ABSENT)
    return category.base[path] if stored is _ABSENT else stored


_ABSENT = object()


@dataclass(frozen=True)
class Applied:
    """What `apply` did: the diff by leaf, and the category's values and tag after it."""

    category: str
    changes: dict[str, dict[str, Any]]
    values: dict[str, Any]
    etag: str


def lock_tenant(tenant_id: str) -> None:
    """Hold the tenant's row until commit: settings writers (and a hard delete) take turns."""
    db.session.execute(sa.select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())


def check_precondition(if_match: ETags | None, current: str) -> None:
    """412 when `If-Match` names neither the current tag nor `*` (Vault's check-and-set).

    The comparison is strong (RFC 9110): a weak tag, or a header that names no tag, never matches.
    """
    if if_match is not None and not if_match.contains(current):
        raise ApiError(
            "the settings changed since you read them (If-Match does not match the ETag): read again, then retry",
            code=PRECONDITION_FAILED,
            status=412,
            headers={"ETag": f'"{current}"'},
        )


def _after(category: Category, stored: Mapping[str, Any], updates: Mapping[str, Any], where: str) -> dict[str, Any]:
    kept = {path: value for path, value in {**stored, **updates}.items() if value is not None}
    return category.validated(_resolved(category, kept), where)


def check(tenant_id: str, name: str, updates: Mapping[str, Any], *, where: str = "") -> None:
    """The 400 `apply` would raise for these updates, with nothing locked, audited or written.

    A change of several categories checks them all before it applies any: a store
    outside the transaction (`memory`) would otherwise keep the first ones.
    """
    category = catalog().category(name)
    _after(category, _stored(tenant_id, category), updates, where)


def apply(
    tenant_id: str,
    name: str,
    updates: Mapping[str, Any],
    *,
    if_match: ETags | None = None,
    where: str = "",
    reset: bool = False,
) -> Applied:
    """Set leaves of one category (`None` removes the stored value), or with `reset` remove them all.

    Locks the tenant, checks `If-Match` against the values read under the lock, validates
    the category as a whole, audits the diff and writes: the caller commits.
    """
    category = catalog().category(name)
    lock_tenant(tenant_id)
    stored = _stored(tenant_id, category)
    before = _resolved(category, stored)
    check_precondition(if_match, etag_of(unflatten(before)))
    if reset:
        updates = dict.fromkeys(stored)
    after = _after(category, stored, updates, where)
    changed = [leaf for leaf in category.leaves if before[leaf] != after[leaf]]
    changes = {leaf: {"old": before[leaf], "new": after[leaf]} for leaf in changed}
    marks = {"reset": True} if reset else {}
    audit.record("settings.update", f"settings/{name}", category=name, changes=changes, **marks)
    store, space = _store(), namespace(tenant_id)
    for path, given in updates.items():
        if given is None:
            store.delete(space, f"{name}.{path}")
        elif path in category.leaves:
            store.set_json(space, f"{name}.{path}", after[path])
    catalog().changes += 1
    values = unflatten(after)
    return Applied(name, changes, values, etag_of(values))
