"""What a function invocation may read, gathered from every plugin that keeps secrets.

The functions plugin declares `collect_invocation_secrets` (`hookspecs.py`) and is its
only caller; the settings and secrets plugins answer it.
"""

from __future__ import annotations

from flask import current_app

LAYERS = ("user", "system", "function", "env")


def invocation_secrets(tenant_id: str, namespace: str, user_id: str | None) -> dict[str, dict[str, str]]:
    """Every plugin's `collect_invocation_secrets` answer, merged layer by layer.

    The functions runtime resolves a name through the layers in its own order (seed 003:
    user, then system, then function); within a layer the first plugin to name a secret
    wins, in plugin registration order.
    """
    merged: dict[str, dict[str, str]] = {layer: {} for layer in LAYERS}
    answers = current_app.extensions["flux"].plugins.hook.collect_invocation_secrets(
        tenant_id=tenant_id, namespace=namespace, user_id=user_id
    )
    for answer in reversed(answers):  # pluggy answers last-registered first
        for layer, secrets in (answer or {}).items():
            if layer not in merged:
                raise ValueError(f"unknown secrets layer {layer!r}; expected one of {LAYERS}")
            for name, value in secrets.items():
                merged[layer].setdefault(name, value)
    return merged
