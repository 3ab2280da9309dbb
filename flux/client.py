"""A small HTTP client for a Fluxbase server: transport, sign-in and refresh.

Used by the `fluxbase` remote commands, and importable by any tool. Each plugin brings
the methods of its own endpoints as a class around a `FluxClient` (the secrets plugin's
`plugins.secrets.client.SecretsClient`, for one):

    client = FluxClient("https://flux.example.com", token=os.environ["FLUXBASE_TOKEN"])
    SecretsClient(client).set_secret("STRIPE_KEY", value, description="Stripe live key")

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


def path_segment(value: str) -> str:
    """One path segment: a name may hold any character, even `/` or `?`."""
    return quote(value, safe="")


def _without_userinfo(url: str) -> str:
    """The URL as it may appear in a message: `user:password@` is dropped."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _error_body(response: requests.Response) -> dict[str, Any]:
    """The `{"error", "code"}` object of an error answer; empty when the answer is something else.

    OpenFeature's remote evaluation (`/ofrep/v1`) answers its own shape, `{"errorCode",
    "errorDetails"}`, which its providers read; it is taken as the same two fields.
    """
    try:
        body = response.json()
    except ValueError:
        return {}
    if isinstance(body, dict) and "errorDetails" in body:
        return {"error": body["errorDetails"], "code": body.get("errorCode")}
    return body if isinstance(body, dict) else {}


def omit_none(**fields: Any) -> dict[str, Any]:
    """A request body with only the fields given, so that the server keeps the others."""
    return {name: value for name, value in fields.items() if value is not None}


MAX_PAGE_SIZE = 1000  # the most a list answers at once (`?limit=`)


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
        self.page_size = MAX_PAGE_SIZE

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

    def _send(
        self, method: str, path: str, headers: dict[str, str], timeout: float | None, **kwargs: Any
    ) -> requests.Response:
        where = _without_userinfo(self.url)
        headers, timeout = {**self._headers(), **headers}, timeout or self.timeout
        try:
            return requests.request(method, self.url + path, headers=headers, timeout=timeout, **kwargs)
        except requests.Timeout:
            raise ClientError(f"the Fluxbase server at {where} did not answer within {timeout:g} s") from None
        except requests.RequestException:
            raise ClientError(
                f"cannot reach the Fluxbase server at {where}: check the URL and that the server is running"
            ) from None

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str | None] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Call `path` (e.g. `/api/v1/secrets`); the decoded JSON answer, `None` for an empty one.

        `headers` are sent besides the client's own (`If-Match`); one that is `None` is left out.
        """
        response = self.send(method, path, json=json, params=params, headers=headers, timeout=timeout)
        self.raise_for_error(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise self._unexpected(response) from None

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str | None] | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """The answer as it came, whatever its status: for answers that are not Fluxbase's JSON (a function's own).

        A 401 for an expired access token is answered by one refresh and one retry;
        `timeout` (seconds) replaces the client's for calls known to be slow.
        """
        params, headers = omit_none(**(params or {})), omit_none(**(headers or {}))
        sent = {"json": json, "data": data, "params": params}
        response = self._send(method, path, headers, timeout, **sent)
        if response.status_code == 401 and self.refresh_token and _error_body(response).get("code") == "INVALID_TOKEN":
            self.refresh()
            response = self._send(method, path, headers, timeout, **sent)
        return response

    def raise_for_error(self, response: requests.Response) -> None:
        """A failed answer as `ClientError`: the server's message and code, or "not Fluxbase's JSON"."""
        if response.ok:
            return
        body = _error_body(response)
        if isinstance(body.get("error"), str):
            raise ClientError(body["error"], response.status_code, body.get("code"))
        raise self._unexpected(response)

    def list_all(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a paginated list, fetched `page_size` at a time (the server's pages hold at most 1000)."""
        items: list[Any] = []
        while True:
            page = self.request("GET", path, params={**(params or {}), "limit": self.page_size, "offset": len(items)})
            items += page
            if len(page) < self.page_size:
                return items

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


def update_or_create(
    update: Callable[[], dict[str, Any]], create: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """Update first, create when it is `NOT_FOUND`; the answer and whether it was created.

    Update first: a name taken by something else then fails on create with the server's own 409.
    """
    try:
        return update(), False
    except ClientError as error:
        if error.code != "NOT_FOUND":
            raise
    return create(), True
