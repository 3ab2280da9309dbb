"""The dashboard's own forms (service keys, sign-in, first-run setup): WTForms fields, the API's rules.

Each is a `SchemaForm` judged by the API's own model, so a key made or a sign-in tried
in the dashboard meets exactly the rules of the same call to the API, and each refusal
is shown on its field.
"""

from __future__ import annotations

from typing import Any

from wtforms import (
    DateField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from flux.api import AdminSetup, KeyCreate, KeyDeprecate, KeyRevoke, SchemaForm, Signin, known_scopes, stripped


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CreateKeyForm(SchemaForm):
    schema = KeyCreate
    name = StringField("Name", render_kw={"required": True})
    description = TextAreaField("Description")
    scopes = CheckboxesField("Scopes")
    expires_at = DateField("Expires on (UTC, optional)", name="expires_on", validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The scopes the loaded plugins registered, so they are known per app, not at import.
        self.scopes.choices = [SelectChoice(scope) for scope in sorted(known_scopes())]

    def schema_input(self) -> dict[str, Any]:
        """The fields as a `KeyCreate` body; a key expires at the start of the chosen day in UTC."""
        day = self.expires_at.data
        return {
            "name": self.name.data or "",
            "description": self.description.data or None,
            "scopes": self.scopes.data or [],
            "expires_at": f"{day.isoformat()}T00:00:00Z" if day else None,
        }


# Hours the replaced key keeps working after a rotation (the API's grace_period_hours).
GRACE_PERIODS = {0: "not at all", 1: "for 1 hour", 24: "for 1 day", 168: "for 7 days", 720: "for 30 days"}


class RotateForm(SchemaForm):
    schema = KeyDeprecate
    grace_period_hours = SelectField(
        "Old key keeps working",
        name="grace_hours",
        choices=[SelectChoice(hours, label) for hours, label in GRACE_PERIODS.items()],
        coerce=int,
        default=24,
    )
    reason = StringField("Reason", filters=[stripped])

    def schema_input(self) -> dict[str, Any]:
        return {"grace_period_hours": self.grace_period_hours.data, "reason": self.reason.data or None}


class RevokeForm(SchemaForm):
    """The API allows no reason (the reference SDK sends none); a person says why."""

    schema = KeyRevoke
    reason = StringField(
        "Reason", filters=[stripped], validators=[DataRequired("a reason is required to revoke a key")]
    )


class SigninForm(SchemaForm):
    schema = Signin
    email = StringField("E-mail")
    password = PasswordField("Password")

    def schema_input(self) -> dict[str, Any]:
        return {name: data or "" for name, data in super().schema_input().items()}


class SetupForm(SigninForm):
    schema = AdminSetup
    name = StringField("Name")
    setup_token = PasswordField("Setup token")
