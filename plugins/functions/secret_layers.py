"""What a function invocation may read, asked of every plugin that keeps secrets, one name at a time.

The functions plugin declares `read_invocation_secret` and `collect_invocation_env`
(`hookspecs.py`) and is their only caller; the settings and secrets plugins answer them.
A call pays for the names it reads, not for how many secrets exist.
"""

from __future__ import annotations

from flask import current_app
from pluggy import PluginManager

from flux.api import ConfigError

SECRET_LAYERS = ("user", "system", "function")  # the `secrets` object's, in the order it resolves a name
REPLACED_HOOKS = {"collect_invocation_secrets": "read_invocation_secret and collect_invocation_env"}


def invocation_secret(
    tenant_id: str, namespace: str, user_id: str | None, name: str, layers: tuple[str, ...] = SECRET_LAYERS
) -> dict[str, str]:
    """`name`'s value in each of `layers` that has it: every plugin's answer, merged.

    Within a layer the first plugin to answer wins, in plugin registration order; the
    functions runtime resolves across layers in its own order (seed 003: user, then
    system, then function).
    """
    answers = current_app.extensions["flux"].plugins.hook.read_invocation_secret(
        tenant_id=tenant_id, namespace=namespace, user_id=user_id, name=name, layers=layers
    )
    merged: dict[str, str] = {}
    for answer in reversed(answers):  # pluggy answers last-registered first
        for layer, value in (answer or {}).items():
            if layer not in layers:
                raise ValueError(f"secrets layer {layer!r} was not asked for; asked {layers}")
            merged.setdefault(layer, value)
    return merged


def invocation_env(tenant_id: str, namespace: str) -> dict[str, str]:
    """The whole `env` layer (`FLUXBASE_SECRET_*`), for `Deno.env.toObject()`; first plugin to name a variable wins."""
    answers = current_app.extensions["flux"].plugins.hook.collect_invocation_env(
        tenant_id=tenant_id, namespace=namespace
    )
    merged: dict[str, str] = {}
    for answer in reversed(answers):
        for variable, value in (answer or {}).items():
            merged.setdefault(variable, value)
    return merged


def refuse_replaced_hooks(plugins: PluginManager) -> None:
    """Stop start-up when a plugin implements a hook this plugin no longer calls.

    Implementations are `optionalhook`, so pluggy would say nothing and the plugin's
    secrets would silently vanish from every function.
    """
    for old, new in REPLACED_HOOKS.items():
        caller = getattr(plugins.hook, old, None)
        if caller is not None and caller.get_hookimpls():
            names = ", ".join(sorted(impl.plugin_name for impl in caller.get_hookimpls()))
            raise ConfigError(f"plugin {names} implements {old}, which the functions plugin replaced by {new}")
