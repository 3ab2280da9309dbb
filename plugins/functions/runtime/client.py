"""A server thread's side of the runtime supervisor (`supervisor.py`): start it if none runs, call through it.

Each thread keeps one connection (a call at a time, as a thread makes them) and
answers the supervisor's asks for the call it made: the module file, the caller's
environment and secrets, its feature flags. Those need the request's context (the
database session, the caller), which only this thread has.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plugins.functions.runtime.base import ERROR, Invocation, Outcome
from plugins.functions.runtime.process import START_TIMEOUT_S, Target
from plugins.functions.runtime.supervisor import MAX_LINE_BYTES, Settings, socket_address

# The supervisor imports this package alone, as `runtime`, from the plugin's folder: none of the server.
PLUGIN_FOLDER = Path(__file__).resolve().parents[1]
CONNECT_TIMEOUT_S = 10.0
RESTART_AFTER_S = 0.2  # a supervisor that exited at once (the lock was taken) is started again this often
ANSWER_MARGIN_S = START_TIMEOUT_S + 10  # beyond a call's own timeout, before the supervisor counts as hung
UNAVAILABLE = "The functions runtime stopped during this call; retry it"


def line_of(message: dict[str, Any]) -> bytes:
    """One JSON line, UTF-8 as is: escaped to ASCII, accented text would take three times its size."""
    try:
        return json.dumps(message, ensure_ascii=False).encode() + b"\n"
    except UnicodeEncodeError:  # a lone surrogate: only its escape is valid JSON text
        return json.dumps(message).encode() + b"\n"


class SupervisorGone(Exception):
    """The connection ended before the call's outcome arrived."""


class Connection:
    """One thread's connection to the supervisor."""

    def __init__(self, path: str) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.socket.connect(socket_address(path))
        except OSError:
            self.socket.close()
            raise
        self.reader = self.socket.makefile("rb")

    def stale(self) -> bool:
        """Whether the supervisor closed this connection (it stopped since the last call)."""
        readable, _, _ = select.select([self.socket], [], [], 0)
        return bool(readable)

    def send(self, message: dict[str, Any] | bytes) -> None:
        try:
            self.socket.sendall(message if isinstance(message, bytes) else line_of(message))
        except OSError:
            raise SupervisorGone() from None

    def receive(self, timeout: float) -> dict[str, Any]:
        self.socket.settimeout(timeout)
        try:
            line = self.reader.readline()
        except OSError:  # a timeout included: the supervisor hangs
            raise SupervisorGone() from None
        if not line:
            raise SupervisorGone()
        return json.loads(line)

    def close(self) -> None:
        self.reader.close()
        self.socket.close()


class SupervisorClient:
    """Calls through the instance's supervisor, starting it when none answers."""

    def __init__(self, settings: Settings, settings_file: Path) -> None:
        self.settings = settings
        self.settings_file = settings_file
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()

    def call(self, target: Target, invocation: Invocation, module: Callable[[], Path]) -> Outcome:
        """Run one call; a supervisor that stops meanwhile fails it with a 503 (it is not run twice)."""
        error: BaseException | None = None
        connection = None
        line = line_of({"call": target.as_json(), "request": invocation.request})
        if len(line) > MAX_LINE_BYTES:
            error = f"The request is {len(line)} bytes; the functions runtime takes {MAX_LINE_BYTES}"
            return Outcome(ERROR, 413, error=error)
        try:
            connection = self._connection()
            connection.send(line)
            while True:
                message = connection.receive(target.timeout_seconds + ANSWER_MARGIN_S)
                if "outcome" in message:
                    break
                try:
                    answer = self._answer(message.pop("ask"), message, invocation, module)
                except Exception as failure:  # noqa: BLE001 - answered, so the call goes on; raised once it ends
                    error = error or failure
                    answer = {"error": "The server could not answer this read"}
                connection.send({"answer": answer})
        except SupervisorGone:
            if connection is not None:
                self._drop(connection)
            return Outcome(ERROR, 503, error=UNAVAILABLE)
        except BaseException:
            # Left mid-call (an exception no answer catches): the call's later asks and outcome
            # would come to this thread's next call, which would answer them and take them for its own.
            if connection is not None:
                self._drop(connection)
            raise
        if error is not None:
            raise error
        return Outcome(**message["outcome"])

    @staticmethod
    def _answer(
        kind: str, fields: dict[str, Any], invocation: Invocation, module: Callable[[], Path]
    ) -> dict[str, Any]:
        """The answer to one ask (protocol in `worker.js`; `module` is the supervisor's own)."""
        if kind == "module":
            return {"module": str(module())}
        if kind == "flags":
            return {"flags": invocation.flags()}
        if kind == "env_all":
            return {"env": invocation.env_all()}
        name = fields.get("name")
        if not isinstance(name, str):
            return {"error": "A read without a name"}
        if "\0" in name:  # no secret or variable has one, and PostgreSQL fails the read (the call was a 500)
            return {}
        if kind == "secret":
            return invocation.secret(name)
        value = invocation.env(name)
        return {} if value is None else {"value": value}

    def status(self) -> dict[str, Any]:
        """The supervisor's processes (`Pool.status`)."""
        connection = self._connection()
        try:
            connection.send({"status": True})
            return connection.receive(CONNECT_TIMEOUT_S)["status"]
        except SupervisorGone:
            self._drop(connection)
            raise

    def _connection(self) -> Connection:
        connection = getattr(self._local, "connection", None)
        if connection is not None and connection.stale():
            self._drop(connection)
            connection = None
        if connection is None:
            connection = self._local.connection = self._connect()
            with self._lock:
                self._connections.append(connection)
        return connection

    def _connect(self) -> Connection:
        """A connection to the supervisor, started here if none listens (one wins the lock; the rest exit)."""
        try:
            return Connection(self.settings.socket)
        except OSError:
            supervisor = self._start()
        started = time.monotonic()
        deadline = started + CONNECT_TIMEOUT_S
        while True:
            try:
                return Connection(self.settings.socket)
            except OSError:
                if time.monotonic() > deadline:
                    raise SupervisorGone() from None
                if supervisor.returncode is not None and time.monotonic() - started > RESTART_AFTER_S:
                    # It exited without serving: another held the lock, one that was stopping
                    # (its socket already gone). Once that one is gone, this one serves.
                    supervisor, started = self._start(), time.monotonic()
                time.sleep(0.01)

    def _start(self) -> subprocess.Popen:
        partial = self.settings_file.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        partial.write_text(self.settings.as_json())
        partial.replace(self.settings_file)
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime", str(self.settings_file)],
            stdin=subprocess.DEVNULL,
            cwd=PLUGIN_FOLDER,
            env={"PATH": os.environ.get("PATH", "")},  # none of the server's variables, so none of its secrets
        )
        threading.Thread(target=process.wait, name="supervisor-reaper", daemon=True).start()
        return process

    def _drop(self, connection: Connection) -> None:
        connection.close()
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)

    def close(self) -> None:
        """Close this server's connections: the supervisor stops once no server is connected."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
