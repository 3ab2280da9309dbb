"""`GET /api/v1/admin/audit`: the current tenant's audit trail for administrators."""

from __future__ import annotations

import sqlalchemy as sa
from flask_openapi3 import Tag
from pydantic import Field

from flux.audit import AuditEvent, AuditRecord
from flux.auth.permissions import ADMIN_ROLES, require
from flux.openapi import ApiBlueprint
from flux.schemas import Page, list_of, page_of, paginated

audit_api = ApiBlueprint("audit", __name__, url_prefix="/api/v1/admin/audit", abp_tags=[Tag(name="audit")])


class AuditQuery(Page):
    action: str | None = Field(None, description="Only events of this action, e.g. `service_key.revoked`")


@audit_api.get("", responses={200: list_of(AuditEvent)})
@require(*ADMIN_ROLES, scope="audit:read")
def list_events(query: AuditQuery):
    """The current tenant's events, newest first."""
    events = sa.select(AuditRecord).order_by(AuditRecord.created_at.desc(), AuditRecord.id)
    if query.action:
        events = events.where(AuditRecord.action == query.action)
    rows, total = page_of(events, query)
    return paginated((AuditEvent.model_validate(row) for row in rows), total)
