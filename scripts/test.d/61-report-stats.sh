#!/usr/bin/env bash
# turnwise-report's statistics fixture (tests/fixtures/stats_scipy.json, which the Rust
# tests compare against) re-derived with scipy / numpy: fails if it drifted.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/.venv/bin/python" "$root/scripts/make_stats_fixtures.py" --check
