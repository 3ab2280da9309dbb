"""Named registries: plugins register named implementations, configuration picks one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from flux.config import ConfigError

T = TypeVar("T")


def collect_named(kind: str, contributions: Iterable[Iterable[T] | None]) -> dict[str, T]:
    """Merge every plugin's list into one `{name: item}`; two items with one name is an error."""
    registry: dict[str, T] = {}
    for items in contributions:
        for item in items or []:
            name = getattr(item, "name", "")
            if not name:
                raise ConfigError(f"a plugin registered a {kind} without a name: {item!r}")
            if name in registry:
                raise ConfigError(f"two plugins register a {kind} named {name!r}; disable one of them")
            registry[name] = item
    return registry


def pick(kind: str, registry: dict[str, T], name: str, setting: str) -> T:
    """The item called `name`, or a start-up error that lists the known names."""
    if name not in registry:
        known = ", ".join(sorted(registry)) or "none"
        raise ConfigError(f"unknown {kind} {name!r} in {setting}; known: {known}")
    return registry[name]
