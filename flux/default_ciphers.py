"""Built-in ciphers, registered through the same hook a third-party cipher plugin uses."""

from flux.crypto import AesGcmCipher
from flux.hookspecs import hookimpl


@hookimpl
def register_ciphers():
    return [AesGcmCipher]
