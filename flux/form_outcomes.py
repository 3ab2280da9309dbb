"""How a dashboard form post ends: saved and redirected, or refused and shown again.

Shared by the plugins' pages (System settings, Secrets) so that every form behaves the
same way: a success commits and redirects (a reload never posts twice), a refusal from
the core or a plugin's validation rolls back, flashes the error's message and renders
the page again with the error's status and what the user typed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue

from flux.db import db
from flux.errors import ApiError
from flux.forms import SchemaForm


def saved(message: str, endpoint: str = ".index", **values: Any) -> ResponseReturnValue:
    """Commit, flash `message` and redirect to `endpoint` (the blueprint's own page by default)."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


def refused(error: ApiError, render: Callable[..., ResponseReturnValue], **form: Any) -> ResponseReturnValue:
    """Roll back, flash the error and return `render(status=…, **form)`: the page again, with the input to keep."""
    db.session.rollback()
    flash(error.message, "error")
    return render(status=error.status, **form)


def invalid(form: SchemaForm, render: Callable[..., ResponseReturnValue], **kept: Any) -> ResponseReturnValue:
    """Roll back, flash what the form refused and return `render(status=form.status, **kept)`: 400, or the API's own."""
    db.session.rollback()
    flash(form.messages(), "error")
    return render(status=form.status, **kept)
