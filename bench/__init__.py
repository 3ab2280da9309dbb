"""Benchmark harness; a package so that gunicorn can import `bench.bare_app`."""
