"""`@fluxbase:` directives in a function's comments, and the settings they and the API decide (seed 003).

A directive is the first thing on a comment line: `// @fluxbase:rate-limit 100/min`,
` * @fluxbase:public false` inside a `/** … */` block, or `/* @fluxbase:… */` on one
line. Text elsewhere (a string that mentions `@fluxbase:`) is code, not a directive.
An unknown directive, a malformed value or a directive given twice is refused with its
line number, so a typo never passes silently for a default.

Each setting has three sources, highest first: a value given to the API, the code's
directive, the default (`CORS_*` server settings for CORS, fixed ones for the rest).
The function row keeps the first two apart (`api_settings`, `annotations`), so new code
changes what its directives decide and never what the API set; what a function does is
`effective`, and `sources` says where each value came from.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from flux.api import ConfigError, error_codes

OWNER = "functions"
ANNOTATION_INVALID = error_codes.register(
    "ANNOTATION_INVALID",
    400,
    "An `@fluxbase:` directive in the function's code is unknown, malformed or repeated; the message names its line.",
    OWNER,
)

API, ANNOTATION, DEFAULT = "api", "annotation", "default"
UNITS = {"min": "minute", "hour": "hour", "day": "day"}  # as people and the `limits` library name them
RATE_LIMIT = re.compile(r"([1-9][0-9]{0,8})/(min|minute|hour|day)")
ORIGIN = re.compile(r"\*|[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s,?#]+/?")
METHOD = re.compile(r"[A-Za-z]{1,20}")
HEADER = re.compile(r"\*|[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")
MAX_AGE_LIMIT = 86400  # a day; browsers cap it lower anyway
MAX_LIST_ITEMS = 50


class AnnotationError(ValueError):
    """A directive that cannot be read; the message starts with its line (`ANNOTATION_INVALID`)."""


# A directive at the start of a comment's line (the comment's text, after a block's leading `*`s).
DIRECTIVE = re.compile(r"[ \t]*[*/!]*[ \t]*@fluxbase:([A-Za-z0-9_-]*)(.*)")
JS_LINE_BREAK = re.compile(r"\r\n|[\n\r\u2028\u2029]")
# After these, a `/` starts a regular expression, not a division.
REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^") | {""}
REGEX_AFTER_WORDS = ("return", "typeof", "case", "do", "else", "in", "of", "void", "yield", "await")


def _flag(text: str) -> bool:
    """`true`/`false`; a directive without a value means `true`."""
    value = text.strip().lower() or "true"
    if value not in ("true", "false"):
        raise ValueError(f"takes true or false, not {text.strip()[:40]!r}")
    return value == "true"


def _items(text: str | list[str], pattern: re.Pattern[str], what: str) -> list[str]:
    items = [item.strip() for item in text.split(",")] if isinstance(text, str) else [str(i).strip() for i in text]
    items = [item for item in items if item]
    if not items:
        raise ValueError(f"needs at least one {what}")
    if len(items) > MAX_LIST_ITEMS:
        raise ValueError(f"takes at most {MAX_LIST_ITEMS} {what}s")
    for item in items:
        if not pattern.fullmatch(item):
            raise ValueError(f"{item[:60]!r} is not a valid {what}")
    return list(dict.fromkeys(items))


def origins(text: str | list[str]) -> list[str]:
    """Origins as browsers send them (`https://app.example.com`: lower case, punycode, no default port), or `*`."""
    return list(dict.fromkeys(_origin(item) for item in _items(text, ORIGIN, "origin (scheme://host[:port])")))


def _origin(text: str) -> str:
    """One origin in the form a browser serialises it; a ValueError for one no browser could send."""
    if text == "*":
        return text
    parts = urlsplit(text)
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ValueError(f"{text[:60]!r} is not an origin: it has more than scheme://host[:port]")
    try:
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise ValueError(f"{text[:60]!r} is not a valid origin (scheme://host[:port])") from None
    if not host or parts.path not in ("", "/"):
        raise ValueError(f"{text[:60]!r} is not a valid origin (scheme://host[:port])")
    scheme = parts.scheme.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def methods(text: str | list[str]) -> list[str]:
    return [item.upper() for item in _items(text, METHOD, "HTTP method")]


def headers(text: str | list[str]) -> list[str]:
    return _items(text, HEADER, "header name")


def max_age(text: str | int) -> int:
    try:
        seconds = int(text.strip() if isinstance(text, str) else text)
    except ValueError:
        raise ValueError(f"takes whole seconds, not {str(text).strip()[:40]!r}") from None
    if not 0 <= seconds <= MAX_AGE_LIMIT:
        raise ValueError(f"takes 0 to {MAX_AGE_LIMIT} seconds")
    return seconds


def rate_limit(text: str) -> str:
    """`N/min`, `N/hour` or `N/day` (`minute` is read as `min`), stored in that short form."""
    match = RATE_LIMIT.fullmatch(text.strip().replace(" ", ""))
    if not match:
        raise ValueError(f"takes N/min, N/hour or N/day (N at least 1), not {text.strip()[:40]!r}")
    count, unit = match.groups()
    return f"{count}/{'min' if unit == 'minute' else unit}"


# Directive → (setting, parser of its text). The API's fields carry the setting's name.
DIRECTIVES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "allow-unauthenticated": ("allow_unauthenticated", _flag),
    "public": ("is_public", _flag),
    "cors-origins": ("cors_origins", origins),
    "cors-methods": ("cors_methods", methods),
    "cors-headers": ("cors_headers", headers),
    "cors-credentials": ("cors_credentials", _flag),
    "cors-max-age": ("cors_max_age", max_age),
    "rate-limit": ("rate_limit", rate_limit),
}
SETTINGS = tuple(setting for setting, _parse in DIRECTIVES.values())
# Defaults that are not server settings; the CORS ones are `CORS_*` (`config.py`).
FIXED_DEFAULTS: dict[str, Any] = {"allow_unauthenticated": False, "is_public": True, "rate_limit": None}
CONFIG_DEFAULTS = {
    "cors_origins": "CORS_ALLOWED_ORIGINS",
    "cors_methods": "CORS_ALLOWED_METHODS",
    "cors_headers": "CORS_ALLOWED_HEADERS",
    "cors_credentials": "CORS_ALLOW_CREDENTIALS",
    "cors_max_age": "CORS_MAX_AGE",
}


def comments(code: str) -> Iterator[tuple[int, str]]:
    """Each comment of the code, with the line it starts on; strings, templates and regular expressions skipped.

    Written by hand: a directive must come from a comment, never from a string that
    mentions one (a template of another function's source, say), and no library reads
    JavaScript's comments in Python. Lines end where JavaScript's do (not at a form
    feed or U+0085, as Python's `splitlines` would have it).
    """
    breaks = [match.end() for match in JS_LINE_BREAK.finditer(code)]
    index, length, previous = 0, len(code), ""
    templates: list[int] = []  # per template expression being read (`${ … }`), its open braces
    while index < length:
        char, pair = code[index], code[index : index + 2]
        if pair == "//":
            end = _line_end(code, index)
            yield bisect.bisect_right(breaks, index) + 1, code[index + 2 : end]
            index = end
        elif pair == "/*":
            end = code.find("*/", index + 2)
            end = length if end < 0 else end
            yield bisect.bisect_right(breaks, index) + 1, code[index + 2 : end]
            index = end + 2
        elif char in "'\"":
            index, previous = _skip_string(code, index), char
        elif char == "`" or (char == "}" and templates and templates[-1] == 0):
            if char == "}":
                templates.pop()
            index = _skip_template(code, index + 1, templates)
            previous = "`"
        elif char == "/" and (
            previous in REGEX_AFTER or code[max(0, index - 12) : index].rstrip().endswith(REGEX_AFTER_WORDS)
        ):
            index, previous = _skip_regex(code, index), "/"
        else:
            if templates and char in "{}":
                templates[-1] += 1 if char == "{" else -1
            if not char.isspace():
                previous = char
            index += 1


def _line_end(code: str, index: int) -> int:
    found = JS_LINE_BREAK.search(code, index)
    return found.start() if found else len(code)


def _skip_string(code: str, index: int) -> int:
    """Past the quoted string starting at `index` (or its line's end, for one left open)."""
    quote, index = code[index], index + 1
    while index < len(code) and code[index] != quote:
        if code[index] == "\\":
            index += 1
        elif JS_LINE_BREAK.match(code, index):
            return index
        index += 1
    return index + 1


def _skip_template(code: str, index: int, templates: list[int]) -> int:
    """Past a template literal's text from `index`: to its end, or into a `${` expression (pushed)."""
    while index < len(code):
        if code[index] == "\\":
            index += 2
        elif code[index] == "`":
            return index + 1
        elif code.startswith("${", index):
            templates.append(0)
            return index + 2
        else:
            index += 1
    return index


def _skip_regex(code: str, index: int) -> int:
    """Past the regular expression literal starting at `index`, classes (`[/]`) included."""
    index, in_class = index + 1, False
    while index < len(code) and not JS_LINE_BREAK.match(code, index):
        char = code[index]
        if char == "\\":
            index += 1
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "/" and not in_class:
            return index + 1
        index += 1
    return index


def read(code: str) -> dict[str, Any]:
    """The settings the code's directives give; `AnnotationError` naming the line of a bad one.

    A directive starts a line of a comment (after the comment's `//`, `/*` or a block's
    leading `*`); several one-line comments on a line each hold one.
    """
    found: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for first_line, text in comments(code):
        for offset, line in enumerate(JS_LINE_BREAK.split(text)):
            match = DIRECTIVE.match(line)
            if match:
                _take(found, seen, first_line + offset, match.group(1), match.group(2))
    return found


def _take(found: dict[str, Any], seen: dict[str, int], number: int, name: str, text: str) -> None:
    if name not in DIRECTIVES:
        known = ", ".join(sorted(DIRECTIVES))
        raise AnnotationError(f"line {number}: unknown directive @fluxbase:{name[:40]}; known: {known}")
    if name in seen:
        raise AnnotationError(f"line {number}: @fluxbase:{name} is already given on line {seen[name]}")
    setting, parse = DIRECTIVES[name]
    try:
        found[setting] = parse(text)
    except ValueError as error:
        raise AnnotationError(f"line {number}: @fluxbase:{name} {error}") from None
    seen[name] = number


def check_defaults(config: dict[str, Any]) -> None:
    """The `CORS_*` defaults read as the directives are (normalised in place); a bad one stops start-up."""
    parsers = dict(DIRECTIVES.values())
    for setting, name in CONFIG_DEFAULTS.items():
        value = config[name]
        flag = setting == "cors_credentials"
        if isinstance(value, bool) != flag or not isinstance(value, (bool, int, str, list)):
            wanted = "true or false" if flag else "a number of seconds" if setting == "cors_max_age" else "a list"
            raise ConfigError(f"FLUXBASE_{name} must be {wanted}, not {value!r}")
        if flag:
            continue
        try:
            config[name] = parsers[setting](value)
        except ValueError as error:
            raise ConfigError(f"FLUXBASE_{name}: {error}") from None


def default(setting: str) -> Any:
    if setting in CONFIG_DEFAULTS:
        return current_app.config[CONFIG_DEFAULTS[setting]]
    return FIXED_DEFAULTS[setting]


def resolved(api: Mapping[str, Any] | None, directives: Mapping[str, Any] | None) -> dict[str, tuple[Any, str]]:
    """Each setting's value and its source: the API's, else the code's directive, else the default."""
    api, directives = api or {}, directives or {}
    answer = {}
    for setting in SETTINGS:
        if setting in api:
            answer[setting] = (api[setting], API)
        elif setting in directives:
            answer[setting] = (directives[setting], ANNOTATION)
        else:
            answer[setting] = (default(setting), DEFAULT)
    return answer


def defaults() -> dict[str, Any]:
    """What a function with neither API values nor directives does."""
    return {setting: value for setting, (value, _source) in resolved({}, {}).items()}


def effective(row: Any) -> dict[str, Any]:
    """What the function does: each setting's winning value (`row` is the model or a row of its columns)."""
    return {setting: value for setting, (value, _source) in resolved(row.api_settings, row.annotations).items()}


def sources(row: Any) -> dict[str, str]:
    return {setting: source for setting, (_value, source) in resolved(row.api_settings, row.annotations).items()}


def describe(limit: str) -> str:
    """`100/min` → `100 requests per minute`."""
    count, unit = limit.split("/")
    return f"{count} {'request' if count == '1' else 'requests'} per {UNITS[unit]}"
