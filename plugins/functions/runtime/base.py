"""What every function runtime takes and gives back, whatever runs the code.

The functions plugin builds a `FunctionSpec` (which code, with which limits) and an
`Invocation` (the request of one call, and how to get its environment, secrets and
feature flags); a runtime answers with an `Outcome`. A runtime is picked by name
(`FLUXBASE_FUNCTIONS_RUNTIME`) among those plugins register, so a deployment can swap
Deno for another sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True)
class Disclosure:
    """What a function sees besides its request: `Deno.env`, and the `secrets` object's layers."""

    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Invocation:
    """One call: the request object of seed 003, `disclose` for its environment and secrets, `flags` for its flags.

    A runtime calls `disclose` when the function first reads `Deno.env` or a secret, at
    most once per call. Most calls read neither: then no secret is read from the
    database, opened, or handed to the function's process. Likewise `flags` (the
    feature flags evaluated for this call's caller, `{key: value}`), when the function
    first touches its `flags` object; its answer is this call's only, never the next's.
    """

    request: dict[str, Any]
    disclose: Callable[[], Disclosure] = Disclosure
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

    def check(self, code: str) -> str | None:
        """The compiler's message when `code` does not compile, else `None`; `RuntimeUnavailable` if it cannot check."""

    def invoke(self, spec: FunctionSpec, invocation: Invocation) -> Outcome:
        """Run one call; never raises for anything the function does."""

    def close(self) -> None:
        """Stop every process the runtime started."""
