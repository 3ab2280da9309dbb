"""`gunicorn flux.wsgi:app` for deployments that run gunicorn themselves (run `fluxbase db upgrade` first)."""

from flux.app import create_app

app = create_app()
