#!/usr/bin/env bash
# Issue 12's short `turnwise train` runs on the environments served over OpenEnv
# (docs/environments.md, "Training runs"): tools/kbqa through `turnwise env serve` and the
# `openenv` client, then the hosted TextWorld cooking and Text-Nav games and ScienceWorld
# (python/servers, started by turnwise). One run at a time; each prints its metrics per
# RL step, its evaluation and its CPU seconds. Sized for a shared 2-core machine (a few
# minutes each): 20 SFT steps of batch 8 on a few expert demonstrations, then STEPS RL steps;
# they show the pipeline end to end, not learning.
# Usage: scripts/envs_train_runs.sh [OUT_DIR] [RUN...]   (RUN: openenv cooking textworld
#        scienceworld; all by default; TURNWISE_BIN, STEPS, PORT to override)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${TURNWISE_BIN:-$root/target/release/turnwise}
out=${1:-$root/runs/envs}
shift || true
runs=${*:-openenv cooking textworld scienceworld}
steps=${STEPS:-3}
port=${PORT:-18766}
# The Python servers of this checkout (a binary built elsewhere would start its own tree's).
export TURNWISE_SERVERS=${TURNWISE_SERVERS:-$root/python/servers}
mkdir -p "$out"

summary() {
  grep -o '"step":[0-9]*\|"return":[-0-9.e]*\|"success":[0-9.e]*\|"failed_episodes":[0-9]*\|"rollout_s":[0-9.]*\|"step_s":[0-9.]*' \
    "$1/metrics.jsonl" | paste -sd' ' | sed 's/"step":/\nstep /g' | sed 's/"//g'
  echo
}

train() { # NAME CONFIG ARGS...
  local name=$1 cfg=$2
  shift 2
  echo "== $name ($(date -u +%T), $(uptime | sed 's/.*load/load/'))"
  /usr/bin/time -f "$name: exit %x, %e s wall, %U s user + %S s sys (turnwise process)" \
    nice -n 5 "$bin" train --config "$root/configs/$cfg.toml" --out "$out/$name" --force \
    --set run.steps="$steps" --set checkpoint.every="$steps" --set run.time_budget_s=3600 \
    --set sft.batch=8 "$@" >"$out/$name.log" 2>&1
  tail -n 1 "$out/$name.log"
  grep -i 'eval' "$out/$name.log" | tail -n 2
  summary "$out/$name"
}

for r in $runs; do
  case $r in
  openenv)
    "$bin" env serve --env tools/kbqa --port "$port" --option hops=1 >"$out/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 300); do grep -q "listening on" "$out/serve.log" && break; sleep 0.1; done
    train openenv openenv --set "env.options.url=\"http://127.0.0.1:$port\"" \
      --set sft.episodes=20 --set sft.steps=20 --set eval.episodes=8
    kill "$server"; wait "$server" 2>/dev/null
    ;;
  cooking) train cooking cooking --set sft.episodes=4 --set sft.steps=20 --set eval.episodes=4 ;;
  textworld) train textworld textworld --set sft.episodes=8 --set sft.steps=20 --set eval.episodes=4 ;;
  scienceworld) train scienceworld scienceworld --set sft.episodes=4 --set sft.steps=20 --set eval.episodes=4 ;;
  *) echo "unknown run $r" >&2; exit 2 ;;
  esac
done
