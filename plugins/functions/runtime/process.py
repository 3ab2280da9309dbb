"""One warm Deno process running one version of one function, several calls at once.

It lives in the node's runtime supervisor (`supervisor.py`), on its asyncio loop. Calls
are frames tagged with an id on three FIFOs (protocol in `worker.js`); while a call
waits on its `ask` (a secret, a flag), the supervisor relays the question to the server
thread that made the call. Limits are set from outside: an OS data limit
(`RLIMIT_DATA`, calibrated once V8 is up) caps memory that the V8 heap flag does not
see, such as ArrayBuffers; a call past its timeout is answered 504 and its process
takes no more calls (and is stopped once its other calls end); a CPU-time limit
(`RLIMIT_CPU`), raised as calls start, stops the process by itself should anything
outlive its calls. Written by hand because no library drives Deno this way.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import egress
from .base import ERROR, SUCCESS, TIMEOUT, FunctionSpec, Outcome, Permissions

WORKER_SCRIPT = Path(__file__).resolve().parent / "worker.js"
START_TIMEOUT_S = 20.0
CPU_MARGIN_S = 1  # CPU seconds a call may use beyond its timeout before its process stops itself
MEMORY_HEADROOM_MB = 64  # code, JIT and Deno's own allocations on top of the function's memory
MAX_BODY_BYTES = 6 * 1024 * 1024
MAX_LOG_BYTES = 64 * 1024
MAX_LOG_LINES = 4096  # empty lines count no byte: without this, one call stored 400,000 of them (24 MB)
# JSON escaping makes a control character six bytes (`\u0001`): a body or log within its limit still fits.
MAX_FRAME_BYTES = 6 * (MAX_BODY_BYTES + MAX_LOG_BYTES) + (1 << 20)
MAX_STDERR_BYTES = 64 * 1024
LOG_LEVELS = {"debug", "info", "warn", "error"}  # those worker.js gives console's methods
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
TIMESTAMP = re.compile(r"[0-9:.TZ+-]{1,32}")  # an ISO 8601 time, as worker.js writes it

# Asks a call's code may make (worker.js), relayed to the server thread that made the call.
ASKS = {"secret", "env", "env_all", "flags"}
Asker = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


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


class ProcessFailed(Exception):
    """A process could not start, or died, or broke the protocol; the message is safe to show the caller."""

    def __init__(self, message: str, http_status: int = 500, stack: str | None = None):
        super().__init__(message)
        self.http_status = http_status
        self.stack = stack

    def outcome(self, logs: list[dict[str, str]] | None = None) -> Outcome:
        return Outcome(ERROR, self.http_status, error=str(self), stack=self.stack, logs=logs or [])


@dataclass(frozen=True)
class Target:
    """A function version as the supervisor runs it: all but its code, which it reads from a module file."""

    function_id: str
    version: int
    timeout_seconds: int
    memory_mb: int
    permissions: Permissions
    isolation: str = "warm"
    build: str = ""  # a digest of the version's bundle: shared modules rebundled change what runs, not the version

    @property
    def key(self) -> tuple[str, int, str, Permissions, int]:
        # A version's code never changes, so the version (with its bundle's digest) stands for it.
        return (self.function_id, self.version, self.build, self.permissions, self.memory_mb)

    @classmethod
    def of(cls, spec: FunctionSpec) -> Target:
        limits = (spec.timeout_seconds, spec.memory_mb, spec.permissions, spec.isolation)
        build = (spec.bundle_digest or "")[:16]
        return cls(spec.function_id, spec.version, *limits, build)

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "permissions": self.permissions.as_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        return cls(**{**data, "permissions": Permissions(**data["permissions"])})


@dataclass(frozen=True)
class Sandbox:
    """Where and how Deno processes start; the server writes it for the supervisor (`as_json`)."""

    binary: str
    setpriv: str
    deno_dir: str
    scratch: str
    pipes: str

    def environment(self) -> dict[str, str]:
        """All a Deno child gets: none of the server's variables, so none of its secrets."""
        return {
            "DENO_DIR": self.deno_dir,
            "DENO_NO_UPDATE_CHECK": "1",
            "DENO_TLS_CA_STORE": "system",
            "NO_COLOR": "1",
            "HOME": self.scratch,
        }

    def command(self, target: Target, module: Path, channel: tuple[Path, ...] = ()) -> list[str]:
        """The `deno run` command line of a worker for `target`: its permissions as Deno flags.

        `channel` is the worker's (input, output, answers) FIFOs, readable and writable
        only until the worker has opened them (it revokes all before the function loads).
        """
        scratch = Path(self.scratch) / target.function_id
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
            f"--v8-flags=--max-old-space-size={target.memory_mb}",
        ]
        if target.permissions.read or target.permissions.write:
            scratch.mkdir(exist_ok=True, mode=0o700)
        if target.permissions.read:
            readable.append(str(scratch))
        if target.permissions.write:
            writable.append(str(scratch))
        if channel:
            readable += [str(channel[0]), str(channel[2])]
            writable.append(str(channel[1]))
        if writable:
            flags.append("--allow-write=" + ",".join(writable))
        if target.permissions.net:
            flags += egress.net_flags()
        flags.append("--allow-read=" + ",".join(readable))
        return [*flags, str(WORKER_SCRIPT), *(str(path) for path in channel)]


class DenoProcess:
    """One Deno process of one `Target`; calls run concurrently, each with its own deadline."""

    def __init__(self, sandbox: Sandbox, target: Target, calls: int) -> None:
        self.sandbox = sandbox
        self.target = target
        self.inflight = 0  # calls running in it now
        self.started = 0  # calls it was given
        self.retiring = False  # takes no more calls; stopped once the last ends
        self.last_used = time.monotonic()
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ready.add_done_callback(lambda ready: ready.cancelled() or ready.exception())  # seen, if no call waits
        self._loop = asyncio.get_running_loop()
        self._ids = itertools.count(1)
        self._results: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._askers: dict[int, Asker] = {}
        self._stray: dict[int, list[dict[str, str]]] = {}
        self._stray_bytes: dict[int, int] = {}
        self._timed_out: set[int] = set()  # calls answered 504 whose result may still come, once
        self._frames = bytearray()
        self._scanned = 0  # bytes of `_frames` known to hold no newline: each chunk is searched once
        self._stdout = bytearray()
        self._stderr = bytearray()
        self._dead: ProcessFailed | None = None
        # The CPU-time hard limit can only be lowered later: it is the budget of every call it may serve.
        self._cpu_hard = math.ceil(START_TIMEOUT_S + calls * (target.timeout_seconds + CPU_MARGIN_S))
        self._cpu_soft = self._cpu_used = 0.0
        self._channel = Path(tempfile.mkdtemp(dir=sandbox.pipes))
        self._fifos = tuple(self._channel / name for name in ("input", "output", "answers"))
        for fifo in self._fifos:
            os.mkfifo(fifo, 0o600)
        # Opened read-write, no open blocks, nor does the worker's; until the worker has
        # its ends, holding `output` for writing too keeps its read from an early EOF.
        self._fds = [os.open(fifo, os.O_RDWR | os.O_NONBLOCK) for fifo in self._fifos]
        self._writers: list[asyncio.WriteTransport] = []
        self._paths: tuple[tuple[str, str], ...] = ((WORKER_SCRIPT.as_uri(), "fluxbase:worker"),)
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def start(self, module: Path) -> None:
        """Start the process and load the function; sets `ready` (or its error) for calls that wait on it."""
        try:
            await self._start(module)
        except ProcessFailed as failure:
            self.kill()
            self.ready.set_exception(failure)
            raise
        except BaseException:
            self.kill()
            self.ready.set_exception(ProcessFailed("Function worker did not start"))
            raise
        self.ready.set_result(None)

    async def _start(self, module: Path) -> None:
        # Stacks name the function's file as "function.ts": server paths are none of its business.
        self._paths = ((module.as_uri(), "function.ts"), *self._paths)
        # The parent-death signal ties the worker to the supervisor's (only) thread.
        setpriv = [self.sandbox.setpriv, "--pdeathsig", "KILL", "--"]
        self.process = subprocess.Popen(
            [*setpriv, *self.sandbox.command(self.target, module, self._fifos)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.sandbox.environment(),
            cwd=self.sandbox.scratch,
            start_new_session=True,  # its own process group, killed as one
            preexec_fn=egress.refuse_ipv6,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        for stream in (self.process.stdout, self.process.stderr):
            os.set_blocking(stream.fileno(), False)
        self._loop.add_reader(self.process.stdout.fileno(), self._on_stdout)
        self._loop.add_reader(self.process.stderr.fileno(), self._on_stderr)
        started = self._loop.create_future()
        self._results[0] = started  # "started" and "ready" arrive as call 0
        self._loop.add_reader(self._fds[1], self._on_output)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await started
        except TimeoutError:
            raise ProcessFailed(f"Function worker did not start within {START_TIMEOUT_S:.0f} s") from None
        await self._connect()
        self._limit_memory()
        # Loading runs the function's top-level code: that is within the function's timeout too.
        self._limit_cpu(self.target.timeout_seconds)
        resource.prlimit(self.process.pid, resource.RLIMIT_CORE, (0, 0))  # a dump would hold its secrets
        loaded = self._results[0] = self._loop.create_future()
        self._send(
            {
                "module": module.as_uri(),
                "permissions": self.target.permissions.as_json(),
                "limits": {"logBytes": MAX_LOG_BYTES, "logLines": MAX_LOG_LINES, "bodyBytes": MAX_BODY_BYTES},
            }
        )
        try:
            async with asyncio.timeout(self.target.timeout_seconds):
                ready = await loaded
        except TimeoutError:
            timeout = self.target.timeout_seconds
            raise ProcessFailed(f"Function timed out after {timeout} s loading its code", 504) from None
        finally:
            self._results.pop(0, None)
        if ready.get("error"):
            raise ProcessFailed("Function failed to load", stack=self._clean(str(ready["error"]))[:MAX_LOG_BYTES])

    async def _connect(self) -> None:
        """The worker holds its FIFO ends and may no longer open them: take the paths away, reopen ours one-way.

        Its output is now read for real (EOF when it dies), and written FIFOs go through
        asyncio's transports, which buffer: a large request never blocks the supervisor.
        """
        reader = os.open(self._fifos[1], os.O_RDONLY | os.O_NONBLOCK)
        self._loop.remove_reader(self._fds[1])
        self._loop.add_reader(reader, self._on_output)
        os.close(self._fds[1])
        self._fds[1] = reader
        for index in (0, 2):
            writer = os.open(self._fifos[index], os.O_WRONLY | os.O_NONBLOCK)
            os.close(self._fds[index])
            self._fds[index] = writer
            transport, _ = await self._loop.connect_write_pipe(asyncio.Protocol, os.fdopen(writer, "wb", 0))
            self._writers.append(transport)
            self._fds[index] = -1  # the transport's now
        shutil.rmtree(self._channel, ignore_errors=True)

    def _limit_memory(self) -> None:
        """Cap the process's data segment at what V8 holds now plus the function's memory.

        Measured once V8 is up: its address-space reservations already count as data,
        and differ between machines, so a fixed number would be wrong somewhere.
        """
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        data_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmData:"))
        limit = data_kb * 1024 + (self.target.memory_mb + MEMORY_HEADROOM_MB) * 1024 * 1024
        resource.prlimit(self.process.pid, resource.RLIMIT_DATA, (limit, limit))

    def _limit_cpu(self, timeout_seconds: float) -> None:
        """Let the process use at least this call's timeout (and a margin) of CPU time from now.

        The backstop for whatever escapes the supervisor's own timeout: past the soft
        limit the kernel stops the process (SIGXCPU, which the function may not catch;
        SIGKILL at the hard limit), whether or not anyone still watches it. The CPU time
        used so far comes with each frame; while other calls run, the limit only rises.
        """
        assert self.process is not None
        wanted = math.ceil(self._cpu_used + timeout_seconds + CPU_MARGIN_S)
        soft = min(max(wanted, self._cpu_soft) if self.inflight > 1 else wanted, self._cpu_hard)
        if soft != self._cpu_soft:
            resource.prlimit(self.process.pid, resource.RLIMIT_CPU, (soft, self._cpu_hard))
            self._cpu_soft = soft

    async def call(self, request: dict[str, Any], deadline: float, asker: Asker) -> Outcome:
        """Run one call; answers its `Outcome`, whatever the function does. The caller counted it in `inflight`."""
        call_id = next(self._ids)
        result = self._results[call_id] = self._loop.create_future()
        self._askers[call_id] = asker
        self._stray[call_id] = []
        try:
            if self._dead is not None:
                raise self._dead
            self._limit_cpu(self.target.timeout_seconds)
            self._send({"id": call_id, "request": request})
            try:
                async with asyncio.timeout_at(deadline):
                    answer = await result
            except TimeoutError:
                self.retiring = True  # it may be spinning: the others finish, then it goes
                self._timed_out.add(call_id)
                error = f"Function timed out after {self.target.timeout_seconds} s"
                return Outcome(TIMEOUT, 504, error=error, logs=self._stray[call_id])
            return self._outcome(answer, self._stray[call_id])
        except ProcessFailed as failure:
            return failure.outcome(self._stray[call_id])
        finally:
            self.last_used = time.monotonic()
            self._results.pop(call_id, None)
            self._askers.pop(call_id, None)
            self._stray.pop(call_id, None)
            self._stray_bytes.pop(call_id, None)

    def _outcome(self, answer: dict[str, Any], stray: list[dict[str, str]]) -> Outcome:
        if answer.get("kind") == "memory":
            self.retiring = True
            return ProcessFailed(self._memory_exceeded).outcome(stray)
        logs, truncated = self._logs(answer, stray)
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

    def _logs(self, answer: dict[str, Any], stray: list[dict[str, str]]) -> tuple[list[dict[str, str]], bool]:
        """The call's console output, capped here too (64 KiB), then its stray output.

        Each entry is rebuilt from its three fields: a function that plants `toJSON` on
        the prototypes shapes what the worker sends, so any other field or value is dropped.
        """
        entries = answer.get("logs")
        logs, size, truncated = [], 0, bool(answer.get("truncated"))
        for entry in entries if isinstance(entries, list) else []:
            if len(logs) >= MAX_LOG_LINES:
                truncated = True
                break
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
        return logs + stray[: MAX_LOG_LINES - len(logs)], truncated

    @staticmethod
    def _too_large(size: object, logs: list[dict[str, str]], truncated: bool) -> Outcome:
        message = f"Function response is {size} bytes; the limit is {MAX_BODY_BYTES} bytes (6 MB)"
        return Outcome(ERROR, 502, error=message, logs=logs, logs_truncated=truncated)

    @property
    def _memory_exceeded(self) -> str:
        return f"Function exceeded its memory limit of {self.target.memory_mb} MB and was stopped"

    def _clean(self, text: str) -> str:
        """Name the function's file `function.ts` and drop the worker's own stack frames."""
        for path, name in self._paths:
            text = text.replace(path, name)
        return "\n".join(line for line in text.split("\n") if "fluxbase:worker" not in line)

    def _send(self, message: dict[str, Any], fifo: int = 0) -> None:
        """A frame to the worker's `input` (0) or `answers` (2); sent only once connected, never after it stopped."""
        if self._writers:
            self._writers[0 if fifo == 0 else 1].write(json.dumps(message).encode() + b"\n")

    def _on_output(self) -> None:
        """Frames from the worker: results, asks, and the start-up lines."""
        try:
            chunk = os.read(self._fds[1], 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._fail(self._died("Function worker exited unexpectedly"))
            return
        self._frames += chunk
        self._consume()

    def _consume(self) -> None:
        """Dispatch each whole frame received; a broken one stops the process and fails its calls."""
        while (newline := self._frames.find(b"\n", self._scanned)) >= 0:
            line = bytes(self._frames[:newline])
            del self._frames[: newline + 1]
            self._scanned = 0
            try:
                self._dispatch(line)
            except ProcessFailed as failure:
                self._fail(failure)
                return
        self._scanned = len(self._frames)
        if len(self._frames) > MAX_FRAME_BYTES:
            self._fail(ProcessFailed(f"Function wrote more than {MAX_FRAME_BYTES} bytes in one answer", 502))

    def _dispatch(self, line: bytes) -> None:
        if line == b"started" and self._waiting(0) and not self._writers:
            self._results[0].set_result({})
            return
        try:
            frame = well_formed(json.loads(line))
            self._cpu_used = float(frame["cpu"])
            kind = frame["type"]
        except (ValueError, TypeError, KeyError, RecursionError):  # RecursionError: nested too deep
            raise ProcessFailed("Function worker sent an unreadable answer and was stopped", 502) from None
        if kind == "ready" and self._waiting(0):
            self._results[0].set_result(frame)
        elif kind == "result" and self._waiting(frame.get("id")):
            self._results[frame["id"]].set_result(frame)
        elif kind == "result" and isinstance(frame.get("id"), int) and frame["id"] in self._timed_out:
            self._timed_out.discard(frame["id"])  # late: its caller had its 504; the calls beside it go on
        elif kind == "ask" and str(frame.get("kind")) in ASKS and self._asking(frame.get("id")):
            self._loop.create_task(self._relay(frame))
        elif kind == "ask":  # a call that ended: cut off, as worker.js does itself
            self._send({"error": "This call has ended"}, fifo=2)
        else:
            raise ProcessFailed("Function worker sent an unexpected answer and was stopped", 502)

    def _asking(self, call_id: object) -> bool:
        """Whether `call_id` names a call still running, whose asks its server thread answers."""
        return isinstance(call_id, int) and call_id in self._askers

    def _waiting(self, call_id: object) -> bool:
        """Whether `call_id` names a call still waiting for its result (one result per call, no more)."""
        return isinstance(call_id, int) and call_id in self._results and not self._results[call_id].done()

    async def _relay(self, frame: dict[str, Any]) -> None:
        """Ask the call's server thread, answer the worker; every other call in it waits meanwhile."""
        asker = self._askers[frame["id"]]
        fields = {"name": frame["name"]} if "name" in frame else {}  # nothing else reaches the server thread
        try:
            answer = await asker(frame["kind"], fields)
        except (OSError, ValueError, KeyError, ProcessFailed):  # its server thread is gone: the worker must not wait
            answer = {"error": "This call has ended"}
        if self._dead is None:
            self._send(answer, fifo=2)

    def _on_stdout(self) -> None:
        """Stray output (Deno's internal print, say) becomes the console output of the one call running.

        With several calls running, it belongs to none for sure, so it is dropped.
        """
        chunk = self._read_stream(self.process.stdout if self.process else None)
        if chunk is None:
            return
        self._stdout += chunk
        *lines, rest = self._stdout.split(b"\n")
        self._stdout = bytearray(rest[:MAX_LOG_BYTES])
        if len(self._stray) != 1:
            return
        [(call_id, stray)] = self._stray.items()
        # Counted as it grows, never summed per line: a flood of short lines cost the whole
        # node's event loop a minute (quadratic), and each line counts one byte more.
        size = self._stray_bytes.get(call_id, 0)
        for line in lines:
            if size >= MAX_LOG_BYTES:
                break
            if line.strip():
                text = line.decode(errors="replace")[: MAX_LOG_BYTES - size]
                stray.append({"timestamp": "", "level": "info", "message": text})
                size += len(text) + 1
        self._stray_bytes[call_id] = size

    def _on_stderr(self) -> None:
        chunk = self._read_stream(self.process.stderr if self.process else None)
        if chunk is not None:
            self._stderr = (self._stderr + chunk)[-MAX_STDERR_BYTES:]

    def _read_stream(self, stream: Any) -> bytes | None:
        """What a stdout/stderr pipe holds; at EOF the pipe is no longer watched."""
        if stream is None:
            return None
        try:
            chunk = os.read(stream.fileno(), 1 << 16)
        except (BlockingIOError, OSError, ValueError):  # ValueError: closed by `kill` already
            return None
        if not chunk:
            self._loop.remove_reader(stream.fileno())
            return None
        return chunk

    def _died(self, message: str) -> ProcessFailed:
        """Why the process ended: a memory overrun says so; anything else says it exited."""
        code = None
        if self.process is not None:
            try:
                code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None and self.process.stderr is not None:
                self._on_stderr()  # what it said last
        text = self._stderr.decode(errors="replace")
        if "out of memory" in text.lower() or "memory allocation of" in text:
            return ProcessFailed(self._memory_exceeded)
        if code == -signal.SIGXCPU or code == -signal.SIGKILL:
            return ProcessFailed("Function used more CPU time than its timeout allows and was stopped")
        return ProcessFailed(f"{message} (exit status {code})", stack=text[-4096:] or None)

    def _fail(self, failure: ProcessFailed) -> None:
        """Fail every call in flight with `failure` and stop the process."""
        self._dead = self._dead or failure
        self.kill()

    @property
    def alive(self) -> bool:
        return self._dead is None and self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Stop the process and free its FIFOs and readers; idempotent."""
        self._dead = self._dead or ProcessFailed("Function worker was stopped", 503)
        self.retiring = True
        for result in self._results.values():
            if not result.done():
                result.set_exception(self._dead)
        if self.process is not None:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None and not stream.closed:
                    self._loop.remove_reader(stream.fileno())
                    stream.close()
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()
        for transport in self._writers:
            # One that saw the worker's end of its FIFO close is closed already: aborted again,
            # asyncio raised, and this method stopped before unwatching `output`, whose EOF then
            # woke the supervisor's loop at once, forever (13,000 tracebacks a second).
            if not transport.is_closing():
                transport.abort()
        self._writers = []
        for fd in self._fds:
            if fd >= 0:
                self._loop.remove_reader(fd)
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._fds = [-1, -1, -1]
        shutil.rmtree(self._channel, ignore_errors=True)
