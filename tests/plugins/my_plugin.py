"""A test plugin that implements every hook, the way a third-party plugin would."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import click
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from flask import Blueprint, jsonify, request
from pydantic import Field

from flux import error_codes, hookimpl
from flux.admin_pages import AdminPage
from flux.context import Actor, acting_as_server, current_actor
from flux.crypto import Cipher, DecryptionError, EncryptedColumn, associated_data
from flux.db import db
from flux.errors import Conflict
from flux.hookspecs import hookspec
from flux.storage import MemoryStore
from flux.tenancy import current_tenant_id, find_tenant
from flux.tenant_settings import SettingsGroup

notes = sa.Table(
    "my_plugin_notes",
    db.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner_id", sa.String(36), nullable=True),
    sa.Column("title", sa.String(100), nullable=False),
    sa.Column("body", sa.Text, nullable=True),
)

blueprint = Blueprint("my_plugin", __name__, url_prefix="/api/v1/my-plugin")


def note_aad(row) -> bytes:
    return associated_data("my-plugin-note", row["id"], row["owner_id"])


@blueprint.post("/echo")
def echo():
    return jsonify({"received": request.get_json()})


@blueprint.post("/conflict")
def conflict():
    raise Conflict("that thing already exists", code="ALREADY_EXISTS")


@blueprint.get("/boom")
def boom():
    raise RuntimeError("secret internal detail")


@blueprint.get("/page")
def page():
    return "<p>my plugin page</p>"


class ChaChaCipher(Cipher):
    name = "chacha20-poly1305"

    def seal(self, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, associated_data)

    def open(self, key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
        try:
            return ChaCha20Poly1305(key).decrypt(sealed[:12], sealed[12:], associated_data)
        except InvalidTag:
            raise DecryptionError("does not open") from None


class PrefixedMemoryStore(MemoryStore):
    name = "my-memory"


class MyPluginHooks:
    """The test plugin's own hook, declared through `register_hookspecs`."""

    @hookspec
    def my_plugin_greetings(self):
        """Return a greeting for the test plugin's echo (other plugins may answer too)."""


@hookimpl
def register_hookspecs(manager):
    manager.add_hookspecs(MyPluginHooks)


@hookimpl
def my_plugin_greetings():
    return "hello from my plugin"


@hookimpl
def register_config_defaults():
    return {"MY_PLUGIN_MAX_NOTES": 100, "MY_PLUGIN_LOUD": False, "MY_PLUGIN_TAGS": [], "MY_PLUGIN_GREETING": "hi"}


@hookimpl
def register_scopes():
    return {"notes:read": "read notes", "notes:write": "create, change and delete notes"}


class NotesSettings(SettingsGroup):
    """How notes behave in a tenant."""

    max_length: Annotated[int, Field(ge=1, le=100_000)] = 10_000
    sharing: bool = False


@hookimpl
def register_setting_categories():
    return {"notes": NotesSettings}


@hookimpl
def register_blueprints(app):
    return [blueprint]


@hookimpl
def register_admin_pages(app):
    return [AdminPage("My page", "my_plugin.page", category="Testing")]


@hookimpl
def register_commands(cli):
    @cli.command("my-hello")
    @click.option("--name", default="world")
    def my_hello(name: str) -> None:
        """Say hello (from the test plugin)."""
        click.echo(f"hello {name}")


@hookimpl
def register_migrations():
    return Path(__file__).parent / "migrations"


@hookimpl
def register_ciphers():
    return [ChaChaCipher]


@hookimpl
def register_storage_backends():
    return [PrefixedMemoryStore]


@hookimpl
def register_encrypted_columns(app):
    return [EncryptedColumn(notes, "body", aad=note_aad, user_id=lambda row: row["owner_id"])]


@hookimpl
def startup(app):
    app.config["MY_PLUGIN_STARTED"] = app.extensions["flux"].plugins.has_plugin("tests.plugins.my_plugin")


@hookimpl
def before_serving(app):
    """Says who and where it works as, and that it ran: once per `fluxbase serve`."""
    with acting_as_server(app) as tenant:
        app.config["MY_PLUGIN_SERVING_AS"] = (current_actor().kind, tenant.slug, current_tenant_id() == tenant.id)
    return ["my plugin is ready to serve"]


@hookimpl
def actor_from_request(request):
    """A robot administrator for requests that carry the test header; others decide the rest."""
    if request.headers.get("X-My-Plugin-Actor") == "robot":
        return Actor(kind="platform", role="instance_admin", id="robot", email="robot@plugin.example")
    return None


@hookimpl
def resolve_tenant(request, actor):
    """One tenant per "host", as a subdomain router would do it."""
    host = request.headers.get("X-My-Plugin-Host")
    return find_tenant(host.split(".")[0]) if host else None


@hookimpl
def permission_allowed(actor, action, resource):
    if actor.email == "blocked@example.com":
        return False
    return None


admin_blueprint = Blueprint("my_admin", __name__, url_prefix="/my-plugin")
heard_events: list = []


@admin_blueprint.route("/", methods=["GET", "POST"])
def my_admin_page():
    if request.method == "POST":
        return "<p>posted</p>"
    return f"<p>my admin page for {current_actor().email}</p>"


@hookimpl
def register_dashboard_blueprints(app):
    return [admin_blueprint]


@hookimpl
def record_audit_event(event):
    heard_events.append(event)


NOTES_KEPT = error_codes.register("NOTES_KEPT", 409, "my-plugin keeps the tenant's notes.", "my_plugin")
deleted_tenants: list[tuple[str, str]] = []
tenants_kept: set[str] = set()  # a hard delete of these is refused, as a plugin that cannot let go would


@hookimpl
def delete_tenant_data(tenant_id):
    if tenant_id in tenants_kept:
        raise Conflict("my-plugin keeps this tenant's notes", code=NOTES_KEPT)
    deleted_tenants.append((tenant_id, current_tenant_id()))


# The flags plugin's hook: optional, so this plugin also loads without it.
@hookimpl(optionalhook=True)
def register_feature_flags():
    from plugins.flags.declared import FeatureFlag

    return [FeatureFlag("notes_sharing", "Note sharing", "Share notes by link", "notes", "low", False)]


# The functions plugin's hooks: optional, so this plugin also loads without it.
@hookimpl(optionalhook=True)
def read_invocation_secret(tenant_id, namespace, name, layers):
    return {"function": f"token-for-{namespace}"} if name == "MY_PLUGIN_TOKEN" and "function" in layers else None


@hookimpl(optionalhook=True)
def collect_invocation_flags(tenant_id, context):
    return {"my_plugin_beta": True, "my_plugin_context": context}


class EchoRuntime:
    """A function runtime without Deno: answers every call with what it was given."""

    name = "my-echo"

    def __init__(self, app) -> None:
        self.closed = False

    def check(self, code: str) -> str | None:
        return "my-echo refuses code containing 'syntax error'" if "syntax error" in code else None

    def invoke(self, spec, invocation):
        from plugins.functions.runtime.base import SUCCESS, Outcome

        env = sorted(invocation.env_all())
        echoed = {"version": spec.version, "method": invocation.request["method"], "env": env}
        return Outcome(
            SUCCESS,
            200,
            response={"status": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(echoed)},
        )

    def close(self) -> None:
        self.closed = True


@hookimpl(optionalhook=True)
def register_function_runtimes():
    return [EchoRuntime]
