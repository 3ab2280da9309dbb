"""URL rules: a trailing slash is optional on every route.

Clients (the reference SDK among them) add or drop the slash at the end of a path, so
every rule matches both forms without a redirect (a 308 loses the body of a POST in
some clients) and without registering each rule twice.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import PathConverter


class SlashTolerantPath(PathConverter):
    """A `<path:…>` value without the request's trailing slash: `/user/theme/` names `theme`.

    It takes any character, line breaks too (werkzeug's own stops at one), so a value
    its view refuses gets that view's 400 instead of a 404 for a missing route.
    """

    regex = r"[^/](?s:.*?)"

    def to_python(self, value: str) -> str:
        return value.removesuffix("/")


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered: a rule takes the map's setting when it is added."""
    app.url_map.strict_slashes = False
    app.url_map.converters["path"] = SlashTolerantPath
