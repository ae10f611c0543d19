#!/usr/bin/env bash
# The Python package's test environment: a venv at $TURNWISE_CACHE/venv-py that reuses the
# torch wheel of scripts/setup-torch.sh through a .pth file (no second torch download) and
# adds maturin, pytest and the frameworks the integration tests run against, CPU only:
# verl 0.9.1, trl 1.16.0, SkyRL 0.3.0 (the last release for Python 3.11; 0.4.0 needs 3.12)
# with skyrl-gym 0.4.0, jaxtyping and loguru (what SkyRL's ppo_utils imports; its
# `skyrl-train` extra is left out: it pins flash-attn, which builds only against CUDA).
# TransferQueue 0.1.11: verl's v1 trainer stores agent-loop fields there (its `verl-core`
# extra, which a plain `pip install verl` leaves out; the verl tests import it). No vllm, no
# GPU extras. Packages the venv installs itself (transformers 5.8 for SkyRL's
# pin, …) shadow the torch venv's. Idempotent: a second run only checks.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TURNWISE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/turnwise}
venv=$cache/venv-py
py=$venv/bin/python
pins=(verl==0.9.1 trl==1.16.0 skyrl==0.3.0 skyrl-gym==0.4.0 jaxtyping==0.3.11 loguru==0.7.3
  cachetools==8.0.2 uvicorn==0.54.0 fastapi==0.165.0 maturin==1.16.0 pytest==9.2.0
  TransferQueue==0.1.11)
stamp=$venv/.turnwise-pins
want="${pins[*]}"
# the torch venv's real site-packages (not through this checkout's .venv link: the venv
# outlives the checkout, and other clones share it)
torch_site=$("$root/.venv/bin/python" -c "import os, site; print(os.path.realpath(site.getsitepackages()[0]))")
pth=$("$py" -c "import site; print(site.getsitepackages()[0])" 2>/dev/null)/turnwise-torch.pth || true
if [[ -x $py && -f $stamp && $(cat "$stamp") == "$want" && -f $pth && $(cat "$pth") == "$torch_site" ]] &&
  "$py" -c "import torch, verl, trl, skyrl, numpy, pytest, transfer_queue" 2>/dev/null; then
  echo "setup-python: $venv ready" >&2
  exit 0
fi
python3 -m venv "$venv"
site=$("$py" -c "import site; print(site.getsitepackages()[0])")
echo "$torch_site" >"$site/turnwise-torch.pth"
"$py" -c "import torch" # the torch venv is reachable
start=$(date +%s)
"$py" -m pip install -q --upgrade pip
PIP_CACHE_DIR=${PIP_CACHE_DIR:-$cache/pip} "$py" -m pip install -q "${pins[@]}"
echo "$want" >"$stamp"
echo "setup-python: installed into $venv in $(($(date +%s) - start)) s" >&2
