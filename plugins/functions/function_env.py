"""A function's own `env`: sealed like every other secret, its names kept beside it in the clear.

The values are one ciphertext per function (`functions.encrypted_env`, a JSON object),
bound by associated data to the tenant, the function's id and the sorted names, which
the `env` column keeps for responses and pages: a value moved to another function,
another tenant or under other names does not open. One ciphertext per row lets key
rotation (`register_encrypted_columns`) re-seal it like any other column.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from flux.api import (
    ApiError,
    DecryptionError,
    KeyNotInRing,
    associated_data,
    error_codes,
    flux_state,
    unreadable_secret,
)

log = logging.getLogger("flux.functions")
PURPOSE = "function-env"


class EnvUnreadable(ApiError):
    """Stored values that do not open: an error, never an empty env."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"the env of function {name!r} cannot be decrypted with this server's keys",
            status=500,
            code=error_codes.SECRET_UNREADABLE,
        )


def aad(tenant_id: str, function_id: str, names: list[str]) -> bytes:
    """Associated data of a function's env: its tenant, its id and its names (which are `\\w+`)."""
    return associated_data(PURPOSE, tenant_id, function_id, ",".join(sorted(names)))


def seal(tenant_id: str, function_id: str, values: Mapping[str, str]) -> tuple[list[str], str | None]:
    """The names to store in the clear and the sealed values (None when there are none)."""
    names = sorted(values)
    if not names:
        return [], None
    plaintext = json.dumps(dict(values), sort_keys=True)
    return names, flux_state().encryptor.encrypt(plaintext, aad=aad(tenant_id, function_id, names))


def open_values(tenant_id: str, function_id: str, function_name: str, names: list[str], sealed: str | None) -> dict:
    """The function's env values; `EnvUnreadable` (logged by function, never by value) if they do not open.

    Sealed with a key this server lacks, the error is `KeyMismatch` (503), as for any other secret.
    """
    if not sealed:
        return {}
    try:
        plaintext = flux_state().encryptor.open_text(sealed, PURPOSE, (tenant_id, function_id, ",".join(sorted(names))))
    except DecryptionError as error:
        log.error("functions: the env of %r (tenant %s) does not open", function_name, tenant_id)
        if isinstance(error, KeyNotInRing):  # this server lacks the key: 503 KEY_MISMATCH, as for every secret
            raise unreadable_secret(error) from None
        raise EnvUnreadable(function_name) from None
    return json.loads(plaintext)
