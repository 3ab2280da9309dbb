"""The `fluxbase` command line, in-process and as a real process."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from flux.cli import cli
from flux.version import __version__
from tests.conftest import free_port

FLUXBASE = str(Path(sys.executable).with_name("fluxbase"))


def test_version(runner):
    assert runner.invoke(cli, ["version"]).output == f"{__version__}\n"
    assert __version__ in runner.invoke(cli, ["--version"]).output


def test_keys_generate_prints_a_usable_key(runner):
    key = runner.invoke(cli, ["keys", "generate"]).output.strip()
    assert len(base64.b64decode(key)) == 32


def test_plugins_json(app, monkeypatch):
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    result = app.test_cli_runner().invoke(cli, ["plugins", "--json"])
    names = {plugin["name"] for plugin in json.loads(result.output)}
    assert {"core_api", "ciphers", "storage", "dashboard"} <= names


def test_configuration_error_is_one_clean_line(app, monkeypatch):
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("FLUXBASE_ENCRYPTION_KEY", "too-short")
    result = app.test_cli_runner().invoke(cli, ["plugins"])
    assert result.exit_code == 1
    assert "Error: FLUXBASE_ENCRYPTION_KEY must be exactly 32 bytes" in result.output
    assert "Traceback" not in result.output


@pytest.mark.live_server  # its own `fluxbase serve`, without the fixture
def test_serve_answers_health_as_a_real_process(tmp_path, database_url):
    port = free_port()
    env = {**os.environ, "FLUXBASE_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [FLUXBASE, "serve", "--instance", str(tmp_path / "instance"), "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "server did not answer within 30 s"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok", "keys": "ok", "version": __version__}
        assert requests.get(f"http://127.0.0.1:{port}/nope", timeout=2).json()["code"] == "NOT_FOUND"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "Applying migrations" in output
    assert (tmp_path / "instance" / "encryption.keys").exists()


def test_serve_gives_gunicorn_time_for_the_longest_function(tmp_path, monkeypatch):
    """A sync worker busy with a long function must not be killed as hung before the function's own timeout."""
    from flux.server import GunicornServer

    started = {}
    monkeypatch.setattr(GunicornServer, "run", lambda self: started.update(self.options))
    monkeypatch.setenv("FLUXBASE_FUNCTIONS_MAX_TIMEOUT_SECONDS", "120")
    result = CliRunner().invoke(cli, ["serve", "--instance", str(tmp_path / "instance"), "--port", "8099"])
    assert result.exit_code == 0, result.output
    assert started["timeout"] == 150 and started["workers"] == 2
