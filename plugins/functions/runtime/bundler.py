"""Bundling: a function's code and the shared modules it imports (`_shared/…`) as one module file.

Run at create and update, outside any database transaction, never per call: the
bundle is stored with the function, so an invocation reads no module but its own and
fetches nothing. `deno bundle` (esbuild) runs confined as the type check does
(`typecheck.Confinement`): it sees the build folder (the code, the shared modules,
their import map) and nothing else, so it cannot inline a file outside the function's
own code. Written by hand because no library drives Deno's bundler this way.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from plugins.functions.runtime.typecheck import (
    ANSI,
    CHECK_TIMEOUT_S,
    PRIVATE_CACHE,
    Confinement,
    build_folder,
    messages,
    write_once,
)

MAX_BUNDLE_BYTES = 5 * 1024 * 1024  # seed 003: "Bundle too large - Limit is 5MB after bundling"
FETCH_TIMEOUT_S = 300.0


# An `npm:` or `jsr:` module specifier.
PACKAGE = re.compile(r"""["'](?:npm|jsr):""")


def uses_packages(code: str, modules: Mapping[str, str]) -> bool:
    return any(PACKAGE.search(source) for source in (code, *modules.values()))


@dataclass(frozen=True)
class Bundle:
    """The bundled module (`code`) and the files in it, or why there is none (`error`), or what is refused."""

    code: str | None = None
    error: str | None = None
    refused: str | None = None  # the code imports a file it may not (a 400, not a stored error)
    inlined: list[str] = field(default_factory=list)


# esbuild names each file it inlines in a line comment, relative to the build folder:
# `// _shared/cors.ts`, `// .deno/npm/registry.npmjs.org/is-number/7.0.0/index.js`. (The
# code's own line comments do not survive bundling.)
INLINED = re.compile(r"^// (\S.*)$", re.MULTILINE)
OWN = ("_shared/", PRIVATE_CACHE + "/npm/", PRIVATE_CACHE + "/remote/")


def inlined(code: str) -> list[str]:
    return INLINED.findall(code)


def _own(path: str) -> bool:
    """A file of the function's own: its code, a shared module, a package (never one outside, nor Deno's cache).

    Its other files (a directory function's) are those it was bundled with.
    """
    return path in ("function.ts", "import_map.json") or path.startswith(OWN)


# Deno's words for a package it could not fetch, and ours.
UNFETCHED = (
    (
        re.compile(r"Could not find constraint '([^']+)' in the list of packages\."),
        r"npm package \1 could not be had: it does not exist, or the npm registry cannot be reached from the server.",
    ),
    (
        re.compile(r"Do not know how to load path: deno:(jsr:\S+)"),
        r"package \1 could not be had: it does not exist, or the jsr registry cannot be reached from the server.",
    ),
)


def _plainly(problem: str) -> str:
    for pattern, plain in UNFETCHED:
        problem = pattern.sub(plain, problem)
    return problem


class Bundler:
    def __init__(self, confinement: Confinement, work_dir: Path, builds: Path) -> None:
        self.confinement = confinement
        self.work_dir = work_dir
        self.builds = builds
        self._bundler_fetched = False
        self._fetching = threading.Lock()

    def fetch_bundler(self, tools: dict[str, str]) -> str | None:
        """Deno bundles with esbuild, which it fetches from the npm registry on first use; fetched here, once.

        Confined, with network, on a module of our own: esbuild lands in the shared `dl`
        cache, which every other run sees read-only. Why it failed, or None.
        """
        with self._fetching:
            if self._bundler_fetched:
                return None
            folder = self.builds / "fetch-bundler"
            folder.mkdir(mode=0o700, exist_ok=True)
            probe = write_once(folder / "probe.ts", "export const ready = true;\n")
            arguments = ["bundle", "--quiet", "--no-lock", "-o", str(folder / "out.js"), str(probe)]
            done = self.confinement.run(tools, folder, arguments, network=True, fetching=True)
            if done is None:
                return (
                    f"fetching Deno's bundler (esbuild) from the npm registry took longer than {CHECK_TIMEOUT_S:.0f} s"
                )
            if done.returncode != 0:
                reason = ANSI.sub("", done.stderr + done.stdout).strip().splitlines()
                return "Deno's bundler (esbuild) could not be fetched from the npm registry: " + " ".join(reason[:3])
            self._bundler_fetched = True
            return None

    def bundle(self, entry: str, modules: Mapping[str, str], tools: dict[str, str], packages: bool = False) -> Bundle:
        """`entry` (the code, exporting its handler) with `modules` inlined, as ES module JavaScript.

        With `packages`, its `npm:` and `jsr:` imports are fetched (the sandbox then has
        the network, and Deno's cache keeps what it fetched for the next build) and
        inlined too; any other remote import stays refused.
        """
        unavailable = self.fetch_bundler(tools)
        if unavailable is not None:
            return Bundle(error=unavailable)
        folder, module = build_folder(self.builds, entry, modules)
        output = folder / "bundle.js"
        arguments = ["bundle", "--quiet", "--no-check", "--no-remote", "--no-lock", "--platform=deno"]
        arguments += [] if packages else ["--no-npm"]
        arguments += ["--import-map=import_map.json", "-o", str(output), str(module)]
        done = self.confinement.run(tools, folder, arguments, network=packages)
        if done is None:
            return Bundle(error=f"bundling took longer than {CHECK_TIMEOUT_S:.0f} s")
        problem = messages(done, module, self.work_dir.parent, modules)
        if problem is not None:
            return Bundle(error=_plainly(problem))
        size = output.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            return Bundle(error=f"the bundle is {size} bytes; at most {MAX_BUNDLE_BYTES} (5 MB) are allowed")
        code = output.read_text()
        outside = [path for path in inlined(code) if not (_own(path) or path in modules)]
        if outside:
            allowed = "a function can import only its own code, shared modules and packages"
            return Bundle(refused=f"the code imports {outside[0]!r}: {allowed}")
        return Bundle(code=code, inlined=inlined(code))
