"""The System settings page's forms: WTForms fields, judged by the API's own models."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, PasswordField, StringField, TextAreaField

from flux.api import SchemaForm, parse_json, stripped
from plugins.settings.schemas import SecretChange, SecretCreate, SettingChange, SettingCreate


def json_or_text(text: str) -> Any:
    """The value box holds JSON; plain words are taken as a string for convenience.

    Parsed as a request body is, so what the API refuses (too deep, a lone surrogate)
    is a 400 here too.
    """
    try:
        return parse_json(text)
    except ValueError:
        return text


class SettingChangeForm(SchemaForm):
    schema = SettingChange
    value = TextAreaField("Value")
    description = StringField("Description")
    is_public = BooleanField("Public")

    def schema_input(self) -> dict[str, Any]:
        return {**super().schema_input(), "value": json_or_text(self.value.data or "")}


class SettingForm(SettingChangeForm):
    schema = SettingCreate
    key = StringField("Key", filters=[stripped])


class SecretForm(SchemaForm):
    schema = SecretCreate
    key = StringField("Key", filters=[stripped])
    value = PasswordField("Value")
    description = StringField("Description")


class SecretChangeForm(SchemaForm):
    """Blank boxes change nothing: only what is typed is sent on."""

    schema = SecretChange
    value = PasswordField("New value")
    description = StringField("New description")

    def schema_input(self) -> dict[str, Any]:
        return {name: data or None for name, data in super().schema_input().items()}
