"""Fluxbase: a self-hosted backend server built from a small Flask core and pluggy plugins."""

from flux.app import create_app, flux_state
from flux.hookspecs import hookimpl
from flux.version import __version__

__all__ = ["__version__", "create_app", "flux_state", "hookimpl"]
