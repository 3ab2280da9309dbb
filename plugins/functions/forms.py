"""The Functions pages' forms: WTForms fields read the post, the API's own models judge them.

A browser sends a textarea's lines with CRLF; code is stored with the line feeds the
API is given, so a save from the page changes no line ending and stores no version for
code it did not change.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field
from wtforms import SelectField, StringField, TextAreaField

from flux.api import ApiModel, SchemaForm, stripped
from plugins.functions.schemas import (
    MAX_CODE_BYTES,
    FunctionChange,
    FunctionCreate,
    SharedModuleChange,
    SharedModuleCreate,
)

Method = Literal["POST", "GET", "PUT", "PATCH", "DELETE"]  # what the invoke route takes
METHODS = get_args(Method)


def line_feeds(text: str | None) -> str | None:
    """A WTForms filter: CRLF and lone CR (as browsers post a textarea) become LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if text else text


class NewFunctionForm(SchemaForm):
    """A new function: name, namespace (empty: `default`) and code; every other setting at its default."""

    schema = FunctionCreate
    name = StringField("Name", filters=[stripped])
    namespace = StringField("Namespace", filters=[stripped])
    code = TextAreaField("Code", filters=[line_feeds])

    def schema_input(self) -> dict[str, Any]:
        return {"name": self.name.data, "namespace": self.namespace.data or None, "code": self.code.data or ""}


class CodeForm(SchemaForm):
    """New code for a function; an empty box is refused as the API refuses empty code."""

    schema = FunctionChange
    code = TextAreaField("Code", filters=[line_feeds])

    def schema_input(self) -> dict[str, Any]:
        return {"code": self.code.data or ""}


class TestCall(ApiModel):
    """A call made from the function's page: the method and body the function's `req` gets."""

    method: Method = "POST"
    body: str = Field("", max_length=MAX_CODE_BYTES)
    content_type: str = Field("application/json", max_length=200, pattern=r"^[\x20-\x7e]*$")


class TestCallForm(SchemaForm):
    schema = TestCall
    method = SelectField("Method", choices=METHODS, default="POST", validate_choice=False)
    body = TextAreaField("Body", filters=[line_feeds])
    content_type = StringField("Content-Type", default="application/json", filters=[stripped])

    def schema_input(self) -> dict[str, Any]:
        return {
            "method": self.method.data or "POST",
            "body": self.body.data or "",
            "content_type": self.content_type.data or "",
        }


class NewModuleForm(SchemaForm):
    schema = SharedModuleCreate
    module_path = StringField("Path", filters=[stripped])
    description = StringField("Description")
    content = TextAreaField("Content", filters=[line_feeds])

    def schema_input(self) -> dict[str, Any]:
        return {
            "module_path": self.module_path.data or "",
            "description": self.description.data or "",
            "content": self.content.data or "",
        }


class ModuleChangeForm(SchemaForm):
    """New content and description of a module; new content is a new version."""

    schema = SharedModuleChange
    description = StringField("Description")
    content = TextAreaField("Content", filters=[line_feeds])

    def schema_input(self) -> dict[str, Any]:
        return {"description": self.description.data or "", "content": self.content.data or ""}
