"""The Tenant settings page's forms.

A settings category has no form class: its fields are made from the category model's
leaves (`setting_fields`), so a category any plugin registers gets its form with no
code here, and the posted text is turned back into typed values (`posted_values`) that
the core then judges as it judges the API's bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

from werkzeug.datastructures import MultiDict

from flux.api import BadRequest, error_codes, tenant_settings

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
    defaults = tenant_settings.flatten(category.model().model_dump(mode="json"))
    fields = []
    for path, annotation in category.leaves.items():
        kind, choices = leaf_kind(annotation)
        if path in stored:
            source = "stored"
        else:
            source = "environment" if category.base[path] != defaults[path] else "default"
        value = _shown(kind, values[path]) if typed is None else _typed(kind, typed, path)
        fields.append(SettingField(path, kind, value, source, choices))
    return fields


def _typed(kind: str, form: MultiDict, path: str) -> Any:
    if kind == "bool":
        return path in form
    return form.getlist(path) if kind == "choices" else form.get(path, "")


def posted_values(category: tenant_settings.Category, form: MultiDict, where: str) -> dict[str, Any]:
    """Every leaf's value as posted: an absent checkbox is false, a list is one item per line.

    A number that is no whole number is a 400 naming the leaf (after `where`); every other
    rule is the category model's, checked by the caller.
    """
    values: dict[str, Any] = {}
    for path, annotation in category.leaves.items():
        kind, _ = leaf_kind(annotation)
        if kind in ("bool", "choices"):
            values[path] = _typed(kind, form, path)
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
