"""The application factory."""

from __future__ import annotations

import logging
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from jinja2 import ChoiceLoader, FileSystemLoader

from flux import cors, db, errors, http, openapi, routing
from flux.admin_pages import AdminPage
from flux.auth import tokens
from flux.auth.scopes import merge_scopes
from flux.cache import TtlCache
from flux.config import ConfigLayers, default_instance_path, merge_plugin_defaults
from flux.cors import AllowedOrigins
from flux.crypto import Cipher, Encryptor, canary, load_keyring
from flux.plugins import FluxPluginManager, build_plugin_manager
from flux.ratelimit import RateLimiter
from flux.registry import collect_named, pick
from flux.storage import KeyValueStore
from flux.tenancy import TenantDirectory
from flux.tenant_settings import SettingCatalog


def shared_templates() -> Path:
    """The shared layout, `templates/`: beside the packages in a checkout or an editable install.

    An installed wheel keeps it under `<prefix>/share/fluxbase` (setup.cfg's data_files).
    """
    beside = Path(__file__).resolve().parent.parent / "templates"
    if beside.is_dir():
        return beside
    return Path(sysconfig.get_path("data")) / "share" / "fluxbase" / "templates"


@dataclass
class FluxState:
    """Everything the core keeps per app, in `app.extensions["flux"]`."""

    plugins: FluxPluginManager
    ciphers: dict[str, Cipher]
    storage_backends: dict[str, type[KeyValueStore]]
    encryptor: Encryptor
    store: KeyValueStore
    limiter: RateLimiter
    live_sessions: TtlCache[bool]
    verified_tokens: TtlCache[dict]
    tenants: TenantDirectory
    settings: SettingCatalog
    origins: AllowedOrigins
    scopes: dict[str, str] = field(default_factory=dict)
    admin_pages: list[AdminPage] = field(default_factory=list)


def flux_state() -> FluxState:
    """The core state of the current app."""
    return current_app.extensions["flux"]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build an app: configuration, plugins, database, encryption, storage, blueprints.

    `test_config` is the highest configuration layer; its `INSTANCE_PATH` replaces
    `$FLUXBASE_INSTANCE_PATH` (tests use a fresh `tmp_path` each).
    """
    instance = Path((test_config or {}).get("INSTANCE_PATH") or default_instance_path()).resolve()
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)  # keys and the database: the server's only
    app = openapi.create("flux", instance_path=str(instance), instance_relative_config=True)
    layers = ConfigLayers(instance, test_config)
    core_config = layers.merged()
    plugins = build_plugin_manager(core_config["DISABLED_PLUGINS"], core_config["PLUGINS"])
    app.config.update(layers.merged(merge_plugin_defaults(plugins.answers_by_plugin("register_config_defaults"))))
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.jinja_loader = ChoiceLoader([FileSystemLoader(instance / "templates"), FileSystemLoader(shared_templates())])
    logging.getLogger("flux").setLevel(app.config["LOG_LEVEL"])

    errors.init_app(app)
    routing.init_app(app)
    http.init_app(app)
    cors.init_app(app)
    db.init_app(app)
    tokens.init_app(app)

    ciphers = {name: cls() for name, cls in collect_named("cipher", plugins.hook.register_ciphers()).items()}
    cipher = pick("cipher", ciphers, app.config["ENCRYPTION_CIPHER"], "FLUXBASE_ENCRYPTION_CIPHER")
    backends = collect_named("storage backend", plugins.hook.register_storage_backends())
    backend = pick("storage backend", backends, app.config["STORAGE_BACKEND"], "FLUXBASE_STORAGE_BACKEND")
    state = FluxState(
        plugins=plugins,
        ciphers=ciphers,
        storage_backends=backends,
        encryptor=Encryptor(load_keyring(app.config, instance), ciphers, cipher.name),
        store=backend(app),
        limiter=RateLimiter(app.config["RATE_LIMIT_STORAGE_URL"]),
        live_sessions=TtlCache(app.config["AUTH_SESSION_CACHE_SECONDS"]),
        verified_tokens=TtlCache(app.config["AUTH_SESSION_CACHE_SECONDS"]),
        tenants=TenantDirectory(app.config["TENANT_CACHE_SECONDS"]),
        settings=SettingCatalog(plugins.answers_by_plugin("register_setting_categories"), layers.settings_sources()),
        origins=AllowedOrigins(app.config["TENANT_CACHE_SECONDS"]),
        scopes=merge_scopes(plugins.answers_by_plugin("register_scopes")),
    )
    app.extensions["flux"] = state

    for blueprints in plugins.hook.register_blueprints(app=app):
        for blueprint in blueprints or []:
            openapi.register(app, blueprint)
    pages = [page for contributed in plugins.hook.register_admin_pages(app=app) for page in contributed or []]
    state.admin_pages = sorted(pages, key=lambda page: (page.category, page.order, page.title))
    plugins.hook.startup(app=app)
    canary.log_problem(app)
    return app
