#!/usr/bin/env bash
# The Python package: `pip install crates/turnwise-py` into the venv of
# scripts/setup.d/40-python.sh (as a user installs it from a clone; maturin builds the
# extension with the dev profile here, reusing what `cargo test --workspace` compiled),
# then its pytest suite: the core API against the reference vectors and the CLI, the
# environments, and the verl / SkyRL / TRL integrations against the real packages (CPU).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TURNWISE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/turnwise}
export PATH=$cache/venv-py/bin:$PATH
cd "$root"
# the CLI the tests compare with is target/debug/turnwise, built by `cargo test --workspace`
MATURIN_PEP517_ARGS="--profile dev" python -m pip install --no-build-isolation -q crates/turnwise-py
cd crates/turnwise-py
python -m pytest -q -p no:cacheprovider tests
