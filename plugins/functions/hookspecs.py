"""The functions plugin's own hooks, added to the manager through `register_hookspecs`.

Only this plugin calls them, so the core does not declare them: with the plugin
disabled they do not exist. Plugins that implement them and should also load without
the functions plugin mark their implementations `@hookimpl(optionalhook=True)`.
"""

from __future__ import annotations

from flux.api import hookspec


@hookspec
def register_function_runtimes():
    """Return function runtime classes (`plugins.functions.runtime.base.FunctionRuntime`), each with a `name`.

    Called by the functions plugin at start-up, which then builds the one
    `FLUXBASE_FUNCTIONS_RUNTIME` names (default `deno`) as `runtime_class(app)`, once
    per server process, on the first invocation; an unknown name stops start-up. A
    runtime checks code (`check`), runs calls (`invoke`) and stops its processes (`close`).
    Example: `return [FirecrackerRuntime]`.
    """


@hookspec
def read_invocation_secret(tenant_id, namespace, user_id, name, layers):
    """Return the value of one secret `name` in each of `layers` that has it, as `{layer: plaintext}` (or `None`).

    Called by the functions plugin when a function first reads `name` in a call
    (`secret_layers.invocation_secret` merges the answers), server-side only; read and
    decrypt that one name, never the rest. `layers` is what the call asks about:
    `("user", "system", "function")` for the `secrets` object, `("env",)` for `Deno.env`.
    Layers: `"user"` (the caller's own secret; `user_id` is `None` for anonymous calls),
    `"system"` (the tenant's system secret), `"function"` (the function secret of
    `namespace`, else the global one) and `"env"` (`name` is a `FLUXBASE_SECRET_*`
    variable). Only ever the given tenant's secrets. A stored value that does not open
    is an error, never a missing secret: raise `flux.errors.unreadable_secret(error)`
    with the `DecryptionError`.
    Example: `return {"system": decrypt(row)} if "system" in layers and (row := find(name)) else None`.
    """


@hookspec
def collect_invocation_env(tenant_id, namespace):
    """Return every `FLUXBASE_SECRET_*` variable a function of `namespace` may read, `{variable: plaintext}` or `None`.

    Called by the functions plugin only when a function calls `Deno.env.toObject()`,
    the one read that needs the whole `env` layer (`secret_layers.invocation_env` merges
    the answers). Names and errors as for `read_invocation_secret`'s `"env"` layer.
    Example: `return {row.env_name: decrypt(row) for row in secrets_in_scope(namespace)}`.
    """


@hookspec
def collect_invocation_flags(tenant_id, context):
    """Return the feature flags one invocation may read, evaluated for `context`, as `{key: value}` (or `None`).

    Called by the functions plugin at most once per invocation, and only when the
    function's code first touches its `flags` object (`invocation_flags.invocation_flags`
    merges the answers: the first plugin, in registration order, to name a key wins).
    `context` is an OpenFeature-style evaluation context built from the caller:
    `targetingKey` (the app user's id; absent for any other caller), `user_id`, `email`,
    `role`, `tenant_id`, `function` (its name) and `namespace`; an attribute the caller
    lacks is absent. Values are JSON values, booleans for on/off flags; answers over
    1 MiB of JSON in all reach the function as no flags at all.
    Example: `return {flag.key: evaluate(flag, context) for flag in tenant_flags(tenant_id)}`.
    """
