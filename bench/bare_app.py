"""The baseline: a bare Flask app with one JSON route, served like Fluxbase.

Measured in the same run as the real server, it turns machine-dependent req/s into a
ratio that shows what Fluxbase itself costs per request on top of Flask + gunicorn.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

app = Flask(__name__)


@app.get("/health")
def health() -> Response:
    """The cheapest JSON answer Flask can give: the ceiling Fluxbase's /health is compared to."""
    return jsonify({"status": "ok"})
