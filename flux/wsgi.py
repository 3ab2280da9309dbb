"""`gunicorn flux.wsgi:app` for deployments that run gunicorn themselves (run `fluxbase db upgrade` first).

Each worker imports it, so each runs `before_serving` (which plugins make safe to run at once).
"""

import sys

from flux.app import create_app

app = create_app()
for lines in app.extensions["flux"].plugins.hook.before_serving(app=app):
    for line in lines or []:
        print(line, file=sys.stderr)  # gunicorn's error log
