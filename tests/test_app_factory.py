"""The app factory and its configuration layers."""

from __future__ import annotations

import pytest

from flux import create_app
from flux.config import ConfigError


def test_test_config_is_applied(app):
    assert app.testing is True
    assert app.config["ENCRYPTION_CIPHER"] == "aes-256-gcm"
    assert "flux" in app.extensions


def test_instance_folder_defaults_to_cwd_instance(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = create_app()
    assert app.instance_path == str(tmp_path / "instance")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'instance' / 'flux.sqlite'}"


def test_instance_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", str(tmp_path / "elsewhere"))
    app = create_app()
    assert app.instance_path == str(tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere").is_dir()


def test_layers_defaults_then_instance_file_then_environment_then_test_config(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text('LOG_LEVEL = "DEBUG"\nMAX_BODY_BYTES = 1234\nSTORAGE_BACKEND = "memory"\n')
    monkeypatch.setenv("FLUXBASE_MAX_BODY_BYTES", "5678")
    monkeypatch.setenv("FLUXBASE_DISABLED_PLUGINS", "dashboard, ")
    app = create_app({"INSTANCE_PATH": str(instance), "STORAGE_BACKEND": "sql"})
    assert app.config["LOG_LEVEL"] == "DEBUG"  # instance file over default
    assert app.config["MAX_BODY_BYTES"] == 5678  # environment over instance file
    assert app.config["MAX_CONTENT_LENGTH"] == 5678
    assert app.config["DISABLED_PLUGINS"] == ["dashboard"]  # lists are comma-separated
    assert app.config["STORAGE_BACKEND"] == "sql"  # test config over everything
    assert app.config["SQLITE_BUSY_TIMEOUT_MS"] == 10000  # untouched default


def test_malformed_integer_variable_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FLUXBASE_MAX_BODY_BYTES", "lots")
    with pytest.raises(ConfigError, match="FLUXBASE_MAX_BODY_BYTES must be an integer"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_unknown_variables_are_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("FLUXBASE_SECRET_STRIPE_KEY", "sk_live_should_not_enter_config")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert "sk_live_should_not_enter_config" not in repr(dict(app.config))


def test_postgres_urls_use_psycopg3(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "postgres://u:p@db.invalid/x"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.invalid/x"


def test_two_apps_have_separate_plugin_managers(make_app, tmp_path):
    first = make_app(migrated=False)
    second = make_app(migrated=False, DISABLED_PLUGINS=["dashboard"])
    assert first.extensions["flux"].plugins is not second.extensions["flux"].plugins
    assert first.extensions["flux"].plugins.has_plugin("dashboard")
    assert not second.extensions["flux"].plugins.has_plugin("dashboard")
