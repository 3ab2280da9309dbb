"""Where in a function's code a refusal points: the lines the dashboard's editor marks.

Deno's type-check names each diagnostic's place as `at function.ts:LINE:COLUMN` (the
function is checked as `function.ts`, its shared modules as `_shared/…`), and an
`@fluxbase:` directive's refusal starts with `line N:` (`directives.py`). Both are read
off the message the API gives, so the page and the API word a refusal alike; a
diagnostic of a shared module names no line of the function's code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIAGNOSTIC_START = re.compile(r"^(?=TS\d+ \[)", re.MULTILINE)
CHECKED_AT = re.compile(r"(?<![\w/.-])function\.ts:(\d+):(\d+)")
DIRECTIVE_AT = re.compile(r"^(?:code: )?line (\d+): ")


@dataclass(frozen=True)
class Problem:
    """One diagnostic that names a place in the function's code: that place and the diagnostic's first line."""

    line: int
    column: int | None
    text: str

    @property
    def place(self) -> str:
        return f"Line {self.line}" + (f", column {self.column}" if self.column else "")


def located(message: str) -> list[Problem]:
    """The diagnostics of a refusal's message that name a line of the function's code, in the message's order."""
    found = []
    for block in DIAGNOSTIC_START.split(message):
        text = " ".join(next((line for line in block.splitlines() if line.strip()), "").split())
        directive = DIRECTIVE_AT.match(text)
        checked = CHECKED_AT.search(block)
        if directive:
            found.append(Problem(int(directive.group(1)), None, text[directive.end() :]))
        elif checked:
            found.append(Problem(int(checked.group(1)), int(checked.group(2)), text))
    return found


def marked_lines(found: list[Problem]) -> list[int]:
    """The lines the editor's gutter marks, in order."""
    return sorted({problem.line for problem in found})


@dataclass(frozen=True)
class EditorText:
    """What a code editor shows: the text, and the refusal under it with the lines it marks."""

    text: str
    problem: str | None = None

    @property
    def problems(self) -> list[Problem]:
        return located(self.problem or "")

    @property
    def marked(self) -> list[int]:
        return marked_lines(self.problems)

    @property
    def line_count(self) -> int:
        return self.text.count("\n") + 1
