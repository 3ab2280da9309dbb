"""Pydantic pieces every API shares: the base model, error types, pages of lists.

A field that breaks a rule of its own raises `rule_error(CODE, message)`: the error's
type is the code (registered in `flux.error_codes`), which the translator in
`flux.openapi` answers, so each concept keeps one code whatever plugin checks it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar

import sqlalchemy as sa
from flask import Response, current_app
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    RootModel,
    StrictInt,
    ValidationError,
    WrapValidator,
)
from pydantic_core import PydanticCustomError, to_json

from flux import error_codes
from flux.db import db
from flux.error_codes import INVALID_PAGE
from flux.errors import ApiError

M = TypeVar("M", bound=BaseModel)
TOTAL_HEADER = "X-Total-Count"
MAX_VERSION = 2**31 - 1  # the INTEGER column's range on PostgreSQL
DEFAULT_LIMIT, MAX_LIMIT = 50, 1000
MAX_OFFSET = 2**63 - 1  # what SQLite and PostgreSQL take as OFFSET; beyond, the database refuses (500)


_PLAIN_SCHEMAS: dict[type[BaseModel], dict[str, Any]] = {}

# As `datetime.isoformat()` writes it (`+00:00`), which answers carried before schemas.
Timestamp = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str)]


class ApiModel(BaseModel):
    """Request and answer bodies: built from ORM rows too; unknown request fields are ignored.

    `error_codes` lists what the model's own rules raise (`rule_error`) beyond
    `FIELD_REQUIRED` and `INVALID_FIELD`, for the OpenAPI document.
    """

    model_config = ConfigDict(from_attributes=True)
    error_codes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The schema, built once per model for the plain call.

        flask-openapi3 asks for a query model's schema on every request, to see which
        fields are lists: about 400 µs a request, a third of a list's answer (bench/README.md).
        """
        if args or kwargs:
            return super().model_json_schema(*args, **kwargs)
        schema = _PLAIN_SCHEMAS.get(cls)
        if schema is None:
            schema = _PLAIN_SCHEMAS[cls] = super().model_json_schema()
        return schema


def as_api_error(error: ValidationError) -> ApiError:
    """The house error for input that failed its schema: the first problem in words, all in `details`.

    Codes: a rule's own (`rule_error`), `FIELD_REQUIRED`, `INVALID_BODY` for a body that
    is no object, else `INVALID_FIELD`. Input values are never echoed (they may be secrets).
    """
    problems = error.errors(include_url=False, include_context=False, include_input=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    if error_codes.is_registered(first["type"]):
        code = first["type"]
    elif first["type"] == "missing":
        code = error_codes.FIELD_REQUIRED
    elif not first["loc"]:
        code = error_codes.INVALID_BODY
    else:
        code = error_codes.INVALID_FIELD
    if where:
        message = f"{where}: {first['msg']}"
    else:  # a rule of the whole body (a model validator's `rule_error`) says what is wrong with it
        message = first["msg"] if code != error_codes.INVALID_BODY else "Request body must be a JSON object"
    return ApiError(message, code=code, status=error_codes.lookup(code).status, details=problems)


def parse(model: type[M], data: Any) -> M:
    """`data` as `model`, or the house 400 (for input that comes from elsewhere than a view's arguments)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise as_api_error(error) from None


def rule_error(code: str, message: str) -> PydanticCustomError:
    """The error a validator raises for a broken rule; `code` must be registered."""
    error_codes.lookup(code)
    return PydanticCustomError(code, message)


MAX_DESCRIPTION_LENGTH = 2000
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION_LENGTH)]


def matching(pattern: re.Pattern[str], message: str, blank: bool = False) -> AfterValidator:
    """Text that `pattern` matches whole (or "" with `blank`), else `INVALID_FIELD` with `message`.

    `{value}` in `message` is the text given (quoted, at most 100 characters).
    """

    def check(value: str) -> str:
        if (value or not blank) and not pattern.fullmatch(value):
            raise rule_error(error_codes.INVALID_FIELD, message.replace("{value}", repr(value[:100])))
        return value

    return AfterValidator(check)


def _future_time(value: Any) -> datetime:
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
            moment = moment.astimezone(UTC) if moment.tzinfo is not None else None  # an extreme offset overflows
        except (ValueError, OverflowError):
            moment = None
    if moment is None:
        raise rule_error(
            error_codes.INVALID_FIELD, "must be an RFC 3339 time with a UTC offset, e.g. 2030-01-31T00:00:00Z"
        )
    if moment <= datetime.now(UTC):
        raise rule_error(error_codes.INVALID_FIELD, "must be in the future")
    return moment


# An expiry: an RFC 3339 time with an offset, in the future, kept in UTC.
FutureTime = Annotated[datetime, PlainValidator(_future_time, json_schema_input_type=str)]


def bounded_text(max_bytes: int) -> Any:
    """A non-empty string of at most `max_bytes` UTF-8 bytes (413 `VALUE_TOO_LARGE` beyond)."""

    def check(value: str) -> str:
        size = len(value.encode())
        if size > max_bytes:
            raise rule_error(error_codes.VALUE_TOO_LARGE, f"is {size} bytes; at most {max_bytes} are allowed")
        return value

    return Annotated[str, Field(min_length=1), AfterValidator(check)]


def json_at_most(max_bytes: int) -> AfterValidator:
    """A JSON value of at most `max_bytes` bytes as compact UTF-8 JSON (413 `VALUE_TOO_LARGE` beyond)."""

    def check(value: Any) -> Any:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        if size > max_bytes:
            raise rule_error(error_codes.VALUE_TOO_LARGE, f"is {size} bytes; at most {max_bytes} are allowed")
        return value

    return AfterValidator(check)


def _whole_number(code: str, message: str) -> Callable[[Any, Any], int]:
    """A number's validator that answers any failure with one `code` and one message naming its range."""

    def validate(value: Any, handler: Any) -> int:
        try:
            return handler(value)
        except ValidationError:
            raise rule_error(code, message) from None

    return validate


def _digits(value: Any) -> Any:
    """A path's version as a number when it is plain ASCII digits ("1.0", "+1" or "²" stay text, refused)."""
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else value


# A version of a versioned object (a secret, a function): a JSON number, not "1", 1.0 or true.
Version = Annotated[
    StrictInt,
    Field(ge=1, le=MAX_VERSION),
    WrapValidator(_whole_number(error_codes.INVALID_FIELD, "must be a whole number from 1")),
]
# The same in a URL path (`/rollback/<version>`): digits only.
VersionInPath = Annotated[Version, BeforeValidator(_digits)]


class Page(ApiModel):
    """`?limit=&offset=` of every list: at most 1000 items at a time, 50 unless asked."""

    error_codes = (INVALID_PAGE,)

    limit: Annotated[
        int,
        Field(ge=1, le=MAX_LIMIT, description=f"Items to return, 1 to {MAX_LIMIT}"),
        WrapValidator(_whole_number(INVALID_PAGE, f"limit must be a whole number from 1 to {MAX_LIMIT}")),
    ] = DEFAULT_LIMIT
    offset: Annotated[
        int,
        Field(ge=0, le=MAX_OFFSET, description="Items to skip"),
        WrapValidator(_whole_number(INVALID_PAGE, f"offset must be a whole number from 0 to {MAX_OFFSET}")),
    ] = 0


def list_of(item: type[BaseModel], name: str | None = None) -> type[RootModel]:
    """The answer of a list: a bare JSON array of `item` (as the reference SDK reads), total in a header."""
    headers = {TOTAL_HEADER: {"description": "Items in the whole list", "schema": {"type": "integer"}}}
    return type(
        name or f"{item.__name__}List",
        (RootModel[list[item]],),  # type: ignore[valid-type]
        {"model_config": ConfigDict(openapi_extra={"headers": headers})},  # type: ignore[typeddict-unknown-key]
    )


def page_of(statement: sa.Select, page: Page) -> tuple[list[Any], int]:
    """One page of an ORM select's rows, and how many rows the whole select has.

    A select of one entity or column gives its values; of several, rows to unpack.
    """
    total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.order_by(None).subquery()))
    paged = statement.limit(page.limit).offset(page.offset)
    rows = db.session.scalars(paged) if len(statement.column_descriptions) == 1 else db.session.execute(paged)
    return list(rows.all()), total or 0


def _json(content: Any, status: int = 200) -> Response:
    """Models (and plain JSON values) serialised by pydantic-core in one pass.

    Half the cost of `jsonify(model.model_dump())`, which builds the dicts first and
    then encodes them in Python: about 30 µs on a page of nine items (bench/README.md).
    """
    return current_app.response_class(to_json(content), status=status, mimetype="application/json")


def paginated(items: Iterable[BaseModel | dict[str, Any]], total: int) -> Response:
    """The JSON array of one page, with the list's total in `X-Total-Count`."""
    response = _json(list(items))
    response.headers[TOTAL_HEADER] = str(total)
    return response


def answer(model: BaseModel, status: int = 200) -> Response:
    """A model as the JSON answer."""
    return _json(model, status)
