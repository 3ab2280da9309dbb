"""What a function's code becomes when it is saved: checked, and bundled with the shared modules it imports.

Runs before the request's write transaction (a check or a bundle takes a second or
two, and on SQLite a write transaction holds the database's lock). Code that does not
mention `_shared/` is checked alone and runs as written. Code that does is checked and
bundled with every shared module of the tenant beside it (Deno keeps what is imported),
and the function records which modules, at which versions, it was built with: those
reachable by its imports, read off the sources.
"""

from __future__ import annotations

import posixpath
import re

import sqlalchemy as sa
from flask import current_app

from flux.api import ApiError, BadRequest, db
from plugins.functions.invoke import runtime
from plugins.functions.models import SharedModule
from plugins.functions.runtime.base import RuntimeUnavailable
from plugins.functions.schemas import CODE_INVALID, SANDBOX_UNAVAILABLE
from plugins.functions.shared_modules import PREFIX
from plugins.functions.store import Build

# A module specifier in an import, export or dynamic import.
SPECIFIER = re.compile(r"""(?:\bfrom|\bimport)\s*\(?\s*["']([^"'\n]+)["']""")


def imports_shared(code: str) -> bool:
    return PREFIX in code


def reachable(code: str, sources: dict[str, str]) -> list[str]:
    """The shared modules the code's imports reach, directly or through other modules."""
    found: list[str] = []
    pending = [(None, code)]
    while pending:
        importer, source = pending.pop()
        for specifier in SPECIFIER.findall(source):
            if specifier.startswith(PREFIX):
                path = specifier
            elif importer is not None and specifier.startswith("."):
                path = posixpath.normpath(posixpath.join(posixpath.dirname(importer), specifier))
            else:
                continue
            if path in sources and path not in found:
                found.append(path)
                pending.append((path, sources[path]))
    return sorted(found)


def build(code: str) -> Build:
    """Check the code (400 `CODE_INVALID` with the compiler's message) and bundle it when it imports modules.

    Ends the session's transaction first (see above). A bundle that fails once the
    code checked (one over 5 MB) is not refused: the function is stored with the
    error, which its invocations answer.
    """
    if db.session().in_transaction():
        db.session.commit()
    modules = {}
    if imports_shared(code):
        modules = {module.module_path: module for module in db.session.scalars(sa.select(SharedModule))}
        db.session.commit()
    sources = {path: module.content for path, module in modules.items()}
    backend = runtime(current_app)
    if sources and not hasattr(backend, "bundle"):
        message = f"the functions runtime {backend.name!r} cannot import shared modules (_shared/…)"
        raise BadRequest(message, code=CODE_INVALID)
    try:
        problem = backend.check(code, sources) if sources else backend.check(code)  # older runtimes take code only
        if problem is not None:
            raise BadRequest(f"the code does not compile:\n{problem}", code=CODE_INVALID)
        if not sources:
            return Build()
        bundle = backend.bundle(code, sources)
    except RuntimeUnavailable as unavailable:
        raise ApiError(str(unavailable), code=SANDBOX_UNAVAILABLE, status=503) from None
    used = {path: modules[path].version for path in reachable(code, sources)}
    return Build(bundle=bundle.code, error=bundle.error, modules=used)
