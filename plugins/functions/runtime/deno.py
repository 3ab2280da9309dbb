"""The Deno runtime: warm, sandboxed Deno processes that each run one version of one function.

Why warm processes: a fresh `deno run` costs ~20 ms of start-up per call, a warm one
~0.2 ms. A process serves one invocation at a time over pipes (protocol in
`worker.js`); a small pool per (function version, permissions, memory) keeps them,
idle ones are evicted (LRU, idle timeout) and each is recycled after N calls. A
function with `isolation: "per-invocation"` gets a fresh process per call instead.

The sandbox, from the outside in: the child's environment holds only what Deno itself
needs; the flags never grant run, ffi or sys, allow reading only the function's own
module (and a scratch folder when granted), and with `net` reach public IPv4 only
(`egress.py`); an OS data limit (`RLIMIT_DATA`, calibrated per process once V8
is up) caps memory that the V8 heap flag does not see, such as ArrayBuffers; a
timeout kills the process. Written by hand because no library drives Deno this way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import resource
import secrets
import select
import signal
import subprocess
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from flask import Flask

from plugins.functions.runtime import egress
from plugins.functions.runtime.base import ERROR, SUCCESS, TIMEOUT, FunctionSpec, Invocation, Outcome, Permissions

log = logging.getLogger("flux.functions")
HERE = Path(__file__).resolve().parent
WORKER_SCRIPT = HERE / "worker.js"
GLOBALS = HERE / "fluxbase-globals.d.ts"
# Appended to the function's code so the worker finds a handler that is declared but not exported.
ENTRY_SUFFIX = '\n;export const __fluxbase_entry = typeof handler === "function" ? handler : undefined;\n'
START_TIMEOUT_S = 20.0
CHECK_TIMEOUT_S = 60.0
MEMORY_HEADROOM_MB = 64  # code, JIT and Deno's own allocations on top of the function's memory
MAX_BODY_BYTES = 6 * 1024 * 1024
MAX_LOG_BYTES = 64 * 1024
MAX_FRAME_BYTES = MAX_BODY_BYTES * 2 + 4 * MAX_LOG_BYTES  # JSON escaping can double a body
MAX_STDERR_BYTES = 64 * 1024
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class WorkerFailed(Exception):
    """A worker process could not start, or died; the message is safe to show the caller."""

    def __init__(self, message: str, http_status: int = 500, stack: str | None = None):
        super().__init__(message)
        self.http_status = http_status
        self.stack = stack


class WorkerTimedOut(Exception):
    pass


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
        self.deno_dir = Path(config["FUNCTIONS_DENO_DIR"] or work_dir / "deno_dir")
        for folder in (self.modules, self.scratch, self.deno_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.check_config = work_dir / "check.json"
        compiler = {"compilerOptions": {"strict": False, "noImplicitAny": False, "types": [str(GLOBALS)]}}
        self.check_config.write_text(json.dumps(compiler))
        self.pool = WorkerPool(
            self,
            max_warm=config["FUNCTIONS_MAX_WARM_WORKERS"],
            per_function=config["FUNCTIONS_WORKERS_PER_FUNCTION"],
            idle_seconds=config["FUNCTIONS_WORKER_IDLE_SECONDS"],
            max_calls=config["FUNCTIONS_WORKER_MAX_CALLS"],
        )

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
        path = self.modules / f"{hashlib.sha256(source.encode()).hexdigest()}.ts"
        if not path.exists():
            partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            partial.write_text(source)
            partial.replace(path)
        return path

    def check(self, code: str) -> str | None:
        """Type-check the code with `deno check` (no network); the compiler's message, or None.

        The code is checked as written, so messages point at the author's own lines.
        """
        module = self._write(code)
        command = [
            self.binary,
            "check",
            "--quiet",
            "--no-remote",
            "--no-npm",  # npm imports come with bundling (part 2); until then they would fail at load
            "--no-lock",
            f"--config={self.check_config}",
            str(module),
        ]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                env=self.child_environment(),
                cwd=self.scratch,
                timeout=CHECK_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return f"type checking took longer than {CHECK_TIMEOUT_S:.0f} s"
        if done.returncode == 0:
            return None
        output = ANSI.sub("", done.stderr + done.stdout).replace(module.as_uri(), "function.ts")
        lines = [line for line in output.splitlines() if line.strip() and not line.startswith("error: Type checking")]
        return "\n".join(lines).strip() or "the code does not compile"

    def command(self, spec: FunctionSpec, module: Path) -> list[str]:
        """The `deno run` command line of a worker for `spec`: its permissions as Deno flags."""
        scratch = self.scratch / spec.function_id
        readable = [str(module)]
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
            flags.append(f"--allow-write={scratch}")
        if spec.permissions.net:
            flags += egress.net_flags()
        flags.append("--allow-read=" + ",".join(readable))
        return [*flags, str(WORKER_SCRIPT)]

    def invoke(self, spec: FunctionSpec, invocation: Invocation) -> Outcome:
        """Run one call in a pooled worker (or a fresh one for per-invocation isolation)."""
        fresh = spec.isolation == "per-invocation"
        try:
            worker = Worker(self, spec) if fresh else self.pool.acquire(spec)
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


class Worker:
    """One Deno process running one function version; not thread-safe (the pool hands it out)."""

    def __init__(self, runtime: DenoRuntime, spec: FunctionSpec) -> None:
        self.spec = spec
        self.memory_mb = spec.memory_mb
        self.nonce = secrets.token_hex(16)
        self.calls = 0
        self.last_used = time.monotonic()
        self.stray: list[dict[str, str]] = []
        self._stdout = bytearray()
        self._stderr = bytearray()
        module = runtime.module_for(spec.code)
        # Stacks name the function's file as "function.ts": server paths are none of its business.
        self._paths = ((module.as_uri(), "function.ts"), (WORKER_SCRIPT.as_uri(), "fluxbase:worker"))
        started = time.monotonic()
        self.process = subprocess.Popen(
            runtime.command(spec, module),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=runtime.child_environment(),
            cwd=runtime.scratch,
            start_new_session=True,  # its own process group, killed as one
            preexec_fn=egress.refuse_ipv6,
        )
        try:
            self._start(module, started + START_TIMEOUT_S)
        except WorkerTimedOut:
            self.kill()
            raise WorkerFailed(f"Function worker did not start within {START_TIMEOUT_S:.0f} s") from None
        except BaseException:
            self.kill()
            raise
        self.start_ms = (time.monotonic() - started) * 1000

    def _start(self, module: Path, deadline: float) -> None:
        if self._read_line(deadline, framed=False) != b"started":
            raise self._died("Function worker did not start")
        self._limit_memory()
        self._send(
            {
                "nonce": self.nonce,
                "module": module.as_uri(),
                "permissions": self.spec.permissions.as_json(),
                "limits": {"logBytes": MAX_LOG_BYTES, "bodyBytes": MAX_BODY_BYTES},
            }
        )
        ready = self._read_frame(deadline)
        if ready.get("error"):
            raise WorkerFailed("Function failed to load", stack=self._clean(str(ready["error"]))[:MAX_LOG_BYTES])

    def _limit_memory(self) -> None:
        """Cap the process's data segment at what V8 holds now plus the function's memory.

        Measured once V8 is up: its address-space reservations already count as data,
        and differ between machines, so a fixed number would be wrong somewhere.
        """
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        data_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmData:"))
        limit = data_kb * 1024 + (self.memory_mb + MEMORY_HEADROOM_MB) * 1024 * 1024
        resource.prlimit(self.process.pid, resource.RLIMIT_DATA, (limit, limit))

    def call(self, invocation: Invocation, timeout_seconds: float) -> Outcome:
        self.calls += 1
        self.stray = []
        deadline = time.monotonic() + timeout_seconds
        self._send({"request": invocation.request})
        answer = self._read_frame(deadline)
        while answer.get("type") == "disclose":  # its first read of Deno.env or a secret; the worker keeps the answer
            disclosure = invocation.disclose()
            self._send({"env": disclosure.env, "secrets": disclosure.secrets})
            answer = self._read_frame(deadline)
        self.last_used = time.monotonic()
        logs = [{**entry, "message": self._clean(entry.get("message", ""))} for entry in answer.get("logs", [])]
        logs += self.stray
        truncated = bool(answer.get("truncated"))
        if answer.get("ok"):
            return Outcome(SUCCESS, 200, response=answer["response"], logs=logs, logs_truncated=truncated)
        if answer.get("kind") == "too_large":
            size = answer.get("size", 0)
            message = f"Function response is {size} bytes; the limit is {MAX_BODY_BYTES} bytes (6 MB)"
            return Outcome(ERROR, 502, error=message, logs=logs, logs_truncated=truncated)
        return Outcome(
            ERROR,
            500,
            error=self._clean(str(answer.get("message", ""))),
            stack=self._clean(str(answer.get("stack", ""))),
            logs=logs,
            logs_truncated=truncated,
            thrown=True,
        )

    def _clean(self, text: str) -> str:
        """Name the function's file `function.ts` and drop the worker's own stack frames."""
        for path, name in self._paths:
            text = text.replace(path, name)
        return "\n".join(line for line in text.split("\n") if "fluxbase:worker" not in line)

    def _send(self, message: dict[str, Any]) -> None:
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died("Function worker exited unexpectedly") from None

    def _read_frame(self, deadline: float) -> dict[str, Any]:
        """The next answer the worker sent; other output on stdout becomes console output."""
        prefix = self.nonce.encode() + b" "
        while True:
            line = self._read_line(deadline, framed=True)
            if line.startswith(prefix):
                return json.loads(line[len(prefix) :])
            if line.strip() and sum(len(entry["message"]) for entry in self.stray) < MAX_LOG_BYTES:
                text = line.decode(errors="replace")[:MAX_LOG_BYTES]
                self.stray.append({"timestamp": "", "level": "info", "message": text})

    def _read_line(self, deadline: float, framed: bool) -> bytes:
        """One line of stdout, waiting at most until `deadline`; stderr is drained meanwhile."""
        stdout, stderr = self.process.stdout, self.process.stderr
        assert stdout is not None and stderr is not None
        while True:
            newline = self._stdout.find(b"\n")
            if newline >= 0:
                line = bytes(self._stdout[:newline])
                del self._stdout[: newline + 1]
                return line
            if len(self._stdout) > MAX_FRAME_BYTES:
                raise WorkerFailed(f"Function wrote more than {MAX_FRAME_BYTES} bytes in one answer", 502)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimedOut()
            readable, _, _ = select.select([stdout, stderr], [], [], remaining)
            for stream in readable:
                chunk = os.read(stream.fileno(), 1 << 16)
                if stream is stderr:
                    self._stderr = (self._stderr + chunk)[-MAX_STDERR_BYTES:]
                elif chunk:
                    self._stdout += chunk
                else:
                    raise self._died("Function worker exited unexpectedly")

    def _died(self, message: str) -> WorkerFailed:
        """Why the process ended: a memory overrun says so; anything else says it exited."""
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None and self.process.stderr is not None:
            self._stderr = (self._stderr + self.process.stderr.read())[-MAX_STDERR_BYTES:]  # what it said last
        text = self._stderr.decode(errors="replace")
        if "out of memory" in text.lower() or "memory allocation of" in text:
            return WorkerFailed(f"Function exceeded its memory limit of {self.memory_mb} MB and was stopped")
        return WorkerFailed(f"{message} (exit status {code})", stack=text[-4096:] or None)

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        self.process.wait()


PoolKey = tuple[str, int, Permissions, int]


class WorkerPool:
    """Warm workers by (function, version, permissions, memory): LRU-bounded, idle-evicted, recycled."""

    def __init__(
        self, runtime: DenoRuntime, *, max_warm: int, per_function: int, idle_seconds: float, max_calls: int
    ) -> None:
        self.runtime = runtime
        self.max_warm = max_warm
        self.per_function = per_function
        self.idle_seconds = idle_seconds
        self.max_calls = max_calls
        self._idle: OrderedDict[PoolKey, list[Worker]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(spec: FunctionSpec) -> PoolKey:
        # A version's code never changes, so the version stands for it: hashing the code
        # (up to 1 MB, a new string each call) would cost more than the call itself.
        return (spec.function_id, spec.version, spec.permissions, spec.memory_mb)

    def acquire(self, spec: FunctionSpec) -> Worker:
        key, stale = self.key(spec), []
        with self._lock:
            stale += self._evict_idle()
            # Another version of this function will not run again here: free its workers.
            for other in [k for k in self._idle if k[0] == spec.function_id and k != key]:
                stale += self._idle.pop(other)
            workers = self._idle.get(key)
            worker = workers.pop() if workers else None
        for old in stale:
            old.kill()
        return worker or Worker(self.runtime, spec)

    def release(self, spec: FunctionSpec, worker: Worker) -> None:
        if worker.calls >= self.max_calls:
            worker.kill()
            return
        key, evicted = self.key(spec), []
        with self._lock:
            workers = self._idle.setdefault(key, [])
            workers.append(worker)
            self._idle.move_to_end(key)
            if len(workers) > self.per_function:
                evicted.append(workers.pop(0))
            while sum(len(group) for group in self._idle.values()) > self.max_warm:
                oldest_key = next(iter(self._idle))
                group = self._idle[oldest_key]
                evicted.append(group.pop(0))
                if not group:
                    del self._idle[oldest_key]
        for old in evicted:
            old.kill()

    def _evict_idle(self) -> list[Worker]:
        """Take out workers idle for longer than the idle timeout (caller holds the lock)."""
        cutoff, evicted = time.monotonic() - self.idle_seconds, []
        for key in list(self._idle):
            group = self._idle[key]
            evicted += [worker for worker in group if worker.last_used < cutoff]
            group[:] = [worker for worker in group if worker.last_used >= cutoff]
            if not group:
                del self._idle[key]
        return evicted

    def warm_count(self) -> int:
        with self._lock:
            return sum(len(group) for group in self._idle.values())

    def close(self) -> None:
        with self._lock:
            workers = [worker for group in self._idle.values() for worker in group]
            self._idle.clear()
        for worker in workers:
            worker.kill()

    def pids(self) -> list[int]:
        """Process ids of the idle warm workers, so a benchmark or monitor can read their memory."""
        with self._lock:
            return [worker.process.pid for group in self._idle.values() for worker in group]
