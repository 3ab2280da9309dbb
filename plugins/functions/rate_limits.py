"""Per-function rate limits (`@fluxbase:rate-limit 100/min`): per user when signed in, per IP otherwise.

Counted in fixed windows in the server's rate-limit storage (`FLUXBASE_RATE_LIMIT_STORAGE_URL`):
the default counts per process, Redis shares the counts between workers and nodes. A
call over the limit is answered 429 before the function runs, and records no execution.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import request

from flux.api import TooManyRequests, Window, current_actor, flux_state
from plugins.functions import directives

log = logging.getLogger("plugins.functions.rate_limits")


def caller() -> str:
    """Whom a limit counts: the credential's holder, or the client's address for an anonymous call."""
    actor = current_actor()
    if actor.is_authenticated and actor.id:
        return f"{actor.kind}:{actor.id}"
    return f"ip:{request.remote_addr or 'unknown'}"


def take(row: Any) -> Window | None:
    """Count this call against the function's limit; 429 when it is over. None when the function has no limit.

    When the storage fails (Redis down), the call goes through unlimited and the failure is logged:
    a limit protects the function, and an outage of the counter should not stop it.
    """
    limit = directives.effective(row)["rate_limit"]
    if not limit:
        return None
    count, unit = limit.split("/")
    try:
        window = flux_state().limiter.take(f"{count}/{directives.UNITS[unit]}", "function", row.id, caller())
    except Exception:  # the storage's own errors: redis, memcached and others differ
        log.exception("rate limit of function %s not applied: its counter storage failed", row.id)
        return None
    if not window.allowed:
        raise TooManyRequests(
            f"Rate limit exceeded: {directives.describe(limit)}",
            headers={**window.headers(), "Retry-After": str(window.retry_after)},
            retry_after=window.retry_after,
        )
    return window
