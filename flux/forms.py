"""Dashboard forms whose rules are the API's: Flask-WTF reads the fields, a pydantic model judges them.

A page and the JSON API then refuse the same input with the same words. Subclass
`SchemaForm`, name its `schema`, declare the WTForms fields the page posts; after
`validate()`, `form.model` holds the parsed model and each refusal sits on its field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask_wtf import FlaskForm
from pydantic import BaseModel, ValidationError

from flux.schemas import as_api_error


def stripped(text: str | None) -> str | None:
    """A WTForms filter: names and keys are read without the spaces around them, as a person means them."""
    return text.strip() if text else text


class SchemaForm(FlaskForm):
    """A form validated by `schema` (after any WTForms validators of its fields).

    The dashboard blueprint checks the CSRF token of every unsafe request, forms with
    only a button included, so the forms do not check it a second time.
    """

    class Meta:
        csrf = False

    schema: ClassVar[type[BaseModel] | None] = None
    model: Any = None
    # The status the API gives the same refusal (413 for a value too large), else 400.
    status: int = 400

    def schema_input(self) -> dict[str, Any]:
        """What the model is given: every field's data; override to convert (JSON text, blanks)."""
        return {name: field.data for name, field in self._fields.items()}

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.schema is None:
            return True
        try:
            self.model = self.schema.model_validate(self.schema_input())
        except ValidationError as error:
            failure = as_api_error(error)
            self.status = failure.status
            for problem in failure.extra["details"]:
                name = str(problem["loc"][0]) if problem["loc"] else ""
                field = self._fields.get(name)
                if field is None:
                    self.form_errors.append(problem["msg"])
                else:
                    field.errors.append(problem["msg"])
            return False
        return True

    def messages(self) -> str:
        """Every refusal in one line, each named by its field's label."""
        named = [f"{field.label.text}: {message}" for field in self for message in field.errors]
        return "; ".join([*self.form_errors, *named])
