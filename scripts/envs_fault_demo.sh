#!/usr/bin/env bash
# Issue 12's fault demonstration with `turnwise train` on an OpenEnv server
# (docs/environments.md, "Faults"): turnwise's own server hosts tools/kbqa; a short run of
# configs/openenv.toml trains against it.
#   1. The server stops answering (SIGSTOP) during the rollout of RL step 2 and resumes
#      (SIGCONT) HANG_S = 7 s later: that step's requests time out (env.options.timeout_s =
#      5), its episodes (8, within env.max_failed_episodes = 8) fail, are recorded in
#      RUN/failed_episodes.jsonl and left out of the update; the run goes on and finishes.
#   2. The server is killed (SIGKILL) during the rollout of RL step 2 of another run and not
#      restarted: more than env.max_failed_episodes = 4 episodes fail in one step and the run
#      stops cleanly (a checkpoint, exit code 2, the error naming the URL).
#   3. The server is killed during the rollout of RL step 2 of an 8-step run and restarted
#      RESTART_S = 3 s later: the episodes of the steps that find it down fail (each step
#      within env.max_failed_episodes = 8) and are recorded, each such step waits 1, 2, 4, 8
#      s for the server, and the run trains again once it is back (a server this process has
#      reached before is no start-up error when a step opens new sessions).
# Usage: scripts/envs_fault_demo.sh [OUT_DIR]   (TURNWISE_BIN, PORT, HANG_S, KILL_DELAY,
#        RESTART_S, CASES="1 2 3" to override)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${TURNWISE_BIN:-$root/target/release/turnwise}
out=${1:-$root/runs/fault-demo}
port=${PORT:-18765}
url=http://127.0.0.1:$port
# The Python servers of this checkout (a binary built elsewhere would start its own tree's).
export TURNWISE_SERVERS=${TURNWISE_SERVERS:-$root/python/servers}
mkdir -p "$out"

serve() {
  "$bin" env serve --env tools/kbqa --port "$port" --option hops=1 >"$out/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 300); do grep -q "listening on" "$out/serve.log" 2>/dev/null && return 0; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
# Waits for RL step $2's metrics line in run folder $1, then sends signal $3 to the server
# mid-rollout of the next step.
signal_after_step() {
  until [ "$(cat "$1/metrics.jsonl" 2>/dev/null | grep -c failed_episodes)" -ge "$2" ]; do
    kill -0 "$trainer" 2>/dev/null || return 1
    sleep 0.05
  done
  sleep "${KILL_DELAY:-0.3}"
  kill -"$3" "$server"
  echo "demo: server sent SIG$3 after RL step $2 ($(date -u +%T))"
}
train() {
  "$bin" train --config "$root/configs/openenv.toml" --out "$1" --force \
    --set "env.options.url=\"$url\"" --set run.steps=4 --set run.time_budget_s=1800 \
    --set env.tasks_per_step=2 --set sft.episodes=20 --set sft.steps=10 --set sft.batch=8 \
    --set eval.episodes=4 "${@:2}" >"$1.log" 2>&1 &
  trainer=$!
}

want() { [[ " ${CASES:-1 2 3} " == *" $1 "* ]]; }

if want 1; then
echo "== 1. the server hangs for ${HANG_S:-7} s, then resumes: the run goes on =="
serve
train "$out/hang" --set env.max_failed_episodes=8 --set env.options.timeout_s=5
signal_after_step "$out/hang" 1 STOP
sleep "${HANG_S:-7}"; kill -CONT "$server"; echo "demo: server resumed ($(date -u +%T))"
wait "$trainer"; echo "demo: train exit code $?"
tail -n 1 "$out/hang.log"
echo "failed episodes recorded: $(wc -l <"$out/hang/failed_episodes.jsonl")"
head -n 1 "$out/hang/failed_episodes.jsonl"
grep -o '"step":[0-9]*\|"failed_episodes":[0-9]*\|"return":[-0-9.e]*\|"success":[0-9.e]*' "$out/hang/metrics.jsonl" | paste -sd' ' | fold -w 160
kill -9 "$server"; wait "$server" 2>/dev/null
fi

if want 2; then
echo "== 2. kill, no restart: more than env.max_failed_episodes fail, the run stops =="
serve
train "$out/stop" --set env.max_failed_episodes=4
signal_after_step "$out/stop" 1 KILL
wait "$trainer"; echo "demo: train exit code $?"
tail -n 3 "$out/stop.log"
echo "failed episodes recorded: $(wc -l <"$out/stop/failed_episodes.jsonl")"
echo "checkpoints: $(ls "$out/stop/checkpoints" | paste -sd' ')"
fi

if want 3; then
echo "== 3. kill, restart ${RESTART_S:-3} s later: the run goes on =="
serve
train "$out/restart" --set env.max_failed_episodes=8 --set run.steps=8
signal_after_step "$out/restart" 1 KILL
wait "$server" 2>/dev/null
sleep "${RESTART_S:-3}"; serve; echo "demo: server restarted ($(date -u +%T))"
wait "$trainer"; echo "demo: train exit code $?"
tail -n 1 "$out/restart.log"
echo "failed episodes recorded: $(wc -l <"$out/restart/failed_episodes.jsonl")"
grep -o '"step":[0-9]*\|"failed_episodes":[0-9]*\|"return":[-0-9.e]*\|"success":[0-9.e]*' "$out/restart/metrics.jsonl" | paste -sd' ' | fold -w 160
kill -9 "$server"; wait "$server" 2>/dev/null
fi
