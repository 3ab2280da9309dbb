"""Cookie sessions only where the dashboard lives.

The session cookie's path is `/dashboard`, so no other request carries one; opening and
saving an (empty) signed session for every API call would still cost a serializer and a
`Vary: Cookie` header each time. Elsewhere the request gets Flask's null session.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class DashboardSessionInterface(SecureCookieSessionInterface):
    def __init__(self, path_prefix: str) -> None:
        self.path_prefix = path_prefix

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith(self.path_prefix):
            return self.make_null_session(app)
        return super().open_session(app, request)
