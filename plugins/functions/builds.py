"""What a function's code becomes when it is saved: checked, and bundled with what it imports.

Runs before the request's write transaction (a check or a bundle takes a second or
two, and on SQLite a write transaction holds the database's lock). Code that imports
neither shared modules (`_shared/…`) nor packages (`npm:`, `jsr:`) is checked alone and
runs as written. Code that imports shared modules is checked and bundled with every
shared module of the tenant beside it (Deno keeps what is imported), and the function
records which modules, at which versions, it was built with: those reachable by its
imports, read off the sources. Packages are fetched and bundled first: a package that
cannot be had (not found, registry unreachable) leaves the function stored with the
error and unbundled, as seed 003 says, rather than refused. A directory function's
other files (`files`, imported as `./helpers.ts`) sit beside its code, so it is always
bundled.

Node's `child_process`, `vm`, `fs` and `process` are refused (400 `IMPORT_BLOCKED`), in
the code, a shared module, or anything a package pulls in (read off the bundle).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

import sqlalchemy as sa
from flask import current_app

from flux.api import ApiError, BadRequest, db
from plugins.functions import store
from plugins.functions.invoke import runtime
from plugins.functions.models import SharedModule
from plugins.functions.runtime.base import RuntimeUnavailable
from plugins.functions.runtime.bundler import uses_packages
from plugins.functions.schemas import CODE_INVALID, IMPORT_BLOCKED, SANDBOX_UNAVAILABLE
from plugins.functions.shared_modules import PREFIX
from plugins.functions.store import Build

# A module specifier in an import, export or dynamic import.
SPECIFIER = re.compile(r"""(?:\bfrom|\bimport)\s*\(?\s*["']([^"'\n]+)["']""")
BLOCKED_MODULES = ("child_process", "vm", "fs", "process")
# An import, dynamic import or require (esbuild's `__require` too) of a blocked Node module, `node:` or not,
# or of one of its subpaths.
COMMENTS = r"(?:/\*[\s\S]*?\*/\s*)*"  # `from /* … */ "node:fs"` is the same import
BLOCKED = re.compile(
    r"""(?:\bfrom|\bimport|require)\s*"""
    + COMMENTS
    + r"""\(?\s*"""
    + COMMENTS
    + r"""["'`]((?:node:)?(?:"""
    + "|".join(BLOCKED_MODULES)
    + r""")(?:/[^"'`]*)?)["'`]"""
)


def imports_shared(code: str, files: dict[str, str]) -> bool:
    return any(PREFIX in source for source in (code, *files.values()))


def needs_bundle(code: str, files: dict[str, str]) -> bool:
    """Whether the code imports anything to bundle (read again at every save: modules and packages change)."""
    return bool(files) or imports_shared(code, files) or uses_packages(code, files)


def refuse_blocked(source: str, who: str) -> None:
    """400 `IMPORT_BLOCKED` when `source` imports a blocked module; `who` ("the code imports") names the culprit."""
    found = BLOCKED.search(source)
    if found:
        blocked = ", ".join(BLOCKED_MODULES)
        message = f"{who} {found.group(1)!r}: functions may not use {blocked} (with or without node:)"
        raise BadRequest(message, code=IMPORT_BLOCKED)


def reachable(code: str, sources: dict[str, str]) -> list[str]:
    """The shared modules the code's imports reach, directly or through other modules."""
    found: list[str] = []
    pending = [(None, code)]
    while pending:
        importer, source = pending.pop()
        for specifier in SPECIFIER.findall(source):
            if specifier.startswith(PREFIX):
                path = specifier
            elif specifier.startswith("."):  # beside its importer (the code's own files, then a module's)
                path = posixpath.normpath(posixpath.join(posixpath.dirname(importer or ""), specifier))
            else:
                continue
            if path in sources and path not in found:
                found.append(path)
                pending.append((path, sources[path]))
    return sorted(found)


def for_save(code: str | None, files: dict[str, str] | None, stored: Any | None) -> Build | None:
    """The build of a save of `code` and `files` (None: as stored) over the `stored` function (None: a new one).

    None when nothing needs one: neither is given, or code already stored, which was
    checked when it was. Code that imports modules or packages, or has files, is bundled
    again even unchanged (the seed's "re-save"), as modules and packages may have changed.
    """
    if stored is None:
        return build(code or "", files)
    if code is None and files is None:
        return None
    code = stored.code if code is None else code
    files = stored.files if files is None else files
    if (code, files) == (stored.code, stored.files) and not needs_bundle(code, files):
        return None
    return build(code, files)


def of_version(name: str, namespace: str | None, version: int) -> Build:
    """A rollback's build: the old version's code bundled with today's modules (their old versions may be gone)."""
    old = store.version_of(store.get(name, namespace), version)
    return build(old.code, old.files) if needs_bundle(old.code, old.files) else Build()


def _bundled(backend: Any, code: str, sources: dict[str, str]) -> Any:
    """The runtime's bundle; a 400 for a file it may not inline, or a blocked module anything in it imports."""
    bundle = backend.bundle(code, sources)
    if getattr(bundle, "refused", None):
        raise BadRequest(bundle.refused, code=CODE_INVALID)
    if bundle.code is not None:
        refuse_blocked(bundle.code, "the bundle (a module or package the code imports) reaches")
    return bundle


def build(code: str, files: dict[str, str] | None = None) -> Build:
    """Check the code (400 `CODE_INVALID` with the compiler's message) and bundle what it imports.

    Ends the session's transaction first (see above). A bundle that fails once the
    code checked (one over 5 MB, a package not to be had) is not refused: the function
    is stored with the error, which its invocations answer.
    """
    if db.session().in_transaction():
        db.session.commit()
    files = files or {}
    for who, source in (("the code", code), *((f"the file {path}", source) for path, source in files.items())):
        refuse_blocked(source, f"{who} imports")
        remote = [specifier for specifier in SPECIFIER.findall(source) if specifier.startswith(("http:", "https:"))]
        if remote:
            message = f"{who} imports {remote[0]!r}: a remote specifier is never fetched; import npm: or jsr: packages"
            raise BadRequest(message, code=CODE_INVALID)
    modules = {}
    if imports_shared(code, files):
        modules = {module.module_path: module for module in db.session.scalars(sa.select(SharedModule))}
        db.session.commit()
    sources = {**files, **{path: module.content for path, module in modules.items()}}
    used = {path: modules[path].version for path in reachable(code, sources) if path in modules}
    for path in used:
        refuse_blocked(sources[path], f"the shared module {path} imports")
    backend = runtime(current_app)
    if needs_bundle(code, files) and not hasattr(backend, "bundle"):
        message = f"the functions runtime {backend.name!r} cannot import files, shared modules or packages"
        raise BadRequest(message, code=CODE_INVALID)
    try:
        bundle = None
        if uses_packages(code, sources):
            bundle = _bundled(backend, code, sources)  # fetches the packages the check then reads
            if bundle.error is not None:
                return Build(error=bundle.error, modules=used)
        problem = backend.check(code, sources) if sources or bundle else backend.check(code)  # older runtimes: code
        if problem is not None:
            raise BadRequest(f"the code does not compile:\n{problem}", code=CODE_INVALID)
        if bundle is None and sources:
            bundle = _bundled(backend, code, sources)
    except RuntimeUnavailable as unavailable:
        raise ApiError(str(unavailable), code=SANDBOX_UNAVAILABLE, status=503) from None
    if bundle is None:
        return Build()
    if bundle.code is not None:  # what is in the bundle, as the bundler names it (imports the regex misses too)
        used = {path: modules[path].version for path in getattr(bundle, "inlined", ()) if path in modules} or used
    return Build(bundle=bundle.code, error=bundle.error, modules=used)
