"""Rate limits shared through the local Redis (127.0.0.1:6379) by two app instances, as two nodes would."""

from __future__ import annotations

import sys
import uuid
from importlib.metadata import metadata

import pytest

from flux.cli import cli

REDIS_URL = "redis://127.0.0.1:6379"
SIGNIN = "/api/v1/auth/signin"


@pytest.fixture
def redis_url() -> str:
    """The local Redis (scripts/ensure-redis starts it); skipped only when none can be had."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")
    return REDIS_URL


def two_nodes(make_app, storage_url: str):
    config = {
        "RATE_LIMIT_STORAGE_URL": storage_url,
        "AUTH_SIGNIN_LIMIT_PER_EMAIL": "4/minute",
        "AUTH_SIGNIN_LIMIT_PER_IP": "1000/minute",
        # The lockout is kept in the database, shared by every node anyway.
        "SETTINGS_AUTHENTICATION_LOCKOUT_MAX_ATTEMPTS": 100,
    }
    return make_app(**config).test_client(), make_app(migrated=False, **config).test_client()


def failed_signins(nodes, count: int) -> list[int]:
    """`count` wrong sign-ins for one unknown e-mail, alternating between the nodes; their statuses."""
    body = {"email": f"{uuid.uuid4().hex}@example.com", "password": "wrong password"}
    return [nodes[attempt % 2].post(SIGNIN, json=body).status_code for attempt in range(count)]


def test_two_nodes_share_the_limit_through_redis(make_app, redis_url):
    assert failed_signins(two_nodes(make_app, redis_url), 6) == [401, 401, 401, 401, 429, 429]


def test_with_memory_each_node_counts_alone(make_app):
    """Why the README asks for Redis with several workers or nodes: each lets the whole limit through."""
    assert failed_signins(two_nodes(make_app, "memory://"), 8) == [401] * 8


def test_a_redis_url_without_the_package_names_the_extra(make_app, monkeypatch):
    app = make_app(migrated=False)
    monkeypatch.setitem(sys.modules, "redis", None)  # a plain install: `import redis` fails
    monkeypatch.setenv("FLUXBASE_RATE_LIMIT_STORAGE_URL", REDIS_URL)
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    result = app.test_cli_runner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "pip install 'fluxbase[redis]'" in result.output


def test_the_redis_extra_brings_the_client():
    required = metadata("fluxbase").get_all("Requires-Dist")
    assert any(line.startswith("redis") and 'extra == "redis"' in line for line in required)
