"""Named registries: plugins register named implementations, configuration picks one."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

from flux.config import ConfigError

T = TypeVar("T")


NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def collect_named(kind: str, contributions: Iterable[Iterable[T] | None]) -> dict[str, T]:
    """Merge every plugin's list into one `{name: item}`; two items with one name is an error.

    Names are short lowercase words with dashes: they appear in configuration and, for
    ciphers, inside every stored ciphertext (`fx1:<cipher>:…`), where `:` would break it.
    """
    registry: dict[str, T] = {}
    for items in contributions:
        for item in items or []:
            name = getattr(item, "name", "")
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                raise ConfigError(
                    f"a plugin registered a {kind} named {name!r}; names are 1-32 of a-z, 0-9 and '-': {item!r}"
                )
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
