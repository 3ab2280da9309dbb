"""Health checks for load balancers."""

from __future__ import annotations

from flux.version import __version__


def test_health_reports_ok(client):
    for path in ("/", "/health"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json == {"status": "ok", "database": "ok", "keys": "ok", "version": __version__}


def test_health_is_503_when_database_unreachable(make_app, tmp_path):
    app = make_app(migrated=False, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.json["database"] == "error"
    assert response.json["status"] == "degraded"


def test_health_is_503_when_sqlite_file_cannot_open(make_app, tmp_path):
    app = make_app(migrated=False, DATABASE_URL=f"sqlite:///{tmp_path / 'missing-dir' / 'x.sqlite'}")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.json["database"] == "error"
