"""Pydantic pieces every API shares: the base model, error types, pages of lists.

A field that breaks a rule of its own raises `rule_error(CODE, message)`: the error's
type is the code (registered in `flux.error_codes`), which the translator in
`flux.openapi` answers, so each concept keeps one code whatever plugin checks it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

import sqlalchemy as sa
from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, WrapValidator
from pydantic_core import PydanticCustomError

from flux import error_codes
from flux.db import db

TOTAL_HEADER = "X-Total-Count"
DEFAULT_LIMIT, MAX_LIMIT = 50, 1000


class ApiModel(BaseModel):
    """Request and answer bodies: built from ORM rows too; unknown request fields are ignored."""

    model_config = ConfigDict(from_attributes=True)


def rule_error(code: str, message: str) -> PydanticCustomError:
    """The error a validator raises for a broken rule; `code` must be registered."""
    error_codes.lookup(code)
    return PydanticCustomError(code, message)


def _page_number(message: str) -> Callable[[Any, Any], int]:
    def validate(value: Any, handler: Any) -> int:
        try:
            return handler(value)
        except ValidationError:
            raise rule_error(error_codes.INVALID_PAGE, message) from None

    return validate


class Page(ApiModel):
    """`?limit=&offset=` of every list: at most 1000 items at a time, 50 unless asked."""

    limit: Annotated[
        int,
        Field(ge=1, le=MAX_LIMIT, description=f"Items to return, 1 to {MAX_LIMIT}"),
        WrapValidator(_page_number(f"limit must be a whole number from 1 to {MAX_LIMIT}")),
    ] = DEFAULT_LIMIT
    offset: Annotated[
        int,
        Field(ge=0, description="Items to skip"),
        WrapValidator(_page_number("offset must be a whole number from 0")),
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
    """One page of an ORM select's rows, and how many rows the whole select has."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.order_by(None).subquery()))
    rows = db.session.scalars(statement.limit(page.limit).offset(page.offset)).all()
    return list(rows), total or 0


def paginated(items: Iterable[BaseModel | dict[str, Any]], total: int) -> Response:
    """The JSON array of one page, with the list's total in `X-Total-Count`."""
    response = jsonify([item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in items])
    response.headers[TOTAL_HEADER] = str(total)
    return response


def answer(model: BaseModel, status: int = 200) -> tuple[Response, int]:
    """A model as the JSON answer."""
    return jsonify(model.model_dump(mode="json")), status
