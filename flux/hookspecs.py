"""Every hook a Fluxbase plugin can implement.

Three kinds of hook, as in `../shared/DESIGN.md`:

* collect-all: every plugin contributes and the core uses all the answers
  (`register_config_defaults`, `register_scopes`, `register_setting_categories`, `register_blueprints`,
  `register_admin_pages`, `register_commands`, `register_migrations`,
  `register_encrypted_columns`, `startup`, `before_serving`, `delete_tenant_data`);
* named registries: every plugin registers named implementations and configuration
  picks one by name (`register_ciphers`, `register_storage_backends`); installing a
  plugin never silently changes which one is used;
* firstresult: the first non-`None` answer wins.

A hook only one plugin calls is that plugin's own: it adds its spec through
`register_hookspecs` (the functions plugin's `register_function_runtimes`, for one).
The plugin author's guide, `docs/plugins.md`, has one example for each hook; a test
fails when a hook of a built-in plugin has no section there or no `test_hook_<name>` test.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "fluxbase"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec(historic=True)
def register_hookspecs(manager):
    """Add this plugin's own hookspecs to `manager` (a `pluggy.PluginManager`): `manager.add_hookspecs(specs)`.

    Called as each plugin registers, before the hooks other plugins implement are
    checked: so a plugin that calls a hook of its own declares it here, and other
    plugins implement it like any hook (with `@hookimpl(optionalhook=True)` when they
    should also load without the declaring plugin).
    Example: `manager.add_hookspecs(notes_hookspecs)`.
    """


@hookspec
def register_config_defaults():
    """Return this plugin's configuration defaults: `{NAME: default}` (UPPER_CASE names).

    Called once by `create_app`, after the plugins are loaded and before the app's
    configuration is merged. These defaults are the lowest layer (under the instance's
    `config.py`, `FLUXBASE_<NAME>` variables and test configuration), and the type of
    each default says how its variable is parsed: bool, int, list (comma-separated) or
    str. A name the core or another plugin already defines stops start-up.
    Example: `return {"NOTES_MAX_LENGTH": 10000}`.
    """


@hookspec
def register_scopes():
    """Return the service-key scopes this plugin checks: `{"family:action": "what it grants"}`.

    Called once by `create_app`. A service key may be given only known scopes (and
    `family:*` for a known family); the dashboard offers them as checkboxes. A scope
    another plugin or the core registers stops start-up.
    Example: `return {"notes:read": "read notes", "notes:write": "create, change and delete notes"}`.
    """


@hookspec
def register_setting_categories():
    """Return tenant-setting categories: `{name: model}`, each model a `flux.api.SettingsGroup` subclass.

    Called once by `create_app`. Every field has a default (the code default); a field
    whose type is another `SettingsGroup` is a group, any other a leaf. A tenant's value
    of a leaf is its stored one (`PUT /api/v1/admin/settings/{name}`), else
    `FLUXBASE_SETTINGS_<NAME>_<PATH>`, else the default; read it with
    `flux.api.tenant_settings.value("name.path")`. A name another plugin registers, or
    `custom` and `reset`, stops start-up.
    Example: `return {"notes": NotesSettings}` with `class NotesSettings(SettingsGroup): max_length: int = 10000`.
    """


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


@hookspec
def before_serving(app):
    """Called when a server starts, after migrations, before it answers: one-time work on the database.

    `fluxbase serve` calls it once per node, in the process that starts the workers;
    `flux.wsgi` (gunicorn run by the operator) in each worker. So several may run at
    once: make it safe concurrently and cheap to repeat. `flux.api.acting_as_server`
    gives it a tenant and an actor to work as. A problem it cannot mend should be
    reported, not raised: the server still starts. Return lines for the operator
    (`fluxbase serve` prints them, `flux.wsgi` logs them), or None. Example: the
    functions plugin loads `FLUXBASE_FUNCTIONS_FUNCTIONS_DIR` into the default tenant.
    """


@hookspec
def delete_tenant_data(tenant_id):
    """Delete everything this plugin keeps for the tenant `tenant_id`: it is being deleted for good.

    Called by the tenants plugin's hard delete (`DELETE /api/v1/admin/tenants/{id}?hard=true`)
    inside its one transaction, as that tenant (`tenant_scope`), before the tenant's
    row goes. Delete through `db.session` (rows of tenant-owned models:
    `flux.api.delete_tenant_rows(tenant_id, ChildModel, ParentModel)`, children first)
    and through the configured key-value store; do not commit, and raise to abort the
    whole delete. Files and caches outside the database go after the commit, if at all.
    Example: `delete_tenant_rows(tenant_id, NoteRevision, Note)`.
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
