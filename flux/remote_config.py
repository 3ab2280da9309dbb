"""Where the `fluxbase` remote commands keep the server and credentials between runs.

One JSON file per user, `$XDG_CONFIG_HOME/fluxbase/config.json` (default
`~/.config/fluxbase/config.json`), readable by its owner only: it holds an access and
refresh token or a service key. `FLUXBASE_URL`, `FLUXBASE_TOKEN` (an access token or a
service key) and `FLUXBASE_TENANT` override it, for scripts and CI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from flux.client import ClientError, FluxClient

URL_VARIABLE, TOKEN_VARIABLE, TENANT_VARIABLE = "FLUXBASE_URL", "FLUXBASE_TOKEN", "FLUXBASE_TENANT"
LOGIN_HINT = "run `fluxbase login --url URL` (or set FLUXBASE_URL and FLUXBASE_TOKEN)"


def config_path() -> Path:
    """The config file; a relative `XDG_CONFIG_HOME` is ignored, as the XDG spec says."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    folder = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return folder / "fluxbase" / "config.json"


def load_config() -> dict[str, Any]:
    """The stored settings; empty when there are none."""
    path = config_path()
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ClientError(f"cannot read {path} ({type(error).__name__}): fix or delete it, then log in again") from None
    return stored if isinstance(stored, dict) else {}


def save_config(config: dict[str, Any]) -> Path:
    """Replace the file at once, created 0600 in a 0700 folder so no other user ever sees a token."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(config, file, indent=2)
    os.replace(temporary, path)
    return path


def forget_config() -> None:
    config_path().unlink(missing_ok=True)


def connect(tenant: str | None = None) -> FluxClient:
    """A client for the configured server and caller; `ClientError` when there is none.

    The file's credentials are sent only to the server they came from: with
    `FLUXBASE_URL` naming another one, `FLUXBASE_TOKEN` must be set too.
    """
    config = load_config()
    url = (os.environ.get(URL_VARIABLE) or config.get("url") or "").rstrip("/")
    tenant = tenant or os.environ.get(TENANT_VARIABLE) or config.get("tenant")
    token = os.environ.get(TOKEN_VARIABLE)
    if url and token:
        return FluxClient(url, token=token, tenant=tenant)
    if not url or url != config.get("url") or not (config.get("access_token") or config.get("service_key")):
        raise ClientError(f"not logged in{f' at {url}' if url else ''}: {LOGIN_HINT}")
    return saved_client(config, tenant)


def saved_client(config: dict[str, Any], tenant: str | None = None) -> FluxClient:
    """A client with the file's own server and credentials; a refreshed token pair is written back."""

    def store(answer: dict[str, Any]) -> None:
        save_config({**config, "access_token": answer["access_token"], "refresh_token": answer["refresh_token"]})

    return FluxClient(
        config.get("url", ""),
        token=config.get("access_token"),
        service_key=config.get("service_key"),
        tenant=tenant or config.get("tenant"),
        refresh_token=config.get("refresh_token"),
        app_user=config.get("account") == "user",
        on_tokens=store,
    )
