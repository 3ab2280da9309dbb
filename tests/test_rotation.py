"""`fluxbase keys rotate`: a new key, every declared value re-encrypted, reads never failing."""

from __future__ import annotations

import threading
import uuid

import sqlalchemy as sa

from flux.cli import cli
from flux.crypto import DecryptionError
from flux.db import db
from tests.plugins.my_plugin import note_aad, notes


def insert_notes(app, count: int) -> dict[int, str]:
    encryptor = app.extensions["flux"].encryptor
    expected = {}
    with app.app_context(), db.engine.begin() as connection:
        for index in range(1, count + 1):
            owner = str(uuid.uuid4()) if index % 2 else None
            plaintext = f"note {index} body"
            body = encryptor.encrypt(plaintext, aad=note_aad({"id": index, "owner_id": owner}), user_id=owner)
            connection.execute(sa.insert(notes).values(id=index, owner_id=owner, title=f"n{index}", body=body))
            expected[index] = plaintext
    return expected


def read_all(app) -> dict[int, str]:
    encryptor = app.extensions["flux"].encryptor
    with app.app_context(), db.engine.connect() as connection:
        rows = [row._mapping for row in connection.execute(sa.select(notes))]
    return {row["id"]: encryptor.decrypt_text(row["body"], aad=note_aad(row), user_id=row["owner_id"]) for row in rows}


def stored_key_ids(app) -> set[str]:
    with app.app_context(), db.engine.connect() as connection:
        return {body.split(":")[2] for body in connection.execute(sa.select(notes.c.body)).scalars()}


def test_rotate_with_key_file(app, monkeypatch):
    expected = insert_notes(app, 450)
    old_primary = app.extensions["flux"].encryptor.keyring.primary.id
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("FLUXBASE_PLUGINS", "tests.plugins.my_plugin")
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", app.config["DATABASE_URL"])

    server = app  # plays the running server: its own key ring, loaded before the rotation
    failures: list[Exception] = []
    stop = threading.Event()

    def keep_reading() -> None:
        while not stop.is_set():
            try:
                assert read_all(server) == expected
            except (DecryptionError, AssertionError) as error:
                failures.append(error)

    reader = threading.Thread(target=keep_reading)
    reader.start()
    try:
        result = app.test_cli_runner().invoke(cli, ["keys", "rotate"], catch_exceptions=False)
    finally:
        stop.set()
        reader.join()

    assert result.exit_code == 0, result.output
    assert "450 value(s) in 5 column(s) to re-encrypt" in result.output
    assert "Re-encrypted 450 value(s)." in result.output
    assert "Re-encrypting" in result.output
    assert failures == []
    new_primary = server.extensions["flux"].encryptor.keyring.primary.id
    assert new_primary != old_primary
    assert stored_key_ids(app) == {new_primary}
    assert read_all(server) == expected
    assert len(server.extensions["flux"].encryptor.keyring.key_ids) == 2


def test_rotate_with_environment_keys(make_app, monkeypatch):
    old = make_app(ENCRYPTION_KEY="o" * 32)
    expected = insert_notes(old, 30)
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", old.instance_path)
    monkeypatch.setenv("FLUXBASE_PLUGINS", "tests.plugins.my_plugin")
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", old.config["DATABASE_URL"])
    monkeypatch.setenv("FLUXBASE_ENCRYPTION_KEY", "n" * 32)
    monkeypatch.setenv("FLUXBASE_ENCRYPTION_PREVIOUS_KEYS", "o" * 32)
    result = old.test_cli_runner().invoke(cli, ["keys", "rotate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 30 value(s)." in result.output
    new = make_app(migrated=False, ENCRYPTION_KEY="n" * 32)
    assert read_all(new) == expected
    assert stored_key_ids(new) == {new.extensions["flux"].encryptor.keyring.primary.id}

    again = old.test_cli_runner().invoke(cli, ["keys", "rotate"], catch_exceptions=False)
    assert "0 value(s)" in again.output and again.exit_code == 0


def test_rotate_reports_values_that_do_not_open(app, monkeypatch):
    insert_notes(app, 3)
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.update(notes).where(notes.c.id == 2).values(owner_id=str(uuid.uuid4())))
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("FLUXBASE_PLUGINS", "tests.plugins.my_plugin")
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", app.config["DATABASE_URL"])
    result = app.test_cli_runner().invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 1
    assert "my_plugin_notes.body [2]" in result.output
    assert "1 value(s) failed" in result.output
    assert len(stored_key_ids(app)) == 2
