"""gunicorn, embedded: `fluxbase serve` runs it in-process with our options."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):
    """Each worker builds its own app after the fork, so no database connection is shared."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from flux.app import create_app

        return create_app()
