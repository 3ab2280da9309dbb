"""The functions plugin's settings and their defaults (`register_config_defaults`).

Every name can be set in the instance's `config.py` or as `FLUXBASE_<NAME>`.
"""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    # Which runtime, default and largest limits, and the warm pool.
    "FUNCTIONS_RUNTIME": "deno",
    # Deno's cache (transpiled code, type-check results); empty means <instance>/functions/deno_dir.
    "FUNCTIONS_DENO_DIR": "",
    "FUNCTIONS_DEFAULT_TIMEOUT_SECONDS": 60,
    "FUNCTIONS_MAX_TIMEOUT_SECONDS": 300,
    "FUNCTIONS_DEFAULT_MEMORY_MB": 128,
    "FUNCTIONS_MAX_MEMORY_MB": 1024,
    # The warm pool is one per node (the runtime supervisor): idle processes kept in all,
    # processes per function version, and calls one process serves at once.
    "FUNCTIONS_MAX_WARM_WORKERS": 16,
    "FUNCTIONS_WORKERS_PER_FUNCTION": 4,
    "FUNCTIONS_WORKER_CONCURRENCY": 16,
    "FUNCTIONS_WORKER_IDLE_SECONDS": 300,
    "FUNCTIONS_WORKER_MAX_CALLS": 1000,
    # Server variables a function's Deno.env shows besides the defaults (comma-separated FLUXBASE_* names).
    "FUNCTIONS_ALLOWED_ENV": [],
    # Content-Security-Policy of every invoke response; empty when functions have an origin of their own.
    "FUNCTIONS_RESPONSE_CSP": "sandbox",
    # Execution records kept per function: younger than DAYS and the newest MAX_ROWS (0: no
    # such limit), pruned on a function's first call per server process and every PRUNE_EVERY-th.
    "FUNCTIONS_EXECUTION_RETENTION_DAYS": 7,
    "FUNCTIONS_EXECUTION_RETENTION_MAX_ROWS": 1000,
    "FUNCTIONS_EXECUTION_PRUNE_EVERY": 100,
    # A folder of functions (`hello.ts`, `complex/index.ts`, `_shared/…`) loaded into the default
    # tenant when the server starts (create and update only) and on `POST /admin/functions/reload`.
    "FUNCTIONS_FUNCTIONS_DIR": "",
    "FUNCTIONS_AUTO_LOAD_ON_BOOT": True,
    # CORS of invoke routes where neither the API nor the code's `@fluxbase:cors-*` directives say
    # (`directives.py`); comma-separated lists, `*` for any origin or header.
    "CORS_ALLOWED_ORIGINS": ["*"],
    "CORS_ALLOWED_METHODS": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    "CORS_ALLOWED_HEADERS": [
        "Authorization",
        "Content-Type",
        "apikey",
        "X-Client-Info",
        "X-FB-Tenant",
        "X-Service-Key",
    ],
    "CORS_ALLOW_CREDENTIALS": False,
    "CORS_MAX_AGE": 3600,
}
