#!/usr/bin/env bash
# One command for the benchmarks: make sure the venv and wrk exist, then run bench/run.py
# and the in-process benchmarks. Extra arguments go to run.py, e.g. `bash bench/run.sh --quick`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/fluxbase ] || ! .venv/bin/python -c 'import requests' 2>/dev/null; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -e '.[bench]'
fi

if ! command -v wrk >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y wrk || { $sudo apt-get update && $sudo apt-get install -y wrk; }
fi

# The HTTP benchmark, then the in-process ones; the worst exit status wins.
status=0
.venv/bin/python bench/run.py "$@" || status=$?
for script in secrets_runtime secrets_by_name functions_runtime functions_scale bundle_invoke postgres flags flag_evaluation; do
    rc=0
    .venv/bin/python "bench/$script.py" || rc=$?
    if [ "$rc" -gt "$status" ]; then status=$rc; fi
done
exit "$status"
