"""The one place the Fluxbase version is written."""

__version__ = "0.1.0"
