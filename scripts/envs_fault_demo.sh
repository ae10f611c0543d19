#!/usr/bin/env bash
# Issue 12's fault demonstration with `turnwise train` on an OpenEnv server
# (docs/environments.md, "Faults"): turnwise's own server hosts tools/kbqa; a short run of
# configs/openenv.toml trains against it.
#   1. The server is killed (SIGKILL) during the rollout of RL step 2 and started again on
#      the same port 3 s later: that step's episodes fail, are recorded in
#      RUN/failed_episodes.jsonl and left out; the run goes on and finishes.
#   2. The server is killed again during a later run and not restarted: more than
#      env.max_failed_episodes episodes fail in one step and the run stops cleanly (a
#      checkpoint, exit code 1, the error naming the URL).
# Usage: scripts/envs_fault_demo.sh [OUT_DIR]   (TURNWISE_BIN, PORT to override)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${TURNWISE_BIN:-$root/target/release/turnwise}
out=${1:-$root/runs/fault-demo}
port=${PORT:-18765}
url=http://127.0.0.1:$port
mkdir -p "$out"

serve() {
  "$bin" env serve --env tools/kbqa --port "$port" --option hops=1 >"$out/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 300); do grep -q "listening on" "$out/serve.log" 2>/dev/null && return 0; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
# Waits for RL step $2's metrics line in run folder $1, then kills the server mid-rollout.
kill_after_step() {
  until [ "$(grep -c failed_episodes "$1/metrics.jsonl" 2>/dev/null || true)" -ge "$2" ]; do
    kill -0 "$trainer" 2>/dev/null || return 1
    sleep 0.05
  done
  sleep "${KILL_DELAY:-0.3}"
  kill -9 "$server"; wait "$server" 2>/dev/null
  echo "demo: server killed after RL step $2 ($(date -u +%T))"
}
train() {
  "$bin" train --config "$root/configs/openenv.toml" --out "$1" --force \
    --set "env.options.url=\"$url\"" --set run.steps=4 --set sft.episodes=40 --set sft.steps=20 \
    --set eval.episodes=8 "${@:2}" >"$1.log" 2>&1 &
  trainer=$!
}

echo "== 1. kill and restart: the run goes on =="
serve
train "$out/restart" --set env.max_failed_episodes=16
kill_after_step "$out/restart" 1
sleep 3; serve; echo "demo: server restarted on $url"
wait "$trainer"; echo "demo: train exit code $?"
echo "failed episodes recorded: $(wc -l <"$out/restart/failed_episodes.jsonl")"
head -n 1 "$out/restart/failed_episodes.jsonl"
grep -o '"step":[0-9]*\|"failed_episodes":[0-9]*\|"return":[-0-9.e]*\|"success":[0-9.e]*' "$out/restart/metrics.jsonl" | paste -sd' ' | fold -w 160
kill -9 "$server"; wait "$server" 2>/dev/null

echo "== 2. kill, no restart: more than env.max_failed_episodes fail, the run stops =="
serve
train "$out/stop"
kill_after_step "$out/stop" 1
wait "$trainer"; echo "demo: train exit code $?"
tail -n 3 "$out/stop.log"
echo "failed episodes recorded: $(wc -l <"$out/stop/failed_episodes.jsonl")"
ls "$out/stop" | grep -c '^step-' | sed 's/^/checkpoints: /'
