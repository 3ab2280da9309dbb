"""`python -m runtime SETTINGS_FILE`, run in `plugins/functions`: the node's runtime supervisor (`supervisor.py`).

Exits at once when another supervisor holds the instance's lock: the first to start serves.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
from pathlib import Path

from .supervisor import Settings, Supervisor


def main(argv: list[str]) -> int:
    os.umask(0o077)  # the socket is only ever the server's: no window before its chmod
    settings = Settings.from_json(Path(argv[0]).read_text())
    lock = os.open(settings.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another supervisor serves this instance
    asyncio.run(Supervisor(settings).serve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
