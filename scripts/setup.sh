#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine: libtorch and the Python oracle
# packages (scripts/setup-torch.sh), then every step in scripts/setup.d/ in name order
# (model package, Python test dependencies, system packages). Idempotent: a second run
# only checks. Each step reads $TURNWISE_CACHE (default: the per-user cache).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export TURNWISE_CACHE=${TURNWISE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/turnwise}
"$root/scripts/setup-torch.sh"
shopt -s nullglob
for step in "$root"/scripts/setup.d/*.sh; do
  echo "setup: $(basename "$step")" >&2
  bash "$step"
done
