"""Bodies of the seed's settings API (seed 002), in its shapes."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, JsonValue, RootModel, StrictBool

from flux.api import ApiModel

CategoryName = Annotated[str, Field(min_length=1, max_length=64)]


class CategoryPath(ApiModel):
    category: CategoryName


class FlagPath(ApiModel):
    flag: Annotated[str, Field(min_length=1, max_length=128)]


class SettingsValues(RootModel[dict[str, JsonValue]]):
    """A category's values, nested in groups as its schema has them."""


class AllSettings(RootModel[dict[str, dict[str, JsonValue]]]):
    """Every category's values, by category."""


class Change(ApiModel):
    old: JsonValue
    new: JsonValue


class SettingsUpdated(ApiModel):
    updated: bool = True
    category: str
    changes: dict[str, Change]
    updated_at: int


class SettingsReset(ApiModel):
    reset: bool = True
    category: str
    reset_at: int


class FeatureFlagOut(ApiModel):
    key: str
    display_name: str
    description: str
    enabled: bool
    category: str
    impact: str


class FeatureFlags(ApiModel):
    flags: list[FeatureFlagOut]


class FlagToggle(ApiModel):
    enabled: StrictBool


class FlagToggled(ApiModel):
    key: str
    enabled: bool
    updated_at: int
