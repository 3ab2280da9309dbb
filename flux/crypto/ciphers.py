"""Authenticated ciphers, each registered by name through the `register_ciphers` hook."""

from __future__ import annotations

import os
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class DecryptionError(Exception):
    """A ciphertext did not open: wrong key, wrong associated data, or tampered bytes."""


class KeyNotInRing(DecryptionError):
    """A value was sealed with a master key this server does not hold: its keys differ from the writer's."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"value was sealed with key {key_id}, which is not in the key ring")
        self.key_id = key_id


class Cipher:
    """An AEAD cipher over 32-byte keys; subclasses set `name` and implement both methods.

    `seal` returns everything `open` needs except the key and the associated data
    (the nonce travels inside the sealed bytes).
    """

    name: ClassVar[str] = ""

    def seal(self, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        raise NotImplementedError

    def open(self, key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
        raise NotImplementedError


class AesGcmCipher(Cipher):
    """AES-256-GCM with a random 96-bit nonce per message (NIST SP 800-38D)."""

    name = "aes-256-gcm"
    nonce_size = 12

    def seal(self, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(self.nonce_size)
        return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)

    def open(self, key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
        nonce, body = sealed[: self.nonce_size], sealed[self.nonce_size :]
        if len(nonce) != self.nonce_size:
            raise DecryptionError("ciphertext is truncated")
        try:
            return AESGCM(key).decrypt(nonce, body, associated_data)
        except InvalidTag:
            raise DecryptionError("ciphertext does not open with this key and associated data") from None
