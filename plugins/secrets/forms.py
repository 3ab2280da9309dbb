"""The Secrets page's forms: WTForms fields read the post, the API's own models judge them.

Values are write-only: the value fields are password boxes and no form hands one back
(`kept` leaves it out).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wtforms import BooleanField, PasswordField, StringField

from flux.api import SchemaForm, stripped
from plugins.secrets.models import FunctionSecret
from plugins.secrets.schemas import FunctionSecretChange, FunctionSecretCreate

# What a refused new secret keeps in its form: everything but the value.
KEPT_FIELDS = ("name", "scope", "namespace", "description", "expires_at")


def expiry_day(moment: datetime | None) -> str:
    """A stored expiry as the forms' date field shows it (its UTC day), or "" for none."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else ""


class ExpiryField(StringField):
    """A day (or day and time) read as the API's RFC 3339 time in UTC, which the model then checks.

    A day means its start in UTC, as on the Service keys page: functions stop getting
    the secret at that moment. Empty means "never expires". `text` is what was typed.
    """

    text = ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.text = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        if not self.text:
            return
        try:
            moment = datetime.fromisoformat(self.text)
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except (ValueError, OverflowError):  # not a time, or one past the year 9999 in UTC
            raise ValueError("the expiry must be a day, e.g. 2030-01-31") from None
        self.data = moment.isoformat()

    def _value(self) -> str:
        return self.text


class SecretForm(SchemaForm):
    """A new secret; a namespace without a scope means scope `namespace` (the model decides)."""

    schema = FunctionSecretCreate
    name = StringField("Name", filters=[stripped])
    value = PasswordField("Value")
    scope = StringField("Scope")
    namespace = StringField("Namespace", filters=[stripped])
    description = StringField("Description")
    expires_at = ExpiryField("Expires on")

    def schema_input(self) -> dict[str, Any]:
        return {**super().schema_input(), "scope": self.scope.data or None, "namespace": self.namespace.data or ""}

    def kept(self) -> dict[str, str]:
        """What the page shows again after a refusal: what was typed, never the value."""
        return {name: self[name]._value() for name in KEPT_FIELDS}


class SecretChangeForm(SchemaForm):
    """Changes what differs from the `stored` secret: an empty value keeps it, an empty expiry clears it.

    A field the post leaves out changes nothing.
    """

    schema = FunctionSecretChange
    value = PasswordField("New value")
    description = StringField("Description")
    expires_at = ExpiryField("Expires on")

    def __init__(self, stored: FunctionSecret, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stored = stored

    def schema_input(self) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if self.value.data:
            changes["value"] = self.value.data
        if self.description.raw_data and self.description.data != self.stored.description:
            changes["description"] = self.description.data
        if self.expires_at.raw_data and self.expires_at.text != expiry_day(self.stored.expires_at):
            changes["expires_at"] = self.expires_at.data
        return changes


class DeleteForm(SchemaForm):
    confirm = BooleanField("Delete it and its whole history")
