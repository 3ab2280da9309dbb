"""Fluxbase's built-in feature plugins, one package each."""
