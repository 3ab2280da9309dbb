"""`GET /api/v1/admin/audit`: the current tenant's audit trail for administrators."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, request

from flux.audit import AuditRecord, event_of
from flux.auth.permissions import ADMIN_ROLES, require
from flux.db import db
from flux.errors import BadRequest

MAX_LIMIT = 1000

audit_api = Blueprint("audit", __name__, url_prefix="/api/v1/admin/audit")


@audit_api.get("")
@require(*ADMIN_ROLES, scope="audit:read")
def list_events():
    """The current tenant's events, newest first; `?action=` filters, `?limit=` (≤ 1000) bounds."""
    try:
        limit = int(request.args.get("limit", 100))
    except ValueError:
        raise BadRequest("limit must be an integer", code="INVALID_LIMIT") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", code="INVALID_LIMIT")
    query = sa.select(AuditRecord).order_by(AuditRecord.created_at.desc(), AuditRecord.id).limit(limit)
    if request.args.get("action"):
        query = query.where(AuditRecord.action == request.args["action"])
    return jsonify([event_of(row).as_json() for row in db.session.scalars(query)])
