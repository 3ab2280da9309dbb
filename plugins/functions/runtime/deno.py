"""The Deno runtime: warm, sandboxed Deno processes, one pool per node behind a supervisor.

Why warm processes: a fresh `deno run` costs ~20 ms of start-up per call, a warm one
~0.2 ms; a warm process serves several calls of its function version at once. The
processes and their pool live in the node's supervisor (`supervisor.py`,
`process.py`), which every server process and thread reaches over a Unix socket
(`client.py`). A function with `isolation: "per-invocation"` gets a fresh process per call.

The sandbox, from the outside in: the child's environment holds only what Deno itself
needs; the flags never grant run, ffi or sys, allow reading only the function's own
module (and a scratch folder when granted), and with `net` reach public IPv4 only
(`egress.py`); memory, time and CPU limits come from outside (`process.py`); a worker
dies with the supervisor (`setpriv --pdeathsig`), which stops once no server is
connected. The protocol runs on FIFOs that the function cannot reach (`worker.js`).
The type check runs confined (`typecheck.py`). Written by hand because no library
drives Deno this way.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flask import Flask

from plugins.functions.runtime.base import ERROR, FunctionSpec, Invocation, Outcome, RuntimeUnavailable
from plugins.functions.runtime.bundler import Bundle, Bundler, uses_packages
from plugins.functions.runtime.client import SupervisorClient
from plugins.functions.runtime.process import Sandbox, Target
from plugins.functions.runtime.supervisor import PoolLimits, Settings
from plugins.functions.runtime.typecheck import GLOBALS, Confinement, TypeChecker, sandbox_tools, write_once

RUNTIME_FOLDER = Path(__file__).resolve().parent
# Appended to the function's code so the worker finds a handler that is declared but not exported.
ENTRY_SUFFIX = '\n;export const __fluxbase_entry = typeof handler === "function" ? handler : undefined;\n'


def runtime_code() -> str:
    """A digest of the supervisor's own code: a server upgraded meanwhile starts a supervisor of its own.

    A supervisor lives as long as any server is connected, so across a rolling restart it
    would run on with the old code, and start workers from the new `worker.js`.
    """
    digest = hashlib.sha256()
    for path in sorted(RUNTIME_FOLDER.iterdir()):
        if path.suffix in (".py", ".js"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def deno_binary() -> str:
    """The Deno executable of the `deno` package from PyPI, installed with the project."""
    import deno

    return deno.find_deno_bin()


class DenoRuntime:
    """Runs functions in Deno; one instance per server process, created on first use."""

    name = "deno"

    def __init__(self, app: Flask) -> None:
        config = app.config
        work_dir = Path(app.instance_path) / "functions"
        self.binary = deno_binary()
        self.work_dir = work_dir
        self.modules = work_dir / "modules"
        self.scratch = work_dir / "scratch"
        self.pipes = work_dir / "pipes"
        checks = work_dir / "checks"
        self.deno_dir = Path(config["FUNCTIONS_DENO_DIR"] or work_dir / "deno_dir")
        # The check's own cache: the workers' cache holds every function's transpiled code.
        check_cache = self.deno_dir / "typecheck"
        for folder in (self.modules, self.scratch, self.pipes, checks, work_dir / "builds", self.deno_dir, check_cache):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        check_config = work_dir / "check.json"
        compiler = {"compilerOptions": {"strict": False, "noImplicitAny": False, "types": [str(GLOBALS)]}}
        check_config.write_text(json.dumps(compiler))
        confinement = Confinement(self.binary, check_cache, [str(check_config), str(GLOBALS)])
        self.checker = TypeChecker(confinement, work_dir, checks, check_config)
        self.bundler = Bundler(confinement, work_dir, work_dir / "builds")
        self._tools: dict[str, str] | None = None
        self.limits = PoolLimits(
            max_warm=config["FUNCTIONS_MAX_WARM_WORKERS"],
            per_function=config["FUNCTIONS_WORKERS_PER_FUNCTION"],
            concurrency=config["FUNCTIONS_WORKER_CONCURRENCY"],
            idle_seconds=config["FUNCTIONS_WORKER_IDLE_SECONDS"],
            max_calls=config["FUNCTIONS_WORKER_MAX_CALLS"],
        )
        self._client: SupervisorClient | None = None
        self._client_lock = threading.Lock()

    @property
    def tools(self) -> dict[str, str]:
        """The sandbox tools, looked up on first use (and again while any is missing)."""
        if self._tools is None:
            self._tools = sandbox_tools()
        return self._tools

    @property
    def client(self) -> SupervisorClient:
        """The supervisor's client, built once the sandbox tools are known to be there."""
        with self._client_lock:  # once: a client another thread built meanwhile would leak its connections
            if self._client is None:
                self._client = self._new_client()
        return self._client

    def _new_client(self) -> SupervisorClient:
        sandbox = Sandbox(
            binary=self.binary,
            setpriv=self.tools["setpriv"],
            deno_dir=str(self.deno_dir),
            scratch=str(self.scratch),
            pipes=str(self.pipes),
        )
        # Named by what it runs with and its code: servers given other settings or code (a
        # deploy with a new configuration or release, say) start a supervisor of their own;
        # the old one stops when its last server has gone.
        named = json.dumps([asdict(sandbox), asdict(self.limits), runtime_code()])
        digest = hashlib.sha256(named.encode()).hexdigest()[:12]
        settings = Settings(
            socket=str(self.work_dir / f"supervisor-{digest}.sock"),
            lock=str(self.work_dir / f"supervisor-{digest}.lock"),
            sandbox=sandbox,
            limits=self.limits,
        )
        return SupervisorClient(settings, self.work_dir / f"supervisor-{digest}.json")

    def module_for(self, code: str) -> Path:
        """The function's code as a module file that also exports its handler."""
        return self._write(code + ENTRY_SUFFIX, ".ts")

    def runnable(self, spec: FunctionSpec) -> Path:
        """What runs: the function's bundle (which exports its handler), else its code.

        Modules are named by their content's digest, so a bundle is read only the first
        time this node runs it.
        """
        if spec.bundle_digest is not None:
            written = self.modules / f"{spec.bundle_digest}.js"
            return written if written.exists() else self._write(spec.bundle or "", ".js")
        return self.module_for(spec.code)

    def _write(self, source: str, suffix: str) -> Path:
        """A module file holding `source`, written once per distinct source (content-addressed)."""
        return write_once(self.modules / f"{hashlib.sha256(source.encode()).hexdigest()}{suffix}", source)

    def check(self, code: str, modules: Mapping[str, str] | None = None) -> str | None:
        """Type-check the code confined (`typecheck.py`), with the shared modules it imports; the message, or None."""
        return self.checker.check(code, self.tools, modules, uses_packages(code, modules or {}))

    def fetch_bundler(self) -> str | None:
        """Fetch Deno's bundler now (`bundler.py`); why it could not be, or None."""
        return self.bundler.fetch_bundler(self.tools)

    def bundle(self, code: str, modules: Mapping[str, str]) -> Bundle:
        """The code, the shared modules and the npm and jsr packages it imports, as one module (`bundler.py`)."""
        return self.bundler.bundle(code + ENTRY_SUFFIX, modules, self.tools, uses_packages(code, modules))

    def invoke(self, spec: FunctionSpec, invocation: Invocation) -> Outcome:
        """Run one call in the node's warm pool (or a fresh process for per-invocation isolation)."""
        try:
            client = self.client
        except RuntimeUnavailable as unavailable:
            return Outcome(ERROR, 503, error=str(unavailable))
        return client.call(Target.of(spec), invocation, lambda: self.runnable(spec))

    def status(self) -> dict[str, Any]:
        """The node's Deno processes, as the supervisor reports them."""
        return self.client.status()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
