"""The Tenant settings and Feature flags pages' forms.

A settings category has no form class: its fields are made from the category model's
leaves (`setting_fields`), so a category any plugin registers gets its form with no
code here, and the posted text is turned back into typed values (`posted_values`) that
the core then judges as it judges the API's bodies.

Custom flags and segments are WTForms forms whose JSON boxes are parsed here; the view
hands `definition_input()` to `FlagDefinition` or `Segment` (`parse`), so the page
refuses with the API's own words and paths (`rules.0.variant: …`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, Field, SelectField, StringField, TextAreaField
from wtforms.utils import unset_value

from flux.api import BadRequest, SchemaForm, error_codes, parse_json, stripped, tenant_settings
from plugins.flags.definitions import DEFAULT_BOOLEAN_VARIANTS, FlagType

# --- a settings category's fields -------------------------------------------------------------


def _bare(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def leaf_kind(annotation: Any) -> tuple[str, tuple[str, ...]]:
    """How a leaf is edited: `bool`, `int`, `text`, `lines` (a list) or `choices` (a list of a Literal's values)."""
    bare = _bare(annotation)
    if bare is bool:
        return "bool", ()
    if bare is int:
        return "int", ()
    if get_origin(bare) is list:
        item = _bare(get_args(bare)[0])
        return ("choices", get_args(item)) if get_origin(item) is Literal else ("lines", ())
    return "text", ()


@dataclass(frozen=True)
class SettingField:
    """One leaf as the page shows it: `value` ready for its input, `source` where the current value comes from."""

    path: str
    kind: str
    value: Any
    source: str  # "stored", "environment" or "default"
    choices: tuple[str, ...] = ()


def _shown(kind: str, value: Any) -> Any:
    return "\n".join(value) if kind == "lines" else value


def setting_fields(
    category: tenant_settings.Category, values: Mapping[str, Any], stored: set[str], typed: MultiDict | None = None
) -> list[SettingField]:
    """The category's leaves with their current `values` (flat), or what was `typed` into a refused form."""
    fields = []
    for path, annotation in category.leaves.items():
        kind, choices = leaf_kind(annotation)
        if path in stored:
            source = "stored"
        else:
            source = "environment" if category.base[path] != category.defaults[path] else "default"
        value = _shown(kind, values[path]) if typed is None else _typed(kind, typed, path)
        fields.append(SettingField(path, kind, value, source, choices))
    return fields


def _typed(kind: str, form: MultiDict, path: str) -> Any:
    if kind == "bool":
        return path in form
    return form.getlist(path) if kind == "choices" else form.get(path, "")


def posted_values(
    category: tenant_settings.Category, form: MultiDict, current: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """Every leaf's value as posted: an absent checkbox is false, a list is one item per line.

    Checked choices keep their `current` order (the page lists them in the schema's), so
    the same choices are no change. A number that is no whole number is a 400 naming the
    leaf (after `where`); every other rule is the category model's, checked by the caller.
    """
    values: dict[str, Any] = {}
    for path, annotation in category.leaves.items():
        kind, _ = leaf_kind(annotation)
        if kind == "bool":
            values[path] = path in form
        elif kind == "choices":
            chosen = form.getlist(path)
            values[path] = [item for item in current[path] if item in chosen]
            values[path] += [item for item in chosen if item not in current[path]]
        elif kind == "lines":
            values[path] = [line.strip() for line in form.get(path, "").splitlines() if line.strip()]
        elif kind == "int":
            try:
                values[path] = int(form.get(path, "").strip())
            except ValueError:
                raise BadRequest(f"{where}{path}: must be a whole number", code=error_codes.INVALID_FIELD) from None
        else:
            values[path] = form.get(path, "").strip()
    return values


# --- custom flags and segments ----------------------------------------------------------------


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


class JsonField(TextAreaField):
    """A box of JSON; `value` is what it holds, None when blank. Text that is no JSON is the field's error."""

    value: Any = None

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        text = (self.data or "").strip()
        if text:
            try:
                self.value = parse_json(text)
            except ValueError as error:
                raise ValueError(f"not JSON: {error}") from None


class RolloutField(Field):
    """Rows of (variant, weight), posted as `<name>_variant` and `<name>_weight` pairs; blank weights are left out."""

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        super().process(None, data, extra_filters)
        if formdata is not None:
            pairs = zip(formdata.getlist(f"{self.name}_variant"), formdata.getlist(f"{self.name}_weight"), strict=False)
            self.data = [(variant.strip(), weight.strip()) for variant, weight in pairs]

    def splits(self) -> list[dict[str, str]] | None:
        """The rollout as the API takes it (the model reads the weights' digits), or None for no rollout."""
        return [{"variant": variant, "weight": weight} for variant, weight in self.data or () if weight] or None


class FlagForm(SchemaForm):
    key = StringField("Key", filters=[stripped])
    type = SelectField("Type", choices=list(get_args(FlagType)))
    display_name = StringField("Display name", filters=[stripped])
    description = TextAreaField("Description")
    enabled = BooleanField("Enabled")
    variants = JsonField("Variants (JSON; blank for a boolean flag's on and off)")
    default_variant = StringField("Default variant", filters=[stripped])
    off_variant = StringField("Off variant", filters=[stripped])
    rules = JsonField("Rules (JSON list)")
    rollout = RolloutField("Rollout", default=list)

    @classmethod
    def blank(cls) -> FlagForm:
        rows = [(name, "") for name in DEFAULT_BOOLEAN_VARIANTS]
        return cls(formdata=None, data={"enabled": True, "rules": "[]", "rollout": rows})

    @classmethod
    def showing(cls, definition: dict[str, Any]) -> FlagForm:
        """The edit form of a stored definition: JSON pretty-printed, a rollout row for every variant."""
        rows = [(split["variant"], str(split["weight"])) for split in definition.get("rollout") or ()]
        rows += [(name, "") for name in definition["variants"] if name not in {variant for variant, _ in rows}]
        shown = {"variants": pretty(definition["variants"]), "rules": pretty(definition["rules"]), "rollout": rows}
        return cls(formdata=None, data={**definition, **shown})

    def definition_input(self) -> dict[str, Any]:
        """The fields as a `FlagDefinition` body; blanks leave the model's defaults."""
        return {
            "key": self.key.data or "",
            "type": self.type.data,
            "display_name": self.display_name.data or "",
            "description": self.description.data or "",
            "enabled": self.enabled.data,
            "variants": self.variants.value,
            "default_variant": self.default_variant.data or None,
            "off_variant": self.off_variant.data or None,
            "rules": [] if self.rules.value is None else self.rules.value,
            "rollout": self.rollout.splits(),
        }


class SegmentForm(SchemaForm):
    key = StringField("Key", filters=[stripped])
    description = StringField("Description")
    conditions = JsonField("Conditions (JSON list)")

    def definition_input(self) -> dict[str, Any]:
        conditions = self.conditions.value
        return {"key": self.key.data or "", "description": self.description.data or "", "conditions": conditions}
