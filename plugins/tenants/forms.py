"""The Tenants page's forms: WTForms fields read the post, the API's own models judge them where one exists.

Adding a member names the account by e-mail or id (a person knows the e-mail), so that
form is judged by WTForms and the store then finds the account; the role's choices are
the API's `Role`.
"""

from __future__ import annotations

from typing import Any, get_args

from wtforms import SelectChoice, SelectField, StringField, ValidationError
from wtforms.validators import DataRequired, Length

from flux.api import SchemaForm, stripped
from plugins.tenants.schemas import Role, TenantCreate, TenantPath

# The longest e-mail address an account may have; an id is shorter.
MAX_ACCOUNT_LENGTH = 320


class TenantForm(SchemaForm):
    schema = TenantCreate
    slug = StringField("Slug", filters=[stripped])
    name = StringField("Name", filters=[stripped])

    def schema_input(self) -> dict[str, Any]:
        return {"slug": self.slug.data or "", "name": self.name.data or ""}


class SwitchForm(SchemaForm):
    """The header's tenant switcher: a tenant id or slug, as the API's paths take one."""

    schema = TenantPath
    tenant = StringField("Tenant")

    def schema_input(self) -> dict[str, Any]:
        return {"id": self.tenant.data or ""}


class HardDeleteForm(SchemaForm):
    """Deleting a tenant for good needs its slug typed again: checked here, on the server, not only in the page."""

    confirm_slug = StringField("Type the tenant's slug to confirm", filters=[stripped])

    def __init__(self, slug: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slug = slug

    def validate_confirm_slug(self, field: StringField) -> None:
        if field.data != self.slug:
            raise ValidationError(f"type {self.slug!r} exactly to delete this tenant and all its data for good")


class MemberForm(SchemaForm):
    account = StringField(
        "Account (e-mail or id)",
        filters=[stripped],
        validators=[DataRequired("name an account by its e-mail address or id"), Length(max=MAX_ACCOUNT_LENGTH)],
    )
    role = SelectField("Role", choices=[SelectChoice(role, role.replace("_", " ")) for role in get_args(Role)])
