"""A functions folder, as seed 003 lays it out: what the server loads and `fluxbase functions deploy` sends.

    functions/
    ├── _shared/cors.ts        shared modules (`_shared/…`, subfolders too)
    ├── hello.ts               a function named `hello` (flat)
    └── complex/index.ts       a function named `complex` (directory), with its other
        complex/helpers.ts     files, which it imports as `./helpers.ts`

A flat file wins over a directory of the same name, and `.ts` over `.js`. Hidden names
(`.git`) and, inside a function or `_shared/`, files that are not modules (a README)
are passed over; any other entry that is not a function is named in `skipped`,
with why, so a typo does not go unnoticed. A link that leads outside the folder is
skipped too: the folder's files end up readable through the API.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.functions.schemas import MAX_CODE_BYTES, MODULE_PATH, NAME, RESERVED_NAME

SHARED = "_shared"
ENTRY_SUFFIXES = (".ts", ".js")  # `.ts` first: it wins
MODULE_SUFFIXES = (".ts", ".js", ".mts", ".mjs", ".tsx", ".jsx")
PASSED_OVER = ("node_modules",)


class FolderError(Exception):
    """The folder cannot be read at all (missing, not a directory, unreadable)."""


@dataclass(frozen=True)
class FolderFunction:
    name: str
    code: str
    files: dict[str, str]
    source: str  # where it was read, relative to the folder: `hello.ts`, `complex/index.ts`

    def as_sync_item(self) -> dict[str, Any]:
        """As `POST /admin/functions/sync` takes it."""
        return {"name": self.name, "code": self.code, "files": self.files}


@dataclass
class FunctionsFolder:
    functions: list[FolderFunction] = field(default_factory=list)
    modules: dict[str, str] = field(default_factory=dict)  # `_shared/cors.ts` → its source
    skipped: list[str] = field(default_factory=list)  # `notes.md: …`, one line each
    unread: list[str] = field(default_factory=list)  # functions the folder has but that could not be read


def _hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name in PASSED_OVER


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a link loop (Python before 3.13 raises RuntimeError): read as outside
        return False


def _printable(text: str) -> str:
    """`text` as JSON and a terminal take it: a file name that is not UTF-8 escaped (it was a 500)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _read(path: Path, root: Path, folder: FunctionsFolder) -> str | None:
    """The file's text, or None (named in `skipped`) when it is a link out of the folder, not a regular
    file (a FIFO would block the read, and the server's start, for ever), too large, not UTF-8, or holds NUL."""
    shown = path.relative_to(root).as_posix()
    if not _inside(path, root):
        folder.skipped.append(f"{shown}: a link to outside the folder")
        return None
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with open(descriptor, "rb") as file:
            found = os.fstat(file.fileno())
            if not stat.S_ISREG(found.st_mode):
                folder.skipped.append(f"{shown}: not a regular file")
                return None
            if found.st_size > MAX_CODE_BYTES:
                folder.skipped.append(f"{shown}: {found.st_size} bytes; at most {MAX_CODE_BYTES} (1 MB)")
                return None
            text = file.read(MAX_CODE_BYTES + 1).decode("utf-8")
    except UnicodeDecodeError:
        folder.skipped.append(f"{shown}: not UTF-8 text")
    except OSError as error:
        folder.skipped.append(f"{shown}: cannot be read ({error.strerror})")
    else:
        if "\x00" not in text:
            return text
        folder.skipped.append(f"{shown}: holds NUL characters (U+0000), which no function may")  # PostgreSQL: a 500
    return None


def _modules_under(directory: Path, base: Path, root: Path, folder: FunctionsFolder) -> dict[str, str]:
    """Every module file under `directory`, by its path relative to `base`."""
    found = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(root)
        if any(_hidden(Path(part)) for part in relative.parts) or path.is_dir():
            continue
        if path.suffix not in MODULE_SUFFIXES:  # a README, a fixture: not code
            continue
        text = _read(path, root, folder)
        if text is not None:
            found[path.relative_to(base).as_posix()] = text
    return found


def _function_name(name: str, shown: str, folder: FunctionsFolder) -> bool:
    if NAME.fullmatch(name) and name != RESERVED_NAME:
        return True
    why = "is reserved" if name == RESERVED_NAME else "is not a function name (letters, digits, '_' and '-')"
    folder.skipped.append(f"{shown}: {name!r} {why}")
    return False


def read_folder(root: Path) -> FunctionsFolder:
    """The functions and shared modules in `root`; `FolderError` when it cannot be read."""
    if not root.is_dir():
        raise FolderError(f"{root} is not a folder: create it, or set FLUXBASE_FUNCTIONS_FUNCTIONS_DIR to one")
    root = root.resolve()
    folder = FunctionsFolder()
    try:
        entries = sorted(root.iterdir())
    except OSError as error:
        raise FolderError(f"{root} cannot be read: {error.strerror}") from None
    flat = {path.stem for path in entries if path.is_file() and path.suffix in ENTRY_SUFFIXES}
    for path in entries:
        shown = path.name + ("/" if path.is_dir() else "")
        if _hidden(path):
            continue
        if path.name == SHARED and path.is_dir():
            if _inside(path, root):
                modules = _modules_under(path, root, root, folder)
                folder.modules.update((name, text) for name, text in modules.items() if MODULE_PATH.fullmatch(name))
                folder.skipped += [f"{name}: not a module path" for name in modules if not MODULE_PATH.fullmatch(name)]
            else:
                folder.skipped.append(f"{shown}: a link to outside the folder")
        elif path.is_file() and path.suffix in ENTRY_SUFFIXES:
            winner = next(suffix for suffix in ENTRY_SUFFIXES if path.with_suffix(suffix).is_file())
            if path.suffix != winner:
                folder.skipped.append(f"{path.name}: {path.stem}{winner} takes precedence")
            elif _function_name(path.stem, path.name, folder):
                code = _read(path, root, folder)
                if code is not None:
                    folder.functions.append(FolderFunction(path.stem, code, {}, path.name))
                else:
                    folder.unread.append(path.stem)
        elif path.is_dir():
            _read_directory(path, root, flat, folder)
        else:
            folder.skipped.append(f"{shown}: not a function (a .ts or .js file, or a folder with index.ts)")
    if not root.is_dir():  # gone while it was read: what it seemed to lack, a reload would delete
        raise FolderError(f"{root} went away while it was read: load it again once it is back")
    folder.functions.sort(key=lambda function: function.name)
    folder.skipped = [_printable(line) for line in folder.skipped]
    return folder


def _read_directory(path: Path, root: Path, flat: set[str], folder: FunctionsFolder) -> None:
    """A directory function: `index.ts` (or `.js`) and its other module files."""
    shown = path.name + "/"
    if path.name in flat:
        folder.skipped.append(f"{shown}: the flat file {path.name}.ts (or .js) takes precedence")
        return
    if not _inside(path, root):
        folder.skipped.append(f"{shown}: a link to outside the folder")
        return
    entry = next((path / f"index{suffix}" for suffix in ENTRY_SUFFIXES if (path / f"index{suffix}").is_file()), None)
    if entry is None:
        folder.skipped.append(f"{shown}: a directory function needs an index.ts")
        if NAME.fullmatch(path.name) and path.name != RESERVED_NAME:  # one stored is kept: its index may be back
            folder.unread.append(path.name)
        return
    if not _function_name(path.name, shown, folder):
        return
    files = _modules_under(path, path, root, folder)
    code = files.pop(entry.name, None)
    if code is not None:
        folder.functions.append(FolderFunction(path.name, code, files, f"{path.name}/{entry.name}"))
    else:
        folder.unread.append(path.name)
