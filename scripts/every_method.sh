#!/usr/bin/env bash
# Short `turnwise train` runs of every registered credit method on a built-in environment
# that provides its inputs (docs/methods.md, "Where each method trains"). Prints one line
# per method: environment, warm-start and final evaluation, RL steps, seconds.
#
#   scripts/every_method.sh [OUT_DIR] [METHOD...]     (release build: target/release/turnwise)
#   TURNWISE_BIN, STEPS (10) and EXTRA (more --set arguments, after the common ones, e.g.
#   EXTRA="--set critic.warmup_steps=5") to override.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TURNWISE_BIN:-target/release/turnwise}
OUT=${1:-runs/every-method}
shift || true
STEPS=${STEPS:-10}

# Common short-run settings: RL steps, a lighter warm start, a fixed evaluation.
SHORT=(--set "run.steps=$STEPS" --set run.time_budget_s=0 --set checkpoint.every=0
       --set sft.episodes=200 --set sft.steps=200 --set eval.every=0)
MAZE=(--config configs/maze.toml --set env.tasks_per_step=4 --set eval.episodes=25)
# configs/sokoban.toml with the settings it had when these rows were measured (letters,
# noisy demos, 4 groups, no dynamic sampling; the file now holds the Sokoban grid's).
RAGEN=(--config configs/sokoban.toml --set eval.episodes=32 --set 'model.pieces="letters"'
       --set sft.noise=0.5 --set env.tasks_per_step=4 --set curricula.dynamic_sampling=false)
FROZEN=("${RAGEN[@]}" --set 'env.name="ragen/frozenlake"' --set env.options.invalid_penalty=0.0)
TRY=("${RAGEN[@]}" --set 'env.name="try-again"' --set sampling.max_action_tokens=24
     --set model.max_context=384 --set eval.max_turns=5)
MATH=("${RAGEN[@]}" --set 'env.name="math/arith"' --set sampling.max_action_tokens=24
      --set model.max_context=256 --set env.max_turns=1 --set eval.max_turns=1)
# configs/kbqa.toml: one hop (search, open, answer), 1024-token contexts.
KBQA=(--config configs/kbqa.toml --set eval.episodes=16)

run() {
  local method=$1; shift
  local dir="$OUT/$method"
  rm -rf "$dir"
  local t0=$(date +%s.%N)
  if "$BIN" train "${SHORT[@]}" "$@" --set "credit.method=\"$method\"" --out "$dir" \
       > "$dir.log" 2>&1; then
    local t1=$(date +%s.%N)
    python3 - "$dir" "$method" "$t0" "$t1" <<'PY'
import json, sys
d, m = sys.argv[1], sys.argv[2]
secs = float(sys.argv[4]) - float(sys.argv[3])
lines = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
ws = next((l["eval"] for l in lines if l.get("phase") == "warm_start"), None)
fin = next((l for l in lines if l.get("phase") == "final"), None)
steps = [l for l in lines if "step" in l and "phase" not in l]
vl = [round(l["value_loss"], 3) for l in steps if "value_loss" in l]
f = fin["eval"]
w = f"{ws['success_rate']:.2f}/{ws['mean_return']:.2f}" if ws else "-"
print(f"{m:22s} warm {w:12s} final {f['success_rate']:.2f}/{f['mean_return']:.2f} "
      f"steps {len(steps)} {secs:.0f}s" + (f" value_loss {vl}" if vl else ""))
PY
  else
    echo "$method FAILED: $(tail -3 "$dir.log")"
  fi
}

mkdir -p "$OUT"
declare -A CASES=(
  [grpo]=MAZE [dr_grpo]=MAZE [rloo]=MAZE [reinforce_pp]=MAZE [reinforce_pp_tokens]=MAZE
  [trloo]=MAZE [turn_mean_baseline]=MAZE [gigpo]=MAZE [pre_grpo]=MAZE [mapo]=MAZE
  [over_turn_mask]=MAZE [dapo_overlong]=MAZE [hiper_hae]=MAZE [archer]=MAZE
  [turn_level_gae]=MAZE [a_grae]=FROZEN [disco]=FROZEN [seeupo]=FROZEN [scrl]=MATH
  [ufo_reward]=TRY [igpo]=TRY [a2tgpo]=TRY [siop]=TRY [pbsd]=TRY [matchtir]=KBQA
)
ORDER=(grpo dr_grpo rloo reinforce_pp reinforce_pp_tokens trloo turn_mean_baseline gigpo
       a_grae pre_grpo mapo scrl disco seeupo over_turn_mask ufo_reward dapo_overlong igpo
       a2tgpo siop pbsd matchtir hiper_hae archer turn_level_gae)
[ $# -gt 0 ] && ORDER=("$@")
for m in "${ORDER[@]}"; do
  case ${CASES[$m]} in
    MAZE) args=("${MAZE[@]}") ;;
    FROZEN) args=("${FROZEN[@]}") ;;
    MATH) args=("${MATH[@]}") ;;
    TRY) args=("${TRY[@]}") ;;
    KBQA) args=("${KBQA[@]}") ;;
  esac
  extra=()
  [ "$m" = seeupo ] && extra=(--set 'loss.ratio="sequence"' --set 'loss.agg="seq-mean-token-mean"')
  # shellcheck disable=SC2206
  [ -n "${EXTRA:-}" ] && extra+=(${EXTRA})
  echo -n "[${CASES[$m]}] "
  run "$m" "${args[@]}" "${extra[@]}"
done
