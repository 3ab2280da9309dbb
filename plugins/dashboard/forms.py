"""The forms of the service-key page: the fields to show and read; the rules are the API's.

The page checks what a form read with the API's own models (`flux.auth.key_schemas`,
through `flux.schemas.parse`), so a key made in the dashboard meets exactly the rules
of one made through the API. Sign-in and first-run setup have no form classes: their
fields go through the API's models too (`flux.auth.schemas`).
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from flux.api import known_scopes


class DashboardForm(FlaskForm):
    """Base of the dashboard's forms.

    The dashboard blueprint checks the CSRF token of every unsafe request, forms with
    only a button included, so the forms do not check it a second time.
    """

    class Meta:
        csrf = False


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# The field of `CreateKeyForm` that holds each field of the API's `KeyCreate`.
CREATE_KEY_FIELDS = {"name": "name", "description": "description", "scopes": "scopes", "expires_at": "expires_on"}


class CreateKeyForm(DashboardForm):
    name = StringField("Name", render_kw={"required": True})
    description = TextAreaField("Description")
    scopes = CheckboxesField("Scopes")
    expires_on = DateField("Expires on (UTC, optional)", validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The scopes the loaded plugins registered, so they are known per app, not at import.
        self.scopes.choices = [SelectChoice(scope) for scope in sorted(known_scopes())]

    def api_body(self) -> dict[str, Any]:
        """The fields as a `KeyCreate` body; a key expires at the start of the chosen day in UTC."""
        day = self.expires_on.data
        return {
            "name": self.name.data or "",
            "description": self.description.data or None,
            "scopes": self.scopes.data or [],
            "expires_at": f"{day.isoformat()}T00:00:00Z" if day else None,
        }


# Hours the replaced key keeps working after a rotation (the API's grace_period_hours).
GRACE_PERIODS = {0: "not at all", 1: "for 1 hour", 24: "for 1 day", 168: "for 7 days", 720: "for 30 days"}


class RotateForm(DashboardForm):
    grace_hours = SelectField(
        "Old key keeps working",
        choices=[SelectChoice(hours, label) for hours, label in GRACE_PERIODS.items()],
        coerce=int,
        default=24,
    )
    reason = StringField("Reason")
