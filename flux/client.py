"""A small HTTP client for a Fluxbase server: sign-in, function secrets and settings secrets.

Used by the `fluxbase` remote commands, and importable by any tool:

    client = FluxClient("https://flux.example.com", token=os.environ["FLUXBASE_TOKEN"])
    client.set_secret("STRIPE_KEY", value, description="Stripe live key")

Every failure, from the server or from the network, is one `ClientError`. Its message
never holds a credential or a secret value, so callers may print or log it as it is.
An expired access token is refreshed once with the refresh token; `on_tokens` hears of
the new pair so the caller can store it (refresh tokens rotate: the old one is spent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from flux.version import __version__

SERVICE_KEY_PREFIX = "fbk_"  # what the server's service keys start with
TENANT_HEADER = "X-FB-Tenant"
DEFAULT_TIMEOUT_SECONDS = 30.0


class ClientError(Exception):
    """A failed call: `status` and `code` come from the server (`None` when it never answered)."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code

    def __str__(self) -> str:
        if self.status is None:
            return self.message
        return f"{self.message} ({self.status} {self.code})" if self.code else f"{self.message} (HTTP {self.status})"


def _name(value: str) -> str:
    """One path segment: a name may hold any character, even `/` or `?`."""
    return quote(value, safe="")


def _without_userinfo(url: str) -> str:
    """The URL as it may appear in a message: `user:password@` is dropped."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _error_body(response: requests.Response) -> dict[str, Any]:
    """The `{"error", "code"}` object of an error answer; empty when the answer is something else."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _omit_none(**fields: Any) -> dict[str, Any]:
    """A request body with only the fields given, so that the server keeps the others."""
    return {name: value for name, value in fields.items() if value is not None}


class FluxClient:
    """Calls one Fluxbase server as one caller: an administrator, an app user or a service key.

    `token` is an access token (JWT) or a service key (`fbk_…`); `service_key` names a key
    explicitly. `app_user` says which sign-in endpoints the tokens belong to (app users'
    `/auth/…` or administrators' `/admin/…`). `tenant` is sent as `X-FB-Tenant`.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        service_key: str | None = None,
        tenant: str | None = None,
        refresh_token: str | None = None,
        *,
        app_user: bool = False,
        on_tokens: Callable[[dict[str, Any]], None] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if token and token.startswith(SERVICE_KEY_PREFIX) and not service_key:
            token, service_key = None, token
        self.url = url.rstrip("/")
        self.access_token, self.refresh_token, self.service_key = token, refresh_token, service_key
        self.tenant, self.app_user, self.on_tokens, self.timeout = tenant, app_user, on_tokens, timeout

    # -- transport -------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"fluxbase-client/{__version__}"}
        if self.tenant:
            headers[TENANT_HEADER] = self.tenant
        if self.service_key:
            headers["X-Service-Key"] = self.service_key
        elif self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return headers

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        where = _without_userinfo(self.url)
        try:
            return requests.request(method, self.url + path, headers=self._headers(), timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise ClientError(f"the Fluxbase server at {where} did not answer within {self.timeout:g} s") from None
        except requests.RequestException:
            raise ClientError(
                f"cannot reach the Fluxbase server at {where}: check the URL and that the server is running"
            ) from None

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """Call `path` (e.g. `/api/v1/secrets`); the decoded JSON answer, `None` for an empty one.

        A 401 for an expired access token is answered by one refresh and one retry.
        """
        params = _omit_none(**(params or {}))
        response = self._send(method, path, json=json, params=params)
        if response.status_code == 401 and self.refresh_token and _error_body(response).get("code") == "INVALID_TOKEN":
            self.refresh()
            response = self._send(method, path, json=json, params=params)
        if not response.ok:
            body = _error_body(response)
            if isinstance(body.get("error"), str):
                raise ClientError(body["error"], response.status_code, body.get("code"))
            raise self._unexpected(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise self._unexpected(response) from None

    def _unexpected(self, response: requests.Response) -> ClientError:
        """An answer that is not Fluxbase's JSON: most likely the URL points at another server."""
        return ClientError(
            f"unexpected answer from {_without_userinfo(self.url)}, not Fluxbase's JSON: check the URL",
            response.status_code,
        )

    # -- sign-in -----------------------------------------------------------------------

    @property
    def _auth_prefix(self) -> str:
        return "/api/v1/auth" if self.app_user else "/api/v1/admin"

    def _take_tokens(self, answer: dict[str, Any]) -> dict[str, Any]:
        self.access_token, self.refresh_token = answer["access_token"], answer["refresh_token"]
        if self.on_tokens:
            self.on_tokens(answer)
        return answer

    def login(self, email: str, password: str) -> dict[str, Any]:
        """Sign in (administrator, or app user with `app_user`); `{user, access_token, refresh_token, expires_in}`."""
        self.service_key = self.access_token = None
        path = "/api/v1/auth/signin" if self.app_user else "/api/v1/admin/login"
        return self._take_tokens(self.request("POST", path, json={"email": email, "password": password}))

    def refresh(self) -> dict[str, Any]:
        """Trade the refresh token for a new pair (the old refresh token is spent)."""
        if not self.refresh_token:
            raise ClientError("no refresh token to renew the session with: sign in again")
        self.access_token = None
        answer = self.request("POST", f"{self._auth_prefix}/refresh", json={"refresh_token": self.refresh_token})
        return self._take_tokens(answer)

    def logout(self) -> None:
        """End the session on the server (a service key has none)."""
        if self.service_key or not (self.access_token or self.refresh_token):
            return
        self.request("POST", "/api/v1/auth/signout" if self.app_user else "/api/v1/admin/logout")

    def check_service_key(self) -> None:
        """Raise `ClientError` unless the server accepts the service key.

        Any authenticated call would do; listing service keys is in every server. A key
        without the `service_keys:read` scope is refused that list (403 FORBIDDEN), which
        still proves the key itself is valid.
        """
        try:
            self.request("GET", "/api/v1/admin/service-keys")
        except ClientError as error:
            if (error.status, error.code) != (403, "FORBIDDEN"):
                raise

    # -- function secrets: /api/v1/secrets --------------------------------------------------

    @staticmethod
    def _secret(name: str) -> str:
        return f"/api/v1/secrets/by-name/{_name(name)}"

    def list_secrets(self, scope: str | None = None, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.request("GET", "/api/v1/secrets", params={"scope": scope, "namespace": namespace})

    def create_secret(
        self,
        name: str,
        value: str,
        scope: str | None = None,
        namespace: str | None = None,
        description: str | None = None,
        expires_at: str | None = None,
    ) -> dict[str, Any]:
        """A new secret at version 1; the scope defaults to `namespace` with a namespace, else `global`."""
        body = _omit_none(
            name=name, value=value, scope=scope, namespace=namespace, description=description, expires_at=expires_at
        )
        return self.request("POST", "/api/v1/secrets", json=body)

    def get_secret(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """Metadata of the namespace's secret `name`, or of the global one without a namespace."""
        return self.request("GET", self._secret(name), params={"namespace": namespace})

    def update_secret(
        self,
        name: str,
        namespace: str | None = None,
        value: str | None = None,
        description: str | None = None,
        expires_at: str | None = None,
    ) -> dict[str, Any]:
        """Change what is given; a new value makes a new version."""
        body = _omit_none(value=value, description=description, expires_at=expires_at)
        return self.request("PUT", self._secret(name), json=body, params={"namespace": namespace})

    def set_secret(
        self,
        name: str,
        value: str,
        scope: str | None = None,
        namespace: str | None = None,
        description: str | None = None,
        expires_at: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Update the secret if it exists, else create it; its metadata and whether it was created."""
        return _update_or_create(
            lambda: self.update_secret(name, namespace, value, description, expires_at),
            lambda: self.create_secret(name, value, scope, namespace, description, expires_at),
        )

    def delete_secret(self, name: str, namespace: str | None = None) -> None:
        self.request("DELETE", self._secret(name), params={"namespace": namespace})

    def secret_versions(self, name: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """`{version, created_at, created_by}` of every stored version, newest first."""
        path = f"{self._secret(name)}/versions"
        return self.request("GET", path, params={"namespace": namespace})

    def rollback_secret(self, name: str, version: int, namespace: str | None = None) -> dict[str, Any]:
        """Make the value of `version` current again, as a new version."""
        path = f"{self._secret(name)}/rollback/{int(version)}"
        return self.request("POST", path, params={"namespace": namespace})

    # -- settings secrets: the tenant's system secrets, or the app user's own -------------------

    @staticmethod
    def _settings_secrets(user: bool) -> str:
        return "/api/v1/settings/secret" if user else "/api/v1/admin/settings/custom/secret"

    def list_setting_secrets(self, user: bool = False) -> list[dict[str, Any]]:
        return self.request("GET", self._settings_secrets(user))

    def create_setting_secret(
        self, key: str, value: str, description: str | None = None, user: bool = False
    ) -> dict[str, Any]:
        body = _omit_none(key=key, value=value, description=description)
        return self.request("POST", self._settings_secrets(user), json=body)

    def get_setting_secret(self, key: str, user: bool = False) -> dict[str, Any]:
        return self.request("GET", f"{self._settings_secrets(user)}/{_name(key)}")

    def update_setting_secret(
        self, key: str, value: str | None = None, description: str | None = None, user: bool = False
    ) -> dict[str, Any]:
        body = _omit_none(value=value, description=description)
        return self.request("PUT", f"{self._settings_secrets(user)}/{_name(key)}", json=body)

    def set_setting_secret(
        self, key: str, value: str, description: str | None = None, user: bool = False
    ) -> tuple[dict[str, Any], bool]:
        """Update the secret if it exists, else create it; its metadata and whether it was created."""
        return _update_or_create(
            lambda: self.update_setting_secret(key, value, description, user),
            lambda: self.create_setting_secret(key, value, description, user),
        )

    def delete_setting_secret(self, key: str, user: bool = False) -> None:
        self.request("DELETE", f"{self._settings_secrets(user)}/{_name(key)}")


def _update_or_create(
    update: Callable[[], dict[str, Any]], create: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """Update first: a key taken by something else then fails on create with the server's own 409."""
    try:
        return update(), False
    except ClientError as error:
        if error.code != "NOT_FOUND":
            raise
    return create(), True
