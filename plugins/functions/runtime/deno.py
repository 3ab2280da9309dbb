"""The Deno runtime: warm, sandboxed Deno processes that each run one version of one function.

Why warm processes: a fresh `deno run` costs ~20 ms of start-up per call, a warm one
~0.2 ms; the processes and their pool are in `worker.py`. A function with
`isolation: "per-invocation"` gets a fresh process per call instead.

The sandbox, from the outside in: the child's environment holds only what Deno itself
needs; the flags never grant run, ffi or sys, allow reading only the function's own
module (and a scratch folder when granted), and with `net` reach public IPv4 only
(`egress.py`); memory, time and CPU limits come from outside (`worker.py`); a worker
dies with the server thread that started it (`setpriv --pdeathsig`). The protocol
runs on two FIFOs that the function cannot reach (`worker.js`). The type check runs
confined (`typecheck.py`). Written by hand because no library drives Deno this way.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Flask

from plugins.functions.runtime import egress
from plugins.functions.runtime.base import ERROR, TIMEOUT, FunctionSpec, Invocation, Outcome, RuntimeUnavailable
from plugins.functions.runtime.typecheck import GLOBALS, TypeChecker, sandbox_tools, write_once
from plugins.functions.runtime.worker import WORKER_SCRIPT, Worker, WorkerFailed, WorkerPool, WorkerTimedOut

# Appended to the function's code so the worker finds a handler that is declared but not exported.
ENTRY_SUFFIX = '\n;export const __fluxbase_entry = typeof handler === "function" ? handler : undefined;\n'


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
        for folder in (self.modules, self.scratch, self.pipes, checks, self.deno_dir, check_cache):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        check_config = work_dir / "check.json"
        compiler = {"compilerOptions": {"strict": False, "noImplicitAny": False, "types": [str(GLOBALS)]}}
        check_config.write_text(json.dumps(compiler))
        self.checker = TypeChecker(self.binary, work_dir, checks, check_cache, check_config)
        self._tools: dict[str, str] | None = None
        # Workers are started from this one long-lived thread: their parent-death signal
        # fires when the thread that started them ends, and request threads come and go.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deno-spawner")
        self.pool = WorkerPool(
            self,
            max_warm=config["FUNCTIONS_MAX_WARM_WORKERS"],
            per_function=config["FUNCTIONS_WORKERS_PER_FUNCTION"],
            idle_seconds=config["FUNCTIONS_WORKER_IDLE_SECONDS"],
            max_calls=config["FUNCTIONS_WORKER_MAX_CALLS"],
        )

    @property
    def tools(self) -> dict[str, str]:
        """The sandbox tools, looked up on first use (and again while any is missing)."""
        if self._tools is None:
            self._tools = sandbox_tools()
        return self._tools

    def child_environment(self) -> dict[str, str]:
        """All a Deno child gets: none of the server's variables, so none of its secrets."""
        return {
            "DENO_DIR": str(self.deno_dir),
            "DENO_NO_UPDATE_CHECK": "1",
            "DENO_TLS_CA_STORE": "system",
            "NO_COLOR": "1",
            "HOME": str(self.scratch),
        }

    def module_for(self, code: str) -> Path:
        """The function's code as a module file that also exports its handler."""
        return self._write(code + ENTRY_SUFFIX)

    def _write(self, source: str) -> Path:
        """A module file holding `source`, written once per distinct source (content-addressed)."""
        return write_once(self.modules / f"{hashlib.sha256(source.encode()).hexdigest()}.ts", source)

    def check(self, code: str) -> str | None:
        """Type-check the code confined (`typecheck.py`); the compiler's message, or None."""
        return self.checker.check(code, self.tools)

    def spawn(self, command: list[str], **options: Any) -> subprocess.Popen:
        """Start a worker process from the spawner thread, dying with it (parent-death signal)."""
        try:
            command = [self.tools["setpriv"], "--pdeathsig", "KILL", "--", *command]
        except RuntimeUnavailable as unavailable:
            raise WorkerFailed(str(unavailable), 503) from None
        return self._spawner.submit(subprocess.Popen, command, **options).result()

    def command(self, spec: FunctionSpec, module: Path, channel: tuple[Path, Path] | None = None) -> list[str]:
        """The `deno run` command line of a worker for `spec`: its permissions as Deno flags.

        `channel` is the worker's (input, output) FIFO pair, readable and writable only
        until the worker has opened them (it revokes both before the function loads).
        """
        scratch = self.scratch / spec.function_id
        readable, writable = [str(module)], []
        flags = [
            self.binary,
            "run",
            "--no-prompt",
            "--no-remote",
            "--no-npm",
            "--no-config",
            "--no-lock",
            "--cached-only",
            f"--v8-flags=--max-old-space-size={spec.memory_mb}",
        ]
        if spec.permissions.read or spec.permissions.write:
            scratch.mkdir(exist_ok=True, mode=0o700)
        if spec.permissions.read:
            readable.append(str(scratch))
        if spec.permissions.write:
            writable.append(str(scratch))
        if channel is not None:
            readable.append(str(channel[0]))
            writable.append(str(channel[1]))
        if writable:
            flags.append("--allow-write=" + ",".join(writable))
        if spec.permissions.net:
            flags += egress.net_flags()
        flags.append("--allow-read=" + ",".join(readable))
        return [*flags, str(WORKER_SCRIPT), *(str(path) for path in channel or ())]

    def invoke(self, spec: FunctionSpec, invocation: Invocation) -> Outcome:
        """Run one call in a pooled worker (or a fresh one for per-invocation isolation)."""
        fresh = spec.isolation == "per-invocation"
        try:
            worker = Worker(self, spec, calls=1) if fresh else self.pool.acquire(spec)
        except WorkerFailed as failure:
            return Outcome(ERROR, failure.http_status, error=str(failure), stack=failure.stack)
        healthy = False
        try:
            outcome = worker.call(invocation, spec.timeout_seconds)
            healthy = True
            return outcome
        except WorkerTimedOut:
            return Outcome(TIMEOUT, 504, error=f"Function timed out after {spec.timeout_seconds} s", logs=worker.stray)
        except WorkerFailed as failure:
            return Outcome(ERROR, failure.http_status, error=str(failure), stack=failure.stack, logs=worker.stray)
        finally:
            if fresh or not healthy:
                worker.kill()
            else:
                self.pool.release(spec, worker)

    def close(self) -> None:
        self.pool.close()
        self._spawner.shutdown(wait=False)
