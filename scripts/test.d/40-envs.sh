#!/usr/bin/env bash
# OpenEnv servers and clients with OpenEnv's own Python client (issue 12):
# python/tests/test_envs_servers.py in the envs venv (scripts/setup.d/40-envs.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TURNWISE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/turnwise}
cd "$root"
cargo build -q -p turnwise-cli
"$cache/venv-envs/bin/python" -m pytest -q python/tests/test_envs_servers.py
