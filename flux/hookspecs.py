"""Every hook a Fluxbase plugin can implement.

Three kinds of hook, as in `../shared/DESIGN.md`:

* collect-all: every plugin contributes and the core uses all the answers
  (`register_blueprints`, `register_admin_pages`, `register_commands`,
  `register_migrations`, `register_encrypted_columns`, `startup`);
* named registries: every plugin registers named implementations and configuration
  picks one by name (`register_ciphers`, `register_storage_backends`,
  `register_function_runtimes`); installing a plugin never silently changes which
  one is used;
* firstresult (added by later features): the first non-`None` answer wins.

The plugin author's guide, `docs/plugins.md`, has one example for each hook; a test
fails when a hook here has no section there or no `test_hook_<name>` test.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "fluxbase"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_blueprints(app):
    """Return Flask blueprints to register on `app` (a list, or `None`).

    Called once by `create_app`, after configuration is loaded and before the first
    request. Blueprints serve the JSON API under `/api/v1/...` and any pages.
    Example: `return [Blueprint("hello", __name__, url_prefix="/api/v1/hello")]`.
    """


@hookspec
def register_admin_pages(app):
    """Return `flux.admin_pages.AdminPage` records for the dashboard's navigation.

    Called once by `create_app`. Each record names a title, the endpoint of a view the
    plugin registered through `register_blueprints`, a category and a permission.
    Example: `return [AdminPage("Flags", "flags_admin.index", category="Settings")]`.
    """


@hookspec
def register_commands(cli):
    """Add `click` commands or groups to the `fluxbase` command line.

    Called when the CLI is built, before arguments are parsed; `cli` is the top-level
    `click.Group`. Commands that need the app use `flux.cli.pass_app`.
    Example: `cli.add_command(click.Command("hello", callback=lambda: print("hi")))`.
    """


@hookspec
def register_migrations():
    """Return the folder (or a list of folders) holding this plugin's Alembic revisions.

    Called by `fluxbase db upgrade` and `fluxbase serve`. A plugin's first revision
    has `down_revision = None` and a `branch_labels` of its own name, so every plugin
    owns its own migration branch. Example: `return Path(__file__).parent / "migrations"`.
    """


@hookspec
def register_ciphers():
    """Return `flux.crypto.Cipher` subclasses, each with a unique `name`.

    Called once by `create_app`. The cipher used for new ciphertexts is the one named
    by `FLUXBASE_ENCRYPTION_CIPHER` (default `aes-256-gcm`); an unknown name stops
    start-up. Registering a cipher never makes it the configured one.
    Example: `return [ChaCha20Poly1305Cipher]`.
    """


@hookspec
def register_storage_backends():
    """Return `flux.storage.KeyValueStore` subclasses, each with a unique `name`.

    Called once by `create_app`; `FLUXBASE_STORAGE_BACKEND` (default `sql`) picks the
    one plugins get from `flux.storage.get_store()`. Every backend should pass the
    contract suite in `flux.testing.StorageContract`.
    Example: `return [RedisStore]`.
    """


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
def register_encrypted_columns(app):
    """Return `flux.crypto.EncryptedColumn` records for every column holding ciphertext.

    Called by `fluxbase keys rotate`, which re-encrypts each value of these columns
    under the newest master key. A column a plugin does not declare here keeps its
    old key and stops opening once that key is retired.
    Example: `return [EncryptedColumn(secrets_table, "value", aad=lambda row: ...)]`.
    """


@hookspec
def startup(app):
    """Called once at the end of `create_app`, when every plugin is registered.

    Use it to check configuration and fail early. It runs in every process that
    creates the app (each gunicorn worker, each CLI command), so keep it quick and
    idempotent. Example: `if not app.config.get("HELLO"): raise ConfigError(...)`.
    """


@hookspec(firstresult=True)
def actor_from_request(request):
    """Return the `flux.context.Actor` making `request`, or `None` to let others decide.

    firstresult: the first non-`None` answer wins. Called lazily, the first time a view
    asks for `current_actor()`. The built-in answer (`trylast`) reads service keys and
    Bearer JWTs and otherwise returns the anonymous actor; raise
    `flux.errors.Unauthorized` for a credential that is present but invalid.
    Example: `if request.blueprint == "dashboard" and current_user.is_authenticated: return ...`.
    """


@hookspec(firstresult=True)
def resolve_tenant(request, actor):
    """Return the `flux.tenancy.Tenant` the request acts in, or `None` to let others decide.

    firstresult: the first non-`None` answer wins. Called lazily, the first time a view
    or a tenant-scoped query needs the tenant. The built-in answer (`trylast`): the
    service key's tenant, the `X-FB-Tenant` header (403 for callers who may not use it,
    404 for an unknown tenant), the JWT `tenant_id` claim, else the default tenant.
    Example: `return find_tenant(request.host.split(".")[0])` for one subdomain per tenant.
    """


@hookspec
def permission_allowed(actor, action, resource):
    """Return `False` to deny `actor` the `action` on `resource`; `None` or `True` abstain.

    Called by `flux.auth.permissions.require` after the route's own role and scope
    check passed; any `False` denies with 403. `action` is the view's endpoint name
    (e.g. `"service_keys.create"`), `resource` is `None` or what the view passes.
    Example: `if action.startswith("service_keys.") and actor.email.endswith("@contractor.example"): return False`.
    """


@hookspec
def register_dashboard_blueprints(app):
    """Return blueprints of admin pages to mount inside the dashboard (a list, or `None`).

    Called once by the dashboard plugin at start-up. Each blueprint is mounted under
    `/dashboard` + its own `url_prefix`, with its endpoints named `dashboard.<name>.*`,
    so it gets the dashboard's sign-in check, CSRF protection, HTML error pages and the
    signed-in account as `current_actor()`. Without the dashboard plugin they are not
    mounted. Example: `return [Blueprint("notes_admin", __name__, url_prefix="/notes")]`.
    """


@hookspec
def record_audit_event(event):
    """Receive a `flux.audit.AuditEvent` (who, tenant, action, target, when; never a value).

    Called for every change a plugin reports with `flux.audit.record(...)`, after the
    core stored it in its audit table. Forward it to a SIEM or a log; exceptions are
    logged and swallowed so an unreachable sink never fails a request.
    Example: `syslog.syslog(f"{event.action} {event.target} by {event.actor_id}")`.
    """


@hookspec
def collect_invocation_secrets(tenant_id, namespace, user_id):
    """Return the secrets one function invocation may read, as layers (a dict, or `None`).

    Called by the functions runtime once per invocation, server-side only. Keys of the
    returned dict are layers: `"user"` (the caller's own secrets; `user_id` is `None`
    for anonymous calls), `"system"` (the tenant's system secrets), `"function"` (function
    secrets of `namespace`, then global) and `"env"` (`FLUXBASE_SECRET_*` variables);
    each maps names to plaintext strings. Only ever the given tenant's secrets. A stored
    value that does not open is an error, never a missing secret: raise
    `flux.errors.unreadable_secret(error)` with the `DecryptionError`.
    Example: `return {"system": {"stripe_key": decrypt(row)}}`.
    """
