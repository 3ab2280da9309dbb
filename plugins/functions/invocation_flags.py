"""The feature flags a function invocation may read, gathered from every plugin that keeps flags.

The functions plugin declares `collect_invocation_flags` (`hookspecs.py`) and is its
only caller; a flags plugin answers it, so neither imports the other.
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app

MAX_FLAGS_BYTES = 1024 * 1024  # of JSON: the flags travel to the function's process with the call


class TooManyFlags(Exception):
    """The plugins' flags together exceed `MAX_FLAGS_BYTES`; the message says by how much."""


def invocation_flags(tenant_id: str, context: dict[str, Any]) -> dict[str, Any]:
    """Every plugin's `collect_invocation_flags` answer, merged: the first plugin to name a key wins.

    First in plugin registration order, as `secret_layers.invocation_secrets` merges.
    Raises `TooManyFlags` when the merged flags exceed `MAX_FLAGS_BYTES` of JSON.
    """
    merged: dict[str, Any] = {}
    answers = current_app.extensions["flux"].plugins.hook.collect_invocation_flags(tenant_id=tenant_id, context=context)
    for answer in reversed(answers):  # pluggy answers last-registered first
        for key, value in (answer or {}).items():
            merged.setdefault(key, value)
    size = len(json.dumps(merged).encode())
    if size > MAX_FLAGS_BYTES:
        raise TooManyFlags(f"Feature flags are {size} bytes of JSON; the limit is {MAX_FLAGS_BYTES} bytes (1 MiB)")
    return merged
