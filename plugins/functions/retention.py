"""Execution records are pruned as the server runs: by age and by count, per function.

An invocation appends one row; left alone they grow without bound (36,000 in three
minutes of load) and slow every list that reads them. Pruning runs on a function's
first recorded invocation in each server process and then every `PRUNE_EVERY`-th, in
the transaction that records the invocation: one indexed DELETE per `PRUNE_EVERY` calls, so the
invocation path pays about 1/`PRUNE_EVERY` of a DELETE on average. Between prunes a
function may hold up to `PRUNE_EVERY` rows (per process) beyond its limit.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from flux.api import db, utcnow
from plugins.functions.models import FunctionExecution


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
    mine = FunctionExecution.function_id == function_id
    expired = []
    if days > 0:
        expired.append(FunctionExecution.started_at < utcnow() - timedelta(days=days))
    if max_rows > 0:
        newest_dropped = (
            sa.select(FunctionExecution.started_at)
            .where(mine)
            .order_by(FunctionExecution.started_at.desc())
            .offset(max_rows)
            .limit(1)
            .scalar_subquery()
        )
        expired.append(FunctionExecution.started_at <= newest_dropped)
    if not expired:
        return None
    return sa.delete(FunctionExecution).where(mine, sa.or_(*expired)).execution_options(synchronize_session=False)


def prune_if_due(function_id: str) -> int:
    """Prune the function's executions when its turn has come, committed at once; how many rows went."""
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
    pruned = db.session.execute(statement).rowcount
    db.session.commit()
    return pruned
