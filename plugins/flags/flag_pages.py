"""The dashboard's Feature flags page: declared flags' switches, custom flags and segments.

The page acts in the dashboard's current tenant, for the same roles as the API, and
changes flags only through `store.py`, which locks, checks and audits as for the API.
A custom flag's form is judged by `FlagDefinition` itself, so a refusal names the
field as the API's would (`rules.0.variant: …`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from flux.api import (
    ADMIN_ROLES,
    ApiError,
    SchemaForm,
    current_tenant,
    current_tenant_id,
    invalid,
    parse,
    refused,
    require,
    saved,
)
from plugins.flags import store
from plugins.flags.definitions import FlagDefinition, Segment
from plugins.flags.forms import FlagForm, SegmentForm

pages = Blueprint("flags_pages", __name__, url_prefix="/flags", template_folder="templates")
KEY = "<string(maxlength=128):key>"


def _render(
    status: int = 200, flag_form: FlagForm | None = None, segment_form: SegmentForm | None = None
) -> ResponseReturnValue:
    declared = [(flag, store.is_enabled(flag, state)) for flag, state in store.declared_states(current_tenant_id())]
    body = render_template(
        "flags/index.html",
        tenant=current_tenant(),
        declared=declared,
        flags=[document["definition"] for document in store.flags().all()],
        segments=[document["definition"] for document in store.segments().all()],
        flag_form=flag_form or FlagForm.blank(),
        segment_form=segment_form or SegmentForm(formdata=None),
    )
    return body, status


def _render_flag(key: str, status: int = 200, form: FlagForm | None = None) -> ResponseReturnValue:
    document = store.flags().get(key)
    form = form or FlagForm.showing(document["definition"])
    return render_template("flags/flag.html", key=key, document=document, form=form), status


def _outcome(
    change: Callable[[], Any],
    done: str,
    render: Callable[..., ResponseReturnValue] = _render,
    endpoint: str = ".index",
    form: SchemaForm | None = None,
    **values: Any,
) -> ResponseReturnValue:
    """Check the posted `form`, then run the change: saved and redirected, or the refusal shown by `render`."""
    if form is not None and not form.validate():
        return invalid(form, render)
    try:
        change()
    except ApiError as error:
        return refused(error, render)
    return saved(done, endpoint, **values)


@pages.get("/")
@require(*ADMIN_ROLES)
def index() -> ResponseReturnValue:
    return _render()


@pages.post(f"/declared/{KEY}/<any(on, off):state>")
@require(*ADMIN_ROLES)
def switch_declared(key: str, state: str) -> ResponseReturnValue:
    change = partial(store.set_declared, current_tenant_id(), key, state == "on")
    return _outcome(change, f"Turned the feature flag “{key}” {state}.")


# --- custom flags -------------------------------------------------------------------------------


@pages.post("/custom")
@require(*ADMIN_ROLES)
def create_flag() -> ResponseReturnValue:
    form = FlagForm()
    return _outcome(
        lambda: store.flags().create(parse(FlagDefinition, form.definition_input())),
        f"Created the flag “{form.key.data}”.",
        partial(_render, flag_form=form),
        ".flag",
        form,
        key=form.key.data,
    )


@pages.get(f"/custom/{KEY}")
@require(*ADMIN_ROLES)
def flag(key: str) -> ResponseReturnValue:
    return _render_flag(key)


@pages.post(f"/custom/{KEY}")
@require(*ADMIN_ROLES)
def replace_flag(key: str) -> ResponseReturnValue:
    """The whole definition as the form holds it (the key is the address's and cannot change)."""
    form = FlagForm()
    return _outcome(
        lambda: store.flags().replace(key, parse(FlagDefinition, {**form.definition_input(), "key": key})),
        f"Saved the flag “{key}”.",
        partial(_render_flag, key, form=form),
        ".flag",
        form,
        key=key,
    )


@pages.post(f"/custom/{KEY}/<any(enable, disable):action>")
@require(*ADMIN_ROLES)
def enable_flag(key: str, action: str) -> ResponseReturnValue:
    """Turn a custom flag on or off: off, it serves its off variant to everyone."""

    change = partial(store.flags().change, key, {"enabled": action == "enable"})
    return _outcome(change, f"The flag “{key}” is {'on' if action == 'enable' else 'off'}.")


@pages.post(f"/custom/{KEY}/delete")
@require(*ADMIN_ROLES)
def delete_flag(key: str) -> ResponseReturnValue:
    return _outcome(lambda: store.flags().delete(key), f"Deleted the flag “{key}”.")


# --- segments -----------------------------------------------------------------------------------


@pages.post("/segments")
@require(*ADMIN_ROLES)
def create_segment() -> ResponseReturnValue:
    form = SegmentForm()
    return _outcome(
        lambda: store.segments().create(parse(Segment, form.definition_input())),
        f"Created the segment “{form.key.data}”.",
        partial(_render, segment_form=form),
        form=form,
    )


@pages.post(f"/segments/{KEY}/delete")
@require(*ADMIN_ROLES)
def delete_segment(key: str) -> ResponseReturnValue:
    """Refused (409) while a flag names the segment."""
    return _outcome(lambda: store.segments().delete(key), f"Deleted the segment “{key}”.")
