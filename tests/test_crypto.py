"""Ciphers, master keys and per-user keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
import uuid

import pytest

from flux import create_app
from flux.config import ConfigError
from flux.crypto import DecryptionError, associated_data
from flux.crypto.keyring import KEY_FILE_NAME, key_id

AAD = associated_data("test", "tenant-1", "owner-1", "key-1")


def encryptor(app):
    return app.extensions["flux"].encryptor


def rfc5869_hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF written out from RFC 5869, to check our derivation independently."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def test_round_trip_and_stored_form(app):
    token = encryptor(app).encrypt("s3cr3t value", aad=AAD)
    version, cipher, kid, body = token.split(":")
    assert (version, cipher) == ("fx1", "aes-256-gcm")
    assert kid == encryptor(app).keyring.primary.id
    assert "s3cr3t" not in token
    assert b"s3cr3t" not in base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert encryptor(app).decrypt_text(token, aad=AAD) == "s3cr3t value"


def test_nonce_is_random(app):
    assert encryptor(app).encrypt("same", aad=AAD) != encryptor(app).encrypt("same", aad=AAD)


def test_wrong_associated_data_does_not_open(app):
    token = encryptor(app).encrypt("value", aad=AAD)
    with pytest.raises(DecryptionError):
        encryptor(app).decrypt(token, aad=associated_data("test", "tenant-2", "owner-1", "key-1"))


def test_open_text_remembers_what_opened_and_never_what_did_not(app):
    sealer = encryptor(app)
    token = sealer.encrypt("value", aad=AAD)
    parts = ("tenant-1", "owner-1", "key-1")
    before = sealer.open_text.cache_info()
    assert sealer.open_text(token, "test", parts) == "value"
    assert sealer.open_text(token, "test", parts) == "value"
    after = sealer.open_text.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    for _ in range(2):  # a value copied to another row fails every time: failures are not remembered
        with pytest.raises(DecryptionError):
            sealer.open_text(token, "test", ("tenant-2", "owner-1", "key-1"))
    assert sealer.open_text.cache_info().misses - after.misses == 2


def test_associated_data_parts_are_unambiguous():
    assert associated_data("p", "ab", "c") != associated_data("p", "a", "bc")


def test_tampered_ciphertext_does_not_open(app):
    token = encryptor(app).encrypt("value", aad=AAD)
    head, body = token.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-1] ^= 0x01
    tampered = head + ":" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(DecryptionError):
        encryptor(app).decrypt(tampered, aad=AAD)
    for garbage in ["", "plain text", "fx1:aes-256-gcm:nokey:AAAA", "fx1:unknown:x:AAAA", head + ":!!!"]:
        with pytest.raises(DecryptionError):
            encryptor(app).decrypt(garbage, aad=AAD)


def test_wrong_key_does_not_open(make_app, tmp_path):
    first = make_app(migrated=False, ENCRYPTION_KEY="a" * 32)
    token = encryptor(first).encrypt("value", aad=AAD)
    other = make_app(migrated=False, ENCRYPTION_KEY="b" * 32, INSTANCE_PATH=str(tmp_path / "other"))
    with pytest.raises(DecryptionError, match="not in the key ring"):
        encryptor(other).decrypt(token, aad=AAD)


def test_key_file_created_0600_and_reused(make_app, tmp_path):
    first = make_app(migrated=False)
    path = tmp_path / "instance" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = encryptor(first).encrypt("kept", aad=AAD)
    second = make_app(migrated=False)
    assert encryptor(second).keyring.primary.id == encryptor(first).keyring.primary.id
    assert encryptor(second).decrypt_text(token, aad=AAD) == "kept"


@pytest.mark.parametrize(
    "text",
    ["k" * 32, "ab" * 32, base64.b64encode(b"\x07" * 32).decode()],
    ids=["raw", "hex", "base64"],
)
def test_environment_key_forms(make_app, text):
    app = make_app(migrated=False, ENCRYPTION_KEY=text)
    assert encryptor(app).keyring.from_file is False
    assert len(encryptor(app).keyring.primary.key) == 32


@pytest.mark.parametrize("text", ["short", "k" * 31, "k" * 33])
def test_environment_key_must_be_32_bytes(tmp_path, text):
    with pytest.raises(ConfigError, match="must be exactly 32 bytes"):
        create_app({"INSTANCE_PATH": str(tmp_path), "ENCRYPTION_KEY": text})


def test_environment_key_is_read_from_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("FLUXBASE_ENCRYPTION_KEY", "1" * 32)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert encryptor(app).keyring.primary.id == key_id(b"1" * 32)
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_previous_keys_still_open_old_values(make_app, tmp_path):
    old = make_app(migrated=False, ENCRYPTION_KEY="o" * 32)
    token = encryptor(old).encrypt("before", aad=AAD)
    new = make_app(migrated=False, ENCRYPTION_KEY="n" * 32, ENCRYPTION_PREVIOUS_KEYS=["o" * 32])
    assert encryptor(new).decrypt_text(token, aad=AAD) == "before"
    assert encryptor(new).encrypt("after", aad=AAD).split(":")[2] == key_id(b"n" * 32)


def test_unknown_cipher_stops_startup_listing_known_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown cipher 'rot13'.*known: aes-256-gcm"):
        create_app({"INSTANCE_PATH": str(tmp_path), "ENCRYPTION_CIPHER": "rot13"})


def test_per_user_key_is_rfc5869_hkdf(app):
    user = uuid.uuid4()
    token = encryptor(app).encrypt("mine", aad=AAD, user_id=user)
    master = encryptor(app).keyring.primary.key
    expected_key = rfc5869_hkdf_sha256(master, str(user).encode(), b"fluxbase-user-settings-v1")
    sealed = base64.urlsafe_b64decode(token.split(":")[3] + "==")
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    assert AESGCM(expected_key).decrypt(sealed[:12], sealed[12:], AAD) == b"mine"


def test_per_user_keys_are_isolated(app):
    alice, bob = uuid.uuid4(), uuid.uuid4()
    token = encryptor(app).encrypt("alice only", aad=AAD, user_id=alice)
    assert encryptor(app).decrypt_text(token, aad=AAD, user_id=str(alice).upper()) == "alice only"
    with pytest.raises(DecryptionError):
        encryptor(app).decrypt(token, aad=AAD, user_id=bob)
    with pytest.raises(DecryptionError):
        encryptor(app).decrypt(token, aad=AAD)
    with pytest.raises(ValueError):
        encryptor(app).encrypt("x", aad=AAD, user_id="not-a-uuid")
