"""Warm Deno worker processes and their pool: one process runs one version of one function.

A process serves one invocation at a time over two FIFOs (protocol in `worker.js`); a
small pool per (function version, permissions, memory) keeps them, idle ones are
evicted (LRU, idle timeout) and each is recycled after N calls. Limits are set from
outside: an OS data limit (`RLIMIT_DATA`, calibrated per process once V8 is up) caps
memory that the V8 heap flag does not see, such as ArrayBuffers; a timeout kills the
process, and a CPU-time limit set before each call (`RLIMIT_CPU`) stops it by itself
should anything outlive the call. Written by hand because no library drives Deno this way.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugins.functions.runtime import egress
from plugins.functions.runtime.base import ERROR, SUCCESS, FunctionSpec, Invocation, Outcome, Permissions

if TYPE_CHECKING:
    from plugins.functions.runtime.deno import DenoRuntime

WORKER_SCRIPT = Path(__file__).resolve().parent / "worker.js"
START_TIMEOUT_S = 20.0
CPU_MARGIN_S = 1  # CPU seconds a call may use beyond its timeout before its process stops itself
MEMORY_HEADROOM_MB = 64  # code, JIT and Deno's own allocations on top of the function's memory
MAX_BODY_BYTES = 6 * 1024 * 1024
MAX_LOG_BYTES = 64 * 1024
MAX_FRAME_BYTES = MAX_BODY_BYTES * 2 + 4 * MAX_LOG_BYTES  # JSON escaping can double a body
MAX_STDERR_BYTES = 64 * 1024
LOG_LEVELS = {"debug", "info", "warn", "error"}  # those worker.js gives console's methods
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
ASKS = ("secret", "env", "env_all", "flags")  # what a worker may ask in a call, before its result
TIMESTAMP = re.compile(r"[0-9:.TZ+-]{1,32}")  # an ISO 8601 time, as worker.js writes it


def well_formed(value: Any) -> Any:
    """`value` with each lone surrogate (JSON's `\\ud800`) as U+FFFD, as TextEncoder writes it.

    No UTF-8 response, log line or database row can hold a lone surrogate: one a
    function sends would fail the call with a 500. Pairs are already one character.
    """
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {well_formed(key): well_formed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [well_formed(item) for item in value]
    return value


class WorkerFailed(Exception):
    """A worker process could not start, or died; the message is safe to show the caller."""

    def __init__(self, message: str, http_status: int = 500, stack: str | None = None):
        super().__init__(message)
        self.http_status = http_status
        self.stack = stack


class WorkerTimedOut(Exception):
    pass


class Worker:
    """One Deno process running one function version; not thread-safe (the pool hands it out).

    `calls` is how many calls it may serve: with the timeout, its lifetime CPU budget.
    """

    def __init__(self, runtime: DenoRuntime, spec: FunctionSpec, calls: int) -> None:
        self.spec = spec
        self.memory_mb = spec.memory_mb
        self.calls = 0
        self.last_used = time.monotonic()
        self.stray: list[dict[str, str]] = []
        self._frames = bytearray()
        self._stdout = bytearray()
        self._stderr = bytearray()
        # The CPU-time hard limit can only be lowered later: it is the budget of every call it may serve.
        self._cpu_hard = math.ceil(START_TIMEOUT_S + calls * (spec.timeout_seconds + CPU_MARGIN_S))
        self._cpu_soft = self._cpu_used = 0.0
        module = runtime.module_for(spec.code)
        # Stacks name the function's file as "function.ts": server paths are none of its business.
        self._paths = ((module.as_uri(), "function.ts"), (WORKER_SCRIPT.as_uri(), "fluxbase:worker"))
        self._channel = Path(tempfile.mkdtemp(dir=runtime.pipes))
        to_worker, from_worker = self._channel / "input", self._channel / "output"
        os.mkfifo(to_worker, 0o600)
        os.mkfifo(from_worker, 0o600)
        # Opened read-write, neither open blocks, nor does the worker's; until the worker
        # has its end, holding `from_worker` for writing too keeps its read from an early EOF.
        self._input = os.open(to_worker, os.O_RDWR)
        self._output = os.open(from_worker, os.O_RDWR | os.O_NONBLOCK)
        self._connected = False
        started = time.monotonic()
        try:
            self.process = runtime.spawn(
                runtime.command(spec, module, (to_worker, from_worker)),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=runtime.child_environment(),
                cwd=runtime.scratch,
                start_new_session=True,  # its own process group, killed as one
                preexec_fn=egress.refuse_ipv6,
            )
        except BaseException:
            self._close_channel()
            raise
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
        if self._read_line(deadline) != b"started":
            raise self._died("Function worker did not start")
        # The worker holds both FIFOs open and may no longer open them: read its output
        # for real (EOF when it dies) and take the paths away.
        reader = os.open(self._channel / "output", os.O_RDONLY | os.O_NONBLOCK)
        os.close(self._output)
        self._output, self._connected = reader, True
        shutil.rmtree(self._channel, ignore_errors=True)
        self._limit_memory()
        # Loading runs the function's top-level code: that is within the function's timeout too.
        self._limit_cpu(self.spec.timeout_seconds)
        resource.prlimit(self.process.pid, resource.RLIMIT_CORE, (0, 0))  # a dump would hold its secrets
        self._send(
            {
                "module": module.as_uri(),
                "permissions": self.spec.permissions.as_json(),
                "limits": {"logBytes": MAX_LOG_BYTES, "bodyBytes": MAX_BODY_BYTES},
            }
        )
        try:
            ready = self._read_frame(min(deadline, time.monotonic() + self.spec.timeout_seconds))
        except WorkerTimedOut:
            timeout = self.spec.timeout_seconds
            raise WorkerFailed(f"Function timed out after {timeout} s loading its code", 504) from None
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

    def _limit_cpu(self, timeout_seconds: float) -> None:
        """Let the process use at most this call's timeout (and a margin) of CPU time from now.

        The backstop for whatever escapes the server's own timeout: past the soft limit
        the kernel stops the process (SIGXCPU, which the function may not catch; SIGKILL
        at the hard limit), whether or not a server still watches it. The CPU time used
        so far comes with each frame (idle between calls, the process uses none), and
        the limit is in whole seconds, so most calls find it already right.
        """
        soft = min(math.ceil(self._cpu_used + timeout_seconds + CPU_MARGIN_S), self._cpu_hard)
        if soft != self._cpu_soft:
            resource.prlimit(self.process.pid, resource.RLIMIT_CPU, (soft, self._cpu_hard))
            self._cpu_soft = soft

    def call(self, invocation: Invocation, timeout_seconds: float) -> Outcome:
        self.calls += 1
        self.stray = []
        deadline = time.monotonic() + timeout_seconds
        self._limit_cpu(timeout_seconds)
        self._send({"request": invocation.request})
        answer = self._read_frame(deadline)
        # Its first read of a name, of the whole env or of its flags: the worker keeps each answer for the call.
        while answer.get("type") in ASKS:
            self._send(self._answer(invocation, answer))
            answer = self._read_frame(deadline)
        self.last_used = time.monotonic()
        if answer.get("type") != "result" or self._frames:
            raise WorkerFailed("Function worker sent an unexpected answer and was stopped", 502)
        if answer.get("kind") == "memory":
            raise WorkerFailed(self._memory_exceeded)
        logs, truncated = self._logs(answer)
        if answer.get("kind") == "too_large":
            return self._too_large(answer.get("size"), logs, truncated)
        if answer.get("ok"):
            response = answer.get("response")
            body = response.get("body") if isinstance(response, dict) else None
            if not isinstance(response, dict) or not isinstance(body, (str, type(None))):
                error = "Function worker sent a response the server cannot read"
                return Outcome(ERROR, 502, error=error, logs=logs, logs_truncated=truncated)
            size = len(body.encode(errors="surrogatepass")) if body else 0
            if size > MAX_BODY_BYTES:  # counted here too: what the worker counted is not to be trusted
                return self._too_large(size, logs, truncated)
            return Outcome(SUCCESS, 200, response=response, logs=logs, logs_truncated=truncated)
        return Outcome(
            ERROR,
            500,
            error=self._clean(str(answer.get("message", ""))),
            stack=self._clean(str(answer.get("stack", ""))),
            logs=logs,
            logs_truncated=truncated,
            thrown=True,
        )

    @staticmethod
    def _answer(invocation: Invocation, ask: dict[str, Any]) -> dict[str, Any]:
        """The answer to one of the worker's asks (protocol in `worker.js`)."""
        kind, name = ask["type"], ask.get("name")
        if kind == "flags":
            return {"flags": invocation.flags()}
        if kind == "env_all":
            return {"env": invocation.env_all()}
        if not isinstance(name, str):
            raise WorkerFailed("Function worker sent an unexpected answer and was stopped", 502)
        if kind == "secret":
            return invocation.secret(name)
        value = invocation.env(name)
        return {} if value is None else {"value": value}

    def _logs(self, answer: dict[str, Any]) -> tuple[list[dict[str, str]], bool]:
        """The call's console output, capped here too (64 KiB), then its stray output.

        Each entry is rebuilt from its three fields: a function that plants `toJSON` on
        the prototypes shapes what the worker sends, so any other field or value is dropped.
        """
        entries = answer.get("logs")
        logs, size, truncated = [], 0, bool(answer.get("truncated"))
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                message = self._clean(str(entry.get("message", "")))
                timestamp = entry.get("timestamp")
                timestamp = timestamp if isinstance(timestamp, str) and TIMESTAMP.fullmatch(timestamp) else ""
                level = entry.get("level") if entry.get("level") in LOG_LEVELS else "info"
                size += len(message)
                if size > MAX_LOG_BYTES:
                    truncated = True
                    break
                logs.append({"timestamp": timestamp, "level": level, "message": message})
        return logs + self.stray, truncated

    @staticmethod
    def _too_large(size: object, logs: list[dict[str, str]], truncated: bool) -> Outcome:
        message = f"Function response is {size} bytes; the limit is {MAX_BODY_BYTES} bytes (6 MB)"
        return Outcome(ERROR, 502, error=message, logs=logs, logs_truncated=truncated)

    @property
    def _memory_exceeded(self) -> str:
        return f"Function exceeded its memory limit of {self.memory_mb} MB and was stopped"

    def _clean(self, text: str) -> str:
        """Name the function's file `function.ts` and drop the worker's own stack frames."""
        for path, name in self._paths:
            text = text.replace(path, name)
        return "\n".join(line for line in text.split("\n") if "fluxbase:worker" not in line)

    def _send(self, message: dict[str, Any]) -> None:
        data = memoryview(json.dumps(message).encode() + b"\n")
        try:
            while data:
                data = data[os.write(self._input, data) :]
        except OSError:
            raise self._died("Function worker exited unexpectedly") from None

    def _read_frame(self, deadline: float) -> dict[str, Any]:
        """The next message the worker sent on its output FIFO."""
        try:
            frame = well_formed(json.loads(self._read_line(deadline)))
            self._cpu_used = float(frame["cpu"])
        except (ValueError, TypeError, KeyError, RecursionError):  # RecursionError: nested too deep
            raise WorkerFailed("Function worker sent an unreadable answer and was stopped", 502) from None
        return frame

    def _read_line(self, deadline: float) -> bytes:
        """One line of the worker's output, waiting at most until `deadline`.

        stdout and stderr are drained meanwhile: stdout's lines are the call's stray
        console output (the function's own, never a frame), stderr is kept for errors.
        """
        stdout, stderr = self.process.stdout, self.process.stderr
        assert stdout is not None and stderr is not None
        streams = [self._output, stdout.fileno(), stderr.fileno()]
        while True:
            newline = self._frames.find(b"\n")
            if newline >= 0:
                line = bytes(self._frames[:newline])
                del self._frames[: newline + 1]
                return line
            if len(self._frames) > MAX_FRAME_BYTES:
                raise WorkerFailed(f"Function wrote more than {MAX_FRAME_BYTES} bytes in one answer", 502)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimedOut()
            readable, _, _ = select.select(streams, [], [], remaining)
            for fd in readable:
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if fd == self._output:
                    if not chunk:
                        raise self._died("Function worker exited unexpectedly")
                    self._frames += chunk
                elif not chunk:  # stdout or stderr closed: dead, unless the FIFO still says otherwise
                    streams.remove(fd)
                    if not self._connected:
                        raise self._died("Function worker exited unexpectedly")
                elif fd == stderr.fileno():
                    self._stderr = (self._stderr + chunk)[-MAX_STDERR_BYTES:]
                else:
                    self._stray(chunk)

    def _stray(self, chunk: bytes) -> None:
        """Output on stdout (Deno's internal print, say) becomes the call's console output, line by line."""
        self._stdout += chunk
        *lines, rest = self._stdout.split(b"\n")
        self._stdout = bytearray(rest[:MAX_LOG_BYTES])
        for line in lines:
            if line.strip() and sum(len(entry["message"]) for entry in self.stray) < MAX_LOG_BYTES:
                text = line.decode(errors="replace")[:MAX_LOG_BYTES]
                self.stray.append({"timestamp": "", "level": "info", "message": text})

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
            return WorkerFailed(self._memory_exceeded)
        if code == -signal.SIGXCPU or code == -signal.SIGKILL:
            return WorkerFailed("Function used more CPU time than its timeout allows and was stopped")
        return WorkerFailed(f"{message} (exit status {code})", stack=text[-4096:] or None)

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        self.process.wait()
        self._close_channel()

    def _close_channel(self) -> None:
        for fd in (self._input, self._output):
            try:
                os.close(fd)
            except OSError:
                pass
        self._input = self._output = -1
        shutil.rmtree(self._channel, ignore_errors=True)


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
        return worker or Worker(self.runtime, spec, calls=self.max_calls)

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
