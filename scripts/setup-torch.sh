#!/usr/bin/env bash
# Installs libtorch (the PyPI wheel torch==2.11.0, matching tch 0.24) and the Python
# packages the tests use (transformers, numpy, safetensors) into a per-user cache venv,
# then links it into the project as `.torch` (read by .cargo/config.toml).
# Idempotent: a second run only checks and re-links.
set -euo pipefail
TORCH_VERSION=2.11.0
TRANSFORMERS_VERSION=4.57.6
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${TURNWISE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/turnwise/venv-torch-$TORCH_VERSION}
py=$venv/bin/python
if ! "$py" -c "import torch, transformers, numpy, safetensors; assert torch.__version__.split('+')[0] == '$TORCH_VERSION'" 2>/dev/null; then
  echo "setup-torch: installing torch==$TORCH_VERSION into $venv (about 4.7 GB, once)" >&2
  python3 -m venv "$venv"
  "$py" -m pip install -q --upgrade pip
  "$py" -m pip install -q "torch==$TORCH_VERSION" "transformers==$TRANSFORMERS_VERSION" numpy safetensors
fi
torch_dir=$("$py" -c "import torch, os; print(os.path.dirname(torch.__file__))")
ln -sfn "$torch_dir" "$root/.torch"
ln -sfn "$venv" "$root/.venv"
echo "setup-torch: libtorch at $torch_dir (linked as $root/.torch)" >&2
