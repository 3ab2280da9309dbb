"""Encryption: named ciphers, the master key ring, per-user keys and key rotation."""

from flux.crypto.ciphers import AesGcmCipher, Cipher, DecryptionError, KeyNotInRing
from flux.crypto.encryptor import Encryptor, associated_data, canonical_user_id, derive_user_key
from flux.crypto.keyring import KeyRing, MasterKey, load_keyring
from flux.crypto.rotation import EncryptedColumn, RotationReport, count_pending, rotate_columns

__all__ = [
    "AesGcmCipher",
    "Cipher",
    "DecryptionError",
    "EncryptedColumn",
    "Encryptor",
    "KeyNotInRing",
    "KeyRing",
    "MasterKey",
    "RotationReport",
    "associated_data",
    "canonical_user_id",
    "count_pending",
    "derive_user_key",
    "load_keyring",
    "rotate_columns",
]
