"""Custom flags and segments per tenant: `/api/v1/admin/flags…` and `/api/v1/admin/segments…`.

Beyond the seed (as Unleash, Flagsmith and flagd offer): typed flags with variants,
targeting rules and sticky percentage rollouts, evaluated through OFREP (`ofrep.py`).
A flag's `PUT` replaces it, `PATCH` changes the fields given (`{"enabled": false}`);
each answers the stored document with its `version`.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from pydantic import JsonValue, RootModel

from flux.api import (
    ADMIN_ROLES,
    ALREADY_EXISTS,
    NOT_FOUND,
    ApiBlueprint,
    ApiModel,
    BadRequest,
    Page,
    Tag,
    answer,
    db,
    error_codes,
    list_of,
    paginated,
    parse,
    raises,
    require,
)
from plugins.flags import store
from plugins.flags.definitions import FlagDefinition, Segment

READ, WRITE = "flags:read", "flags:write"
TAG = Tag(name="custom flags and segments")
flags_api = ApiBlueprint("flags", __name__, url_prefix="/api/v1/admin/flags", abp_tags=[TAG])
segments_api = ApiBlueprint("segments", __name__, url_prefix="/api/v1/admin/segments", abp_tags=[TAG])
WRITE_CODES = (NOT_FOUND, error_codes.VALUE_TOO_LARGE)


class FlagOut(FlagDefinition):
    version: int
    updated_at: int


class SegmentOut(Segment):
    version: int
    updated_at: int


class KeyPath(ApiModel):
    key: str


class Changes(RootModel[dict[str, JsonValue]]):
    """Fields of the definition to change; the rest stay."""


def _out(document: dict[str, Any], model: type[FlagOut] | type[SegmentOut]) -> FlagOut | SegmentOut:
    """A stored document as its answer: the definition with its `version` and `updated_at`."""
    return model.model_validate({**document["definition"], **document})


def _shown(document: dict[str, Any], model: type[FlagOut] | type[SegmentOut], status: int = 200) -> Response:
    return answer(_out(document, model), status)


def _listed(documents: list[dict[str, Any]], model: type[FlagOut] | type[SegmentOut], page: Page) -> Response:
    shown = documents[page.offset : page.offset + page.limit]
    return paginated((_out(document, model) for document in shown), len(documents))


def _whole(model: type[FlagDefinition] | type[Segment], path: KeyPath, body: Changes) -> FlagDefinition | Segment:
    given = body.root.get("key", path.key)
    if given != path.key:
        raise BadRequest(
            f"key: the body names {given!r}, the path {path.key!r}; keys cannot change", code=error_codes.INVALID_FIELD
        )
    return parse(model, {**body.root, "key": path.key})


def _committed(document: dict[str, Any], model: type[FlagOut] | type[SegmentOut], status: int = 200) -> Response:
    db.session.commit()
    return _shown(document, model, status)


@flags_api.get("", responses={200: list_of(FlagOut)})
@require(*ADMIN_ROLES, scope=READ)
def list_flags(query: Page):
    """The tenant's custom flags by key (declared ones: `/settings/feature-flags`)."""
    return _listed(store.flags().all(), FlagOut, query)


@flags_api.post("", responses={201: FlagOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(ALREADY_EXISTS, store.TOO_MANY, *WRITE_CODES)
def create_flag(body: FlagDefinition):
    return _committed(store.flags().create(body), FlagOut, 201)


@flags_api.get("/<key>", responses={200: FlagOut})
@require(*ADMIN_ROLES, scope=READ)
@raises(NOT_FOUND)
def get_flag(path: KeyPath):
    return _shown(store.flags().get(path.key), FlagOut)


@flags_api.put("/<key>", responses={200: FlagOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(*WRITE_CODES)
def replace_flag(path: KeyPath, body: Changes):
    """The whole definition (its `key`, if given, must be the path's)."""
    return _committed(store.flags().replace(path.key, _whole(FlagDefinition, path, body)), FlagOut)


@flags_api.patch("/<key>", responses={200: FlagOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(*WRITE_CODES)
def change_flag(path: KeyPath, body: Changes):
    """The fields given replace the stored ones (`{"enabled": false}`); the result is checked whole."""
    return _committed(store.flags().change(path.key, body.root), FlagOut)


@flags_api.delete("/<key>", responses={204: None})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(NOT_FOUND)
def delete_flag(path: KeyPath):
    store.flags().delete(path.key)
    db.session.commit()
    return "", 204


@segments_api.get("", responses={200: list_of(SegmentOut)})
@require(*ADMIN_ROLES, scope=READ)
def list_segments(query: Page):
    return _listed(store.segments().all(), SegmentOut, query)


@segments_api.post("", responses={201: SegmentOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(ALREADY_EXISTS, store.TOO_MANY, *WRITE_CODES)
def create_segment(body: Segment):
    return _committed(store.segments().create(body), SegmentOut, 201)


@segments_api.get("/<key>", responses={200: SegmentOut})
@require(*ADMIN_ROLES, scope=READ)
@raises(NOT_FOUND)
def get_segment(path: KeyPath):
    return _shown(store.segments().get(path.key), SegmentOut)


@segments_api.put("/<key>", responses={200: SegmentOut})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(*WRITE_CODES)
def replace_segment(path: KeyPath, body: Changes):
    return _committed(store.segments().replace(path.key, _whole(Segment, path, body)), SegmentOut)


@segments_api.delete("/<key>", responses={204: None})
@require(*ADMIN_ROLES, scope=WRITE)
@raises(NOT_FOUND, store.SEGMENT_IN_USE)
def delete_segment(path: KeyPath):
    store.segments().delete(path.key)
    db.session.commit()
    return "", 204
