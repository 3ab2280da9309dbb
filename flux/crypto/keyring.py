"""Master keys: from `FLUXBASE_ENCRYPTION_KEY`, or from a key file in the instance folder.

Every key has an id derived from the key itself, so nodes that share the same key
agree on its id without talking. The stored form of a ciphertext names the key id,
which is how old ciphertexts keep opening after a new key becomes the primary one.

With the key file, `fluxbase keys rotate` appends a key while servers run. A server
re-reads the file when it meets a key id it does not know, and notices a new primary
key within `RELOAD_INTERVAL` seconds, so reads never fail during a rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flux.config import ConfigError

KEY_SIZE = 32
KEY_FILE_NAME = "encryption.keys"
RELOAD_INTERVAL = 2.0
_FORCED_RELOAD_INTERVAL = 0.0  # a stat() per unknown key id is cheap


def key_id(key: bytes) -> str:
    """A short public name for a key; a truncated hash, which reveals nothing of a random key."""
    return hashlib.sha256(b"fluxbase-key-id\x00" + key).hexdigest()[:12]


def generate_key() -> bytes:
    return secrets.token_bytes(KEY_SIZE)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def parse_key(text: str, source: str) -> bytes:
    """A 32-byte key from 32 raw characters, 64 hex digits or base64; a clear error otherwise."""
    raw = text.strip().encode()
    if len(raw) == KEY_SIZE:
        return raw
    if len(raw) == 2 * KEY_SIZE:
        try:
            return bytes.fromhex(raw.decode())
        except ValueError:
            pass
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) == KEY_SIZE:
        return decoded
    raise ConfigError(
        f"{source} must be exactly 32 bytes: 32 characters, 64 hex digits or base64 of 32 bytes "
        f"(got {len(raw)} characters). Generate one with `fluxbase keys generate`."
    )


@dataclass(frozen=True)
class MasterKey:
    id: str
    key: bytes


class KeyRing:
    """The primary key for new ciphertexts, and every older key that may still be in use."""

    def __init__(self, primary: MasterKey, others: list[MasterKey], key_file: Path | None = None):
        self._lock = threading.Lock()
        self._key_file = key_file
        self._loaded_mtime = _mtime(key_file)
        self._checked_at = time.monotonic()
        self._set(primary, others)

    def _set(self, primary: MasterKey, others: list[MasterKey]) -> None:
        self._primary = primary
        self._keys = {key.id: key for key in [*others, primary]}

    @property
    def primary(self) -> MasterKey:
        self._reload_if_changed(RELOAD_INTERVAL)
        return self._primary

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    @property
    def from_file(self) -> bool:
        return self._key_file is not None

    def get(self, wanted: str) -> MasterKey | None:
        found = self._keys.get(wanted)
        if found is None and self._reload_if_changed(_FORCED_RELOAD_INTERVAL):
            found = self._keys.get(wanted)
        return found

    def _reload_if_changed(self, interval: float) -> bool:
        if self._key_file is None or time.monotonic() - self._checked_at < interval:
            return False
        with self._lock:
            self._checked_at = time.monotonic()
            mtime = _mtime(self._key_file)
            if mtime == self._loaded_mtime:
                return False
            primary, others = read_key_file(self._key_file)
            self._set(primary, others)
            self._loaded_mtime = mtime
            return True


def _mtime(path: Path | None) -> int | None:
    try:
        return path.stat().st_mtime_ns if path else None
    except FileNotFoundError:
        return None


def read_key_file(path: Path) -> tuple[MasterKey, list[MasterKey]]:
    try:
        document = json.loads(path.read_text())
        keys = [MasterKey(entry["id"], base64.b64decode(entry["key"])) for entry in document["keys"]]
        primary_id = document["primary"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"key file {path} is unreadable ({error}); restore it from your backup") from error
    for key in keys:
        if len(key.key) != KEY_SIZE or key_id(key.key) != key.id:
            raise ConfigError(f"key file {path} holds a damaged key {key.id}; restore it from your backup")
    primary = next((key for key in keys if key.id == primary_id), None)
    if primary is None:
        raise ConfigError(f"key file {path} names primary key {primary_id}, which it does not hold")
    return primary, [key for key in keys if key.id != primary_id]


def write_key_file(path: Path, primary: MasterKey, others: list[MasterKey], *, exclusive: bool = False) -> None:
    """Write the key file with mode 0600, atomically (temp file + rename), or only if absent."""
    now = datetime.now(UTC).isoformat()
    document = {
        "primary": primary.id,
        "keys": [{"id": key.id, "key": encode_key(key.key), "added_at": now} for key in [*others, primary]],
    }
    data = (json.dumps(document, indent=2) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path if exclusive else path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if not exclusive:
        os.replace(target, path)


def load_keyring(config: dict, instance_path: Path) -> KeyRing:
    """The key ring for this configuration, creating the key file on first start."""
    if config.get("ENCRYPTION_KEY"):
        primary_key = parse_key(config["ENCRYPTION_KEY"], "FLUXBASE_ENCRYPTION_KEY")
        previous = [
            parse_key(text, "each of FLUXBASE_ENCRYPTION_PREVIOUS_KEYS")
            for text in config.get("ENCRYPTION_PREVIOUS_KEYS") or []
        ]
        return KeyRing(MasterKey(key_id(primary_key), primary_key), [MasterKey(key_id(k), k) for k in previous])
    path = instance_path / KEY_FILE_NAME
    if not path.exists():
        key = generate_key()
        try:
            write_key_file(path, MasterKey(key_id(key), key), [], exclusive=True)
        except FileExistsError:
            pass  # another worker created it first; use theirs
    primary, others = read_key_file(path)
    return KeyRing(primary, others, key_file=path)


def add_primary_key(keyring: KeyRing, path: Path) -> MasterKey:
    """Append a fresh key to the key file and make it the primary one; return it."""
    primary, others = read_key_file(path)
    fresh = generate_key()
    new_primary = MasterKey(key_id(fresh), fresh)
    write_key_file(path, new_primary, [*others, primary])
    keyring._reload_if_changed(0)
    return new_primary
