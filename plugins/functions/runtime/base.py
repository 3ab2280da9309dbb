"""What every function runtime takes and gives back, whatever runs the code.

The functions plugin builds a `FunctionSpec` (which code, with which limits) and an
`Invocation` (the request of one call, and how to ask for its environment, secrets
and feature flags); a runtime answers with an `Outcome`. A runtime is picked by name
(`FLUXBASE_FUNCTIONS_RUNTIME`) among those plugins register, so a deployment can swap
Deno for another sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

SUCCESS, ERROR, TIMEOUT = "success", "error", "timeout"


class RuntimeUnavailable(Exception):
    """The runtime cannot run code safely on this host (a sandbox tool is missing); tells the operator what to do."""


@dataclass(frozen=True)
class Permissions:
    """What a function may reach besides its own code; everything is off unless granted."""

    net: bool = False
    env: bool = False
    read: bool = False
    write: bool = False

    def as_json(self) -> dict[str, bool]:
        return {"net": self.net, "env": self.env, "read": self.read, "write": self.write}


@dataclass(frozen=True)
class FunctionSpec:
    """One version of one function, as a runtime runs it."""

    function_id: str
    version: int
    code: str
    timeout_seconds: int
    memory_mb: int
    permissions: Permissions
    isolation: str = "warm"
    # The code with what it imports, when it imports anything (`bundler.py`): its sha256
    # (hex), and how to read it. A bundle may be megabytes, so a call reads only the digest,
    # and a runtime reads the bundle (`bundle`) when it has no module of that digest yet.
    bundle_digest: str | None = None
    read_bundle: Callable[[], str | None] = field(default=lambda: None, repr=False, compare=False)

    @property
    def bundle(self) -> str | None:
        return None if self.bundle_digest is None else self.read_bundle()


def _absent(name: str) -> None:
    return None


def _no_secret(name: str) -> dict[str, str]:
    return {}


@dataclass
class Invocation:
    """One call: the request object of seed 003, and how to ask for what it reads besides.

    A runtime asks only when the function reads, once per name per call, so a call pays
    for what it reads, not for how many secrets exist; most calls read nothing, and then
    no secret is read from the database, opened, or handed to the function's process.
    `secret(name)` is `name` in the `secrets` object's layers (`{"user": v, "system": v,
    "function": v}`, absent layers left out; the runtime resolves user, then system, then
    function); `env(name)` is `Deno.env.get(name)` (`None` when unset); `env_all()` is
    `Deno.env.toObject()`, the one read that gathers every variable; `flags()` is the
    feature flags evaluated for this call's caller (`{key: value}`), when the function
    first touches its `flags` object. Every answer is this call's only, never the next's.
    """

    request: dict[str, Any]
    secret: Callable[[str], dict[str, str]] = _no_secret
    env: Callable[[str], str | None] = _absent
    env_all: Callable[[], dict[str, str]] = dict
    flags: Callable[[], dict[str, Any]] = dict


@dataclass
class Outcome:
    """How a call ended: `response` for the caller on success; `error` (and `stack`) otherwise."""

    status: str
    http_status: int
    response: dict[str, Any] | None = None
    error: str | None = None
    stack: str | None = None
    logs: list[dict[str, str]] = field(default_factory=list)
    logs_truncated: bool = False
    thrown: bool = False  # the handler threw: the caller gets seed 003's "Function error" with its message


class FunctionRuntime(Protocol):
    """A named backend that runs function code in a sandbox."""

    name: str

    def check(self, code: str, modules: Mapping[str, str] | None = None) -> str | None:
        """The compiler's message when `code` does not compile, else `None`; `RuntimeUnavailable` if it cannot check.

        `modules` are the shared modules the code may import, by path (`_shared/cors.ts`),
        and its own files (`helpers.ts`, imported as `./helpers.ts`).
        """

    def bundle(self, code: str, modules: Mapping[str, str]) -> Any:
        """`code` with the `modules` it imports as one module (`.code`), or why not (`.error`)."""

    def invoke(self, spec: FunctionSpec, invocation: Invocation) -> Outcome:
        """Run one call; never raises for anything the function does."""

    def close(self) -> None:
        """Stop every process the runtime started."""
