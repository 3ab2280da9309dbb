"""The audit trail: who changed what, in which tenant, and when; never a value.

Plugins call `record(...)` inside the transaction that makes the change, so the event
is stored exactly when the change is; a record that cannot be written is a 503 that
takes the change with it (fail closed). Once that transaction commits, every
`record_audit_event` hook implementation gets the event (a SIEM, a log shipper).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from pydantic import ConfigDict
from sqlalchemy import event, orm
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from flux import error_codes
from flux.context import current_actor
from flux.db import UtcDateTime, db, new_id, utcnow
from flux.errors import ServiceUnavailable, database_fault
from flux.schemas import ApiModel, Timestamp
from flux.tenancy import TenantScoped

log = logging.getLogger("flux.audit")
PENDING = "flux_audit_pending"


class AuditRecord(TenantScoped, db.Model):
    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    action: Mapped[str] = mapped_column(sa.String(100), index=True)
    target: Mapped[str] = mapped_column(sa.String(500))
    actor_kind: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    ip_address: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class AuditEvent(ApiModel):
    """What sinks receive, and what `GET /api/v1/admin/audit` lists.

    `details` holds names and flags, never a setting's or secret's value.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    tenant_id: str
    action: str
    target: str
    actor_kind: str
    actor_id: str | None
    details: dict[str, Any]
    ip_address: str
    created_at: Timestamp


def record(action: str, target: str, **details: Any) -> None:
    """Store an audit event in the current transaction; sinks hear of it after commit."""
    actor = current_actor()
    row = AuditRecord(
        action=action,
        target=target,
        actor_kind=actor.kind,
        actor_id=actor.id,
        details=details,
        ip_address=(request.remote_addr or "")[:64] if has_request_context() else "",
        created_at=utcnow(),
    )
    db.session.add(row)
    try:
        db.session.flush()
    except SQLAlchemyError as error:  # fail closed: the caller's change goes with its record
        log.error("an audit record of %s %s could not be written: %s", action, target, type(error).__name__)
        fault = database_fault(error)
        if fault is not None:
            raise fault from error
        raise ServiceUnavailable(
            "the change could not be audited, so it was not made; retry, and tell the operator if it persists",
            code=error_codes.AUDIT_UNAVAILABLE,
        ) from error
    db.session.info.setdefault(PENDING, []).append((current_app._get_current_object(), AuditEvent.model_validate(row)))


@event.listens_for(orm.Session, "after_commit")
def _dispatch(session: orm.Session) -> None:
    for app, audit_event in session.info.pop(PENDING, []):
        try:
            app.extensions["flux"].plugins.hook.record_audit_event(event=audit_event)
        except Exception:
            log.exception("an audit sink failed for %s %s", audit_event.action, audit_event.target)


@event.listens_for(orm.Session, "after_rollback")
def _forget(session: orm.Session) -> None:
    session.info.pop(PENDING, None)
