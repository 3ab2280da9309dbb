"""The forms of the service-key page, validated before anything reaches the core.

Sign-in and first-run setup have no form classes: the core's `authenticate` and
`first_admin` already validate every field, and the dashboard shows their messages.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from flux.auth.scopes import known_scopes
from flux.db import utcnow


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


class CreateKeyForm(DashboardForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    scopes = CheckboxesField("Scopes")
    expires_on = DateField("Expires on (UTC, optional)", validators=[Optional()])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The scopes the loaded plugins registered, so they are known per app, not at import.
        self.scopes.choices = [SelectChoice(scope) for scope in sorted(known_scopes())]

    def validate_scopes(self, field: CheckboxesField) -> None:
        # Not `DataRequired`: its `required` flag would make the browser demand every checkbox.
        if not field.data:
            raise ValidationError("Pick at least one scope.")

    def validate_expires_on(self, field: DateField) -> None:
        if field.data is not None and field.data <= utcnow().date():
            raise ValidationError("Pick a day after today.")

    def expires_at(self) -> datetime | None:
        """The start of the chosen day in UTC: the key stops working at that moment."""
        chosen: date | None = self.expires_on.data
        return datetime.combine(chosen, time.min, tzinfo=UTC) if chosen else None


# Hours the replaced key keeps working after a rotation (the API's grace_period_hours).
GRACE_PERIODS = {0: "not at all", 1: "for 1 hour", 24: "for 1 day", 168: "for 7 days", 720: "for 30 days"}


class RotateForm(DashboardForm):
    grace_hours = SelectField(
        "Old key keeps working",
        choices=[SelectChoice(hours, label) for hours, label in GRACE_PERIODS.items()],
        coerce=int,
        default=24,
    )
    reason = StringField("Reason", validators=[Optional(), Length(max=2000)])
