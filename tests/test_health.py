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
    for path in ("/", "/health"):
        response = app.test_client().get(path)
        assert response.status_code == 503
        assert response.json == {"status": "degraded", "database": "error", "keys": "unknown", "version": __version__}


def test_the_document_declares_both_answers_of_both_paths(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/", "/health"):
        answers = paths[path]["get"]["responses"]
        assert {"200", "503"} <= set(answers), path
        for status in ("200", "503"):
            assert answers[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Health"}
        assert "security" not in paths[path]["get"]


def test_health_is_503_when_sqlite_file_cannot_open(make_app, tmp_path):
    app = make_app(migrated=False, DATABASE_URL=f"sqlite:///{tmp_path / 'missing-dir' / 'x.sqlite'}")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.json["database"] == "error"


def test_health_of_a_database_not_migrated_yet_is_ok_with_nothing_to_check(make_app):
    """The canary's table is missing: the database still answers, and there is no canary to open."""
    app = make_app(migrated=False)
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "keys": "ok", "version": __version__}
