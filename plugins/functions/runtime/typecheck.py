"""The type check of a function's code: `deno check`, confined.

Run at create and update, never per call. Deno's own permissions do not apply to its
tools: `deno check` reads whatever the code imports, as the server's user, and quotes
it in its errors. So the check runs in a bubblewrap sandbox that sees only Deno, the
libraries it loads, the code in a folder of its own, the compiler options and a cache of
its own (no /etc, /proc, /dev, network), under a data, CPU-time and wall-clock limit
(`prlimit`). Written by hand because no library runs Deno's checker this way.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from urllib.parse import unquote

from plugins.functions.runtime.base import RuntimeUnavailable

HERE = Path(__file__).resolve().parent
GLOBALS = HERE / "fluxbase-globals.d.ts"
CHECK_TIMEOUT_S = 60.0
CHECK_MEMORY_MB = 2048  # data limit of `deno check`: V8 reserves ~700 MB before checking anything
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOCAL_URL = re.compile(r"file://[^\s'\"`]+")
POSITION = re.compile(r"(:\d+)+$")  # the ":line:column" after a URL in a diagnostic
SANDBOX_FAILED = re.compile(r"(bwrap|prlimit): ")  # a tool's own error: Deno's output never starts so
SANDBOX_TOOLS = {"bwrap": "bubblewrap", "prlimit": "util-linux", "setpriv": "util-linux"}


def sandbox_tools() -> dict[str, str]:
    """Paths of bwrap and prlimit (confine the type check) and setpriv (ties workers to the server).

    Without them the runtime refuses to check code at all: it never runs unconfined.
    """
    found = {name: shutil.which(name) for name in SANDBOX_TOOLS}
    missing = [f"{name} (Debian package {SANDBOX_TOOLS[name]})" for name, path in found.items() if path is None]
    if missing:
        raise RuntimeUnavailable(
            "Functions cannot be checked safely on this server: install " + " and ".join(missing) + ", then retry"
        )
    return {name: str(path) for name, path in found.items()}


def shared_libraries(binary: str) -> list[str]:
    """The files the dynamic loader maps for `binary` (as `ldd` lists them): all the check sandbox gets of /usr."""
    try:
        listed = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuntimeUnavailable(f"Functions cannot be checked: ldd failed ({error})") from None
    if listed.returncode != 0:
        if "not a dynamic executable" in listed.stdout + listed.stderr:
            return []
        raise RuntimeUnavailable(f"Functions cannot be checked: ldd {binary} failed: {listed.stderr.strip()}")
    return re.findall(r"(?:=> |^\s*)(/\S+)", listed.stdout, re.MULTILINE)


def write_once(path: Path, text: str) -> Path:
    """`path` holding `text`, written atomically unless it exists (paths are content-addressed)."""
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        partial.write_text(text)
        partial.replace(path)
    return path


def outside_imports(output: str, module: Path, private: Path, own: Collection[str] = ()) -> list[str]:
    """What the code imports besides itself, its `own` files and shared modules, by the URLs in Deno's output.

    Paths in the server's own folder (`private`) are named relative to the code, as an
    import would reach them: the server's layout is none of the author's business.
    """
    names = []
    for url in LOCAL_URL.findall(output):
        url = POSITION.sub("", url.rstrip(".,;)"))
        path = unquote(url.removeprefix("file://"))
        if path == str(module) or Path(path).is_relative_to(module.parent / "_shared"):  # its own code and modules
            continue
        if Path(path).is_relative_to(module.parent) and Path(path).relative_to(module.parent).as_posix() in own:
            continue
        if Path(path).is_relative_to(private):
            path = os.path.relpath(path, module.parent)
            path = path if path.startswith("../") else f"./{path}"
        if path not in names:
            names.append(path)
    return names


# What fetching npm and jsr packages needs of the host: its resolver, its CAs; and of the environment.
NETWORK_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl/certs", "/usr/share/ca-certificates")
NETWORK_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "DENO_CERT",
    "DENO_TLS_CA_STORE",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "NPM_CONFIG_REGISTRY",
)


def network_environment() -> dict[str, str]:
    """The host's CA store besides Deno's own (a company proxy's CA), and the operator's proxy and registry."""
    return {
        "DENO_TLS_CA_STORE": "mozilla,system",
        **{name: os.environ[name] for name in NETWORK_VARIABLES if name in os.environ},
    }


PRIVATE_CACHE = ".deno"  # in the build folder
BUNDLER_CACHE = "dl"  # where Deno keeps esbuild
SHARED_CACHES = ("npm", "remote", BUNDLER_CACHE)
IMPORT_MAP = {"imports": {"_shared/": "./_shared/"}}  # `_shared/cors.ts` is the build folder's module


def build_folder(root: Path, code: str, modules: Mapping[str, str]) -> tuple[Path, Path]:
    """A folder per distinct code and modules, holding `function.ts`, its files, `_shared/…` and their import map.

    Per content, so the same build checks and bundles once (Deno's cache is by path).
    Returns the folder and the function's file.
    """
    digest = hashlib.sha256(code.encode())
    for path in sorted(modules):
        digest.update(b"\0" + path.encode() + b"\0" + modules[path].encode())
    folder = root / digest.hexdigest()
    folder.mkdir(mode=0o700, exist_ok=True)
    for path, content in modules.items():
        target = folder / path
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_once(target, content)
    write_once(folder / "import_map.json", json.dumps(IMPORT_MAP))
    return folder, write_once(folder / "function.ts", code)


class Confinement:
    """How a Deno tool runs on users' code: bubblewrap sees Deno, its libraries and the build folder.

    No /etc, /proc, /dev or network; a data, CPU-time and wall-clock limit (prlimit).
    Deno's cache is the build folder's own (`.deno`): what Deno writes there (the
    transpiled code, the module graph) names and holds that build's code only, so no
    build can import another's, a tenant's neighbour's above all. Only the package
    caches are shared (`SHARED_CACHES`, public code from the registries), so a package
    is fetched once; Deno's bundler (in `dl`) is read-only but while it is fetched.
    """

    def __init__(self, binary: str, cache: Path, readable: list[str]) -> None:
        self.binary = binary
        self.cache = cache
        self.readable = readable
        self._libraries: list[str] | None = None

    def command(
        self,
        tools: dict[str, str],
        folder: Path,
        deno_arguments: list[str],
        network: bool = False,
        fetching: bool = False,
    ) -> list[str]:
        """With `network`, the host's network too, and what reaching a registry needs of /etc (npm imports)."""
        if self._libraries is None:
            self._libraries = shared_libraries(self.binary)
        readable = [*self._libraries, self.binary, *self.readable]
        reach, reach_environment = [], []
        if network:
            reach = ["--share-net", *(arg for path in NETWORK_FILES for arg in ("--ro-bind-try", path, path))]
            reach_environment = [
                arg for name, value in network_environment().items() for arg in ("--setenv", name, value)
            ]
        private = folder / PRIVATE_CACHE
        shared = []
        for name in SHARED_CACHES:
            for place in (self.cache / name, private / name):
                place.mkdir(mode=0o700, parents=True, exist_ok=True)
            mode = "--ro-bind" if name == BUNDLER_CACHE and not fetching else "--bind"
            shared += [mode, str(self.cache / name), str(private / name)]
        limits = [f"--data={CHECK_MEMORY_MB * 1024 * 1024}", f"--cpu={CHECK_TIMEOUT_S:.0f}", "--core=0"]
        return [
            tools["prlimit"],
            *limits,
            "--",
            tools["bwrap"],
            *(arg for path in readable for arg in ("--ro-bind", path, path)),
            *("--bind", str(folder), str(folder)),
            *shared,
            *("--chdir", str(folder)),
            "--unshare-all",
            *reach,
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            *reach_environment,
            *("--setenv", "DENO_DIR", str(private)),
            *("--setenv", "DENO_NO_UPDATE_CHECK", "1"),
            *("--setenv", "NO_COLOR", "1"),
            *("--setenv", "HOME", str(folder)),
            "--",
            self.binary,
            *deno_arguments,
        ]

    def run(
        self, tools: dict[str, str], folder: Path, deno_arguments: list[str], **access: bool
    ) -> subprocess.CompletedProcess | None:
        """The tool's run (`access` as `command` takes it), or None when it took longer than the limit.

        `RuntimeUnavailable` when the sandbox itself failed to start.
        """
        command = self.command(tools, folder, deno_arguments, **access)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None
        output = ANSI.sub("", done.stderr + done.stdout)
        if done.returncode != 0 and SANDBOX_FAILED.match(output):  # the sandbox itself did not start
            raise RuntimeUnavailable(f"The code sandbox could not start: {output.splitlines()[0]}")
        return done


def messages(done: subprocess.CompletedProcess, module: Path, private: Path, own: Collection[str] = ()) -> str | None:
    """What went wrong in a confined run, in the author's terms (`own`: the code's files), or None when it went well."""
    if done.returncode == 0:
        return None
    output = ANSI.sub("", done.stderr + done.stdout)
    outside = outside_imports(output, module, private, own)
    if outside:
        names = ", ".join(f'"{name}"' for name in outside)
        return f"the code imports {names}: a function can import only its own code and shared modules, not local files"
    if "out of memory" in output.lower():
        return f"it ran out of memory (limit {CHECK_MEMORY_MB} MB)"
    output = output.replace(module.parent.as_uri() + "/", "")  # function.ts, _shared/cors.ts
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("error: Type checking")]
    return "\n".join(lines).strip() or "the code does not compile"


class TypeChecker:
    """Checks code in `checks/<digest of the code and its modules>/` with the compiler options in `config`."""

    def __init__(self, confinement: Confinement, work_dir: Path, checks: Path, config: Path) -> None:
        self.confinement = confinement
        self.work_dir = work_dir
        self.checks = checks
        self.config = config

    def check(
        self, code: str, tools: dict[str, str], modules: Mapping[str, str] | None = None, packages: bool = False
    ) -> str | None:
        """Type-check the code with `deno check`, confined; the compiler's message, or None.

        The check sees the code and the shared modules it may import (`modules`, by
        `_shared/…` path), Deno, its libraries, the compiler options and its cache,
        nothing else. An import of anything else fails as not found, and the message
        names the import, never what a file holds. The code is checked as written, so
        messages point at the author's own lines. With `packages`, `npm:` and `jsr:` imports
        are resolved (from Deno's cache, filled by the bundle, or the registry).
        """
        folder, module = build_folder(self.checks, code, modules or {})
        arguments = ["check", "--quiet", "--no-remote", "--no-lock", f"--config={self.config}"]
        arguments += [] if packages else ["--no-npm"]
        arguments += ["--import-map=import_map.json", str(module)]
        done = self.confinement.run(tools, folder, arguments, network=packages)
        if done is None:
            return f"type checking took longer than {CHECK_TIMEOUT_S:.0f} s"
        problem = messages(done, module, self.work_dir.parent, modules or {})
        return problem and problem.replace("it ran out of memory", "type checking ran out of memory")
