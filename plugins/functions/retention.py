"""Execution records are pruned as the server runs: by age and by count, per function.

An invocation appends one row; left alone they grow without bound (36,000 in three
minutes of load) and slow every list that reads them. Pruning runs on a function's
first recorded invocation in each server process and then every `PRUNE_EVERY`-th, in
its own short write transaction: one indexed DELETE per `PRUNE_EVERY` calls, so the
invocation path pays about 1/`PRUNE_EVERY` of a DELETE on average. Between prunes a
function may hold up to `PRUNE_EVERY` rows (per process) beyond its limit.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from flux.api import current_tenant_id, immediate_transaction, utcnow
from plugins.functions.models import FunctionExecution

_EXECUTIONS = FunctionExecution.__table__


class PruneSchedule:
    """Counts recorded invocations per function in this process; says when one should prune."""

    def __init__(self, every: int) -> None:
        self.every = max(1, every)
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def due(self, function_id: str) -> bool:
        with self._lock:
            count = self._counts.get(function_id, 0)
            self._counts[function_id] = count + 1
        return count % self.every == 0


def prune_statement(function_id: str, days: int, max_rows: int) -> sa.Delete | None:
    """The DELETE of the function's rows older than `days` or beyond its newest `max_rows` (0: no such limit)."""
    mine = sa.and_(_EXECUTIONS.c.function_id == function_id, _EXECUTIONS.c.tenant_id == current_tenant_id())
    expired = []
    if days > 0:
        expired.append(_EXECUTIONS.c.started_at < utcnow() - timedelta(days=days))
    if max_rows > 0:
        newest_dropped = (
            sa.select(_EXECUTIONS.c.started_at)
            .where(mine)
            .order_by(_EXECUTIONS.c.started_at.desc())
            .offset(max_rows)
            .limit(1)
            .scalar_subquery()
        )
        expired.append(_EXECUTIONS.c.started_at <= newest_dropped)
    return sa.delete(_EXECUTIONS).where(mine, sa.or_(*expired)) if expired else None


def prune_if_due(function_id: str) -> int:
    """Prune the function's executions when its turn has come; how many rows went.

    Call it after the request's session committed (it writes on a connection of its own).
    """
    state, config = current_app.extensions["functions"], current_app.config
    if not state["prune_schedule"].due(function_id):
        return 0
    statement = prune_statement(
        function_id,
        config["FUNCTIONS_EXECUTION_RETENTION_DAYS"],
        config["FUNCTIONS_EXECUTION_RETENTION_MAX_ROWS"],
    )
    if statement is None:
        return 0
    with immediate_transaction() as connection:
        return connection.execute(statement).rowcount
