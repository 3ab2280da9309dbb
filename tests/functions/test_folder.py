"""Reading a functions folder (seed 003's layout): flat and directory functions, `_shared/`, and what is skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugins.functions.folder import FolderError, read_folder


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_flat_and_directory_functions_and_shared_modules(tmp_path):
    write(
        tmp_path,
        {
            "hello.ts": "flat",
            "complex/index.ts": "entry",
            "complex/helpers.ts": "helpers",
            "complex/lib/types.ts": "types",
            "complex/README.md": "not code",
            "_shared/cors.ts": "cors",
            "_shared/utils/date.ts": "date",
            "_shared/notes.txt": "not code",
        },
    )
    folder = read_folder(tmp_path)
    assert [(f.name, f.code, f.files, f.source) for f in folder.functions] == [
        ("complex", "entry", {"helpers.ts": "helpers", "lib/types.ts": "types"}, "complex/index.ts"),
        ("hello", "flat", {}, "hello.ts"),
    ]
    assert folder.modules == {"_shared/cors.ts": "cors", "_shared/utils/date.ts": "date"}
    assert folder.skipped == []
    assert folder.functions[0].as_sync_item() == {
        "name": "complex",
        "code": "entry",
        "files": {"helpers.ts": "helpers", "lib/types.ts": "types"},
    }


def test_the_flat_file_wins_over_a_directory_and_ts_over_js(tmp_path):
    write(tmp_path, {"hello.ts": "ts", "hello.js": "js", "hello/index.ts": "dir", "other.js": "js only"})
    folder = read_folder(tmp_path)
    assert [(f.name, f.code) for f in folder.functions] == [("hello", "ts"), ("other", "js only")]
    assert folder.skipped == [
        "hello/: the flat file hello.ts (or .js) takes precedence",
        "hello.js: hello.ts takes precedence",
    ]


def test_what_is_not_a_function_is_named_with_why(tmp_path):
    write(tmp_path, {"bad name.ts": "x", "shared.ts": "x", "notes.md": "x", "empty/readme.md": "x", ".git/config": "x"})
    folder = read_folder(tmp_path)
    assert folder.functions == []
    assert folder.skipped == [
        "bad name.ts: 'bad name' is not a function name (letters, digits, '_' and '-')",
        "empty/: a directory function needs an index.ts",
        "notes.md: not a function (a .ts or .js file, or a folder with index.ts)",
        "shared.ts: 'shared' is reserved",
    ]


def test_links_out_of_the_folder_are_not_read(tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text("server file")
    root = write(tmp_path / "functions", {"ok.ts": "ok", "complex/index.ts": "entry"})
    os.symlink(secret, root / "leak.ts")
    os.symlink(secret, root / "complex" / "leak.ts")
    os.symlink(tmp_path, root / "_shared")
    os.symlink(tmp_path, root / "dir")
    folder = read_folder(root)
    assert [(f.name, f.files) for f in folder.functions] == [("complex", {}), ("ok", {})]
    assert folder.modules == {}
    assert "server file" not in repr(folder)
    assert sorted(folder.skipped) == [
        "_shared/: a link to outside the folder",
        "complex/leak.ts: a link to outside the folder",
        "dir/: a link to outside the folder",
        "leak.ts: a link to outside the folder",
    ]


def test_text_that_is_not_utf8_is_skipped(tmp_path):
    (tmp_path / "latin.ts").write_bytes(b"// caf\xe9")
    folder = read_folder(tmp_path)
    assert (folder.functions, folder.skipped) == ([], ["latin.ts: not UTF-8 text"])


@pytest.mark.parametrize("make", [lambda path: None, lambda path: path.write_text("a file")])
def test_a_missing_folder_or_a_file_is_an_error_that_says_what_to_do(tmp_path, make):
    make(tmp_path / "functions")
    with pytest.raises(FolderError, match="is not a folder: create it, or set FLUXBASE_FUNCTIONS_FUNCTIONS_DIR"):
        read_folder(tmp_path / "functions")
