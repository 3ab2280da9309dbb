"""The node's runtime supervisor: one process that owns every warm Deno process of an instance.

Why one per node: were the pool kept in each gunicorn worker, each would start its own
Deno processes for the same functions (versions x workers of them), and a worker
thread would wait on each call. Here the waiting is asyncio's: thousands of calls may
await a timer or `fetch` at once, and every server thread reaches the same warm pool.

Server threads connect over a Unix socket in the instance folder (`client.py`); each
connection carries one call at a time as JSON lines:

    server -> supervisor  {"call": Target, "request": {...}}  |  {"status": true}
    supervisor -> server  {"ask": kind, ...}                  (zero or more; see ASKS)
    server -> supervisor  {"answer": {...}}                   (one per ask)
    supervisor -> server  {"outcome": Outcome}                |  {"status": {...}}

It runs apart from the server's code (`python -m runtime` in the plugin's folder, so
this package alone is imported: its modules import each other relatively). The
first server that finds no supervisor starts one; the one that takes the lock
file serves, any other exits. It stops when no server has been connected for
`IDLE_EXIT_S` (its Deno processes die with it: their parent-death signal), so a
server killed outright leaves nothing running. Written by hand: no library
supervises Deno processes this way.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .base import ERROR, TIMEOUT, Outcome
from .process import ASKS, Asker, DenoProcess, ProcessFailed, Sandbox, Target

IDLE_EXIT_S = 2.0  # no server connected this long: stop (a killed server leaves no Deno process behind)
SWEEP_EVERY_S = 5.0
# A request as the server sends it (UTF-8, not ASCII-escaped): the server takes bodies of
# 10 MB by default, and a control character is six bytes escaped. A longer line is refused
# by the client with a 413 (`client.py`), never sent to close the connection mid-call.
MAX_LINE_BYTES = 64 << 20


@dataclass(frozen=True)
class PoolLimits:
    """FUNCTIONS_* settings of the warm pool, per node."""

    max_warm: int  # idle processes kept, all functions together
    per_function: int  # processes of one function version
    concurrency: int  # calls one process serves at once
    idle_seconds: float
    max_calls: int  # calls a process serves before it is replaced


@dataclass(frozen=True)
class Settings:
    """What the supervisor is told when started: written by the server as JSON beside the socket."""

    socket: str
    lock: str
    sandbox: Sandbox
    limits: PoolLimits

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        data = json.loads(text)
        return cls(data["socket"], data["lock"], Sandbox(**data["sandbox"]), PoolLimits(**data["limits"]))


MAX_SOCKET_PATH = 100  # the kernel takes 108 bytes for a Unix socket's path
_folders: dict[str, int] = {}


def socket_address(path: str) -> str:
    """`path`, or, when too long for a Unix socket, the same file through a descriptor of its folder.

    Instance folders can sit deep (a test's temporary folder, say); the folder's own
    permissions still apply, which an abstract socket would not have.
    """
    if len(path.encode()) <= MAX_SOCKET_PATH:
        return path
    folder, name = os.path.split(path)
    if folder not in _folders:
        _folders[folder] = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    return f"/proc/self/fd/{_folders[folder]}/{name}"


class Pool:
    """Warm processes by function version: shared by concurrent calls, bounded, idle-evicted, recycled."""

    def __init__(self, sandbox: Sandbox, limits: PoolLimits) -> None:
        self.sandbox = sandbox
        self.limits = limits
        self._groups: dict[tuple, list[DenoProcess]] = {}
        self._modules: dict[tuple, Path] = {}
        self._changed = asyncio.Condition()

    async def run(self, target: Target, request: dict[str, Any], asker: Asker) -> Outcome:
        """One call of `target`, in a warm process (or a fresh one for per-invocation isolation)."""
        deadline = asyncio.get_running_loop().time() + target.timeout_seconds
        if target.isolation == "per-invocation":
            return await self._run_fresh(target, request, asker, deadline)
        try:
            process = await self._acquire(target, asker, deadline)
        except TimeoutError:
            return Outcome(TIMEOUT, 504, error=f"Function timed out after {target.timeout_seconds} s")
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.shield(process.ready)  # a new process: it loads the function's code
        except TimeoutError:
            await self._release(process)
            error = f"Function timed out after {target.timeout_seconds} s loading its code"
            return Outcome(TIMEOUT, 504, error=error)
        except ProcessFailed as failure:
            await self._release(process)
            return failure.outcome()
        try:
            return await process.call(request, deadline, asker)
        finally:
            await self._release(process)

    async def _run_fresh(self, target: Target, request: dict[str, Any], asker: Asker, deadline: float) -> Outcome:
        process = DenoProcess(self.sandbox, target, calls=1)
        try:
            await process.start(await self._module(target, asker))
            process.inflight = process.started = 1
            return await process.call(request, deadline, asker)
        except ProcessFailed as failure:
            return failure.outcome()
        finally:
            process.kill()

    async def _module(self, target: Target, asker: Asker) -> Path:
        """The function's module file: asked of the server once per version (the file is content-addressed)."""
        module = self._modules.get(target.key)
        if module is None or not module.exists():
            answer = await asker("module", {})
            module = self._modules[target.key] = Path(str(answer["module"]))
        return module

    async def _acquire(self, target: Target, asker: Asker, deadline: float) -> DenoProcess:
        """A process for one more call, maybe still starting: the least busy one with room, else a
        new one (up to `per_function`); else wait for room until `deadline`.

        Filling a process before starting another keeps one process per function version
        in use, not one per concurrent call: most calls wait on I/O, which one process
        overlaps; CPU-bound calls get more processes once `concurrency` calls fill one.
        """
        async with asyncio.timeout_at(deadline):
            while True:
                self._tidy(target)
                group = [process for process in self._groups.setdefault(target.key, []) if not process.retiring]
                room = [process for process in group if process.inflight < self.limits.concurrency]
                chosen = min(room, key=lambda process: process.inflight, default=None)
                if chosen is None and len(group) < self.limits.per_function:
                    chosen = self._spawn(target, asker)
                if chosen is not None:
                    chosen.inflight += 1
                    chosen.started += 1
                    chosen.retiring = chosen.started >= self.limits.max_calls
                    return chosen
                async with self._changed:
                    await self._changed.wait()

    def _spawn(self, target: Target, asker: Asker) -> DenoProcess:
        process = DenoProcess(self.sandbox, target, calls=self.limits.max_calls)
        self._groups[target.key].append(process)
        asyncio.get_running_loop().create_task(self._start(process, target, asker))
        return process

    async def _start(self, process: DenoProcess, target: Target, asker: Asker) -> None:
        try:
            await process.start(await self._module(target, asker))
        except (OSError, ValueError, KeyError, ProcessFailed) as error:
            if not process.ready.done():
                failure = error if isinstance(error, ProcessFailed) else ProcessFailed("Function worker did not start")
                process.ready.set_exception(failure)
            process.kill()
            await self._notify()

    async def _release(self, process: DenoProcess) -> None:
        process.inflight -= 1
        process.last_used = time.monotonic()
        if process.inflight == 0 and (process.retiring or not process.alive):
            process.kill()
        self.trim()
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _tidy(self, target: Target | None) -> None:
        """Drop stopped processes, stop idle ones past the idle timeout, retire other versions of `target`."""
        cutoff = time.monotonic() - self.limits.idle_seconds
        for key, group in list(self._groups.items()):
            other_version = target is not None and key[0] == target.function_id and key != target.key
            for process in group:
                if other_version:
                    process.retiring = True
                idle = process.ready.done() and process.last_used < cutoff
                if process.inflight == 0 and (process.retiring or idle):
                    process.kill()  # one still starting too: dropped below, nothing would stop it later
            group[:] = [process for process in group if process.inflight or not process.retiring]
            if not group:
                del self._groups[key]
                self._modules.pop(key, None)

    def trim(self) -> None:
        """Keep at most `max_warm` idle processes, the least recently used out first."""
        idle = [
            process
            for group in self._groups.values()
            for process in group
            if process.inflight == 0 and process.ready.done() and not process.retiring
        ]
        idle.sort(key=lambda process: process.last_used)
        for process in idle[: max(0, len(idle) - self.limits.max_warm)]:
            process.kill()
        self._tidy(None)

    def status(self) -> dict[str, Any]:
        """The processes now running, for monitoring, tests and benchmarks."""
        return {
            "pid": os.getpid(),
            "processes": [
                {
                    "pid": process.pid,
                    "function_id": process.target.function_id,
                    "version": process.target.version,
                    "inflight": process.inflight,
                    "calls": process.started,
                }
                for group in self._groups.values()
                for process in group
                if process.alive
            ],
        }

    def close(self) -> None:
        for group in self._groups.values():
            for process in group:
                process.kill()
        self._groups.clear()


class Supervisor:
    """The socket server: one call per connection at a time, asks relayed to the connected server thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = Pool(settings.sandbox, settings.limits)
        self._clients = 0
        self._idle_since: float | None = time.monotonic()
        self._stop = asyncio.Event()

    async def serve(self) -> None:
        socket_path = Path(self.settings.socket)
        socket_path.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(
            self._connection, path=socket_address(str(socket_path)), limit=MAX_LINE_BYTES
        )
        socket_path.chmod(0o600)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        sweeper = loop.create_task(self._sweep())
        try:
            await self._stop.wait()
        finally:
            sweeper.cancel()
            server.close()
            self.pool.close()
            socket_path.unlink(missing_ok=True)

    async def _sweep(self) -> None:
        """Stop idle processes on time, and the supervisor itself once no server is connected."""
        last_sweep = time.monotonic()
        while True:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            if self._idle_since is not None and now - self._idle_since > IDLE_EXIT_S:
                self._stop.set()
            if now - last_sweep > SWEEP_EVERY_S:
                self.pool.trim()
                last_sweep = now

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read the server thread's lines as they come, so its leaving is seen at once, even mid-call."""
        self._clients += 1
        self._idle_since = None
        answers: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        running: set[asyncio.Task] = set()
        try:
            while line := await reader.readline():
                message = json.loads(line)
                if "call" in message:
                    while not answers.empty():  # an answer that came after its call ended
                        answers.get_nowait()
                    task = asyncio.get_running_loop().create_task(self._call(message, writer, answers))
                    running.add(task)
                    task.add_done_callback(running.discard)
                elif "answer" in message:
                    answers.put_nowait(message["answer"])
                elif "status" in message:
                    await self._write(writer, {"status": self.pool.status()})
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            answers.put_nowait(None)  # an ask waiting on this thread gets no answer
            self._clients -= 1
            if self._clients == 0:
                self._idle_since = time.monotonic()
            writer.close()

    async def _call(
        self, message: dict[str, Any], writer: asyncio.StreamWriter, answers: asyncio.Queue[dict[str, Any] | None]
    ) -> None:
        async def ask(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
            if kind not in ASKS and kind != "module":
                raise ProcessFailed(f"unknown ask {kind!r}")
            await self._write(writer, {"ask": kind, **fields})
            answer = await answers.get()
            if answer is None:
                raise ConnectionError("the server thread is gone")
            return answer

        try:
            outcome = await self.pool.run(Target.from_json(message["call"]), message["request"], ask)
        except ConnectionError:
            return  # the server thread is gone: nobody waits for this outcome
        except Exception:  # noqa: BLE001 - no FIFO, no fork (a full disk, a missing binary): the call must still end
            traceback.print_exc()  # for the operator, on the server's error log
            outcome = Outcome(ERROR, 500, error="Function worker did not start")
        try:
            await self._write(writer, {"outcome": asdict(outcome)})
        except ConnectionError:
            pass  # the server thread is gone: nobody waits for this outcome

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
        writer.write(json.dumps(message).encode() + b"\n")
        await writer.drain()
