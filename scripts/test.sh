#!/usr/bin/env bash
# Runs every test: the Rust workspace, then every suite in scripts/test.d/ (Python
# package, framework integrations, browser checks) in name order. Run scripts/setup.sh first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo test --workspace
shopt -s nullglob
for suite in "$root"/scripts/test.d/*.sh; do
  echo "test: $(basename "$suite")" >&2
  bash "$suite"
done
