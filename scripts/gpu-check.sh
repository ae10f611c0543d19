#!/usr/bin/env bash
# GPU checks (issue #10 item 5): one prepared script for a machine with an NVIDIA GPU and a
# CUDA build of libtorch 2.11 on the library path. docs/model.md "GPU" holds its figures.
#
#   scripts/gpu-check.sh [smoke|full|all]
#
# smoke: the CUDA backend loads; a random tiny model scores the same on CPU f32, CUDA f32 and
#        CUDA bf16; the built-in default job trains a few steps with run.device = "cuda".
# full:  SmolLM2-135M-Instruct (the GGUF): log-prob parity of CUDA f32 / bf16 against CPU f32,
#        turnwise and transformers (scripts/gpu_parity.py); the GPU job (configs/smollm2.toml
#        with run.device = "cuda", model.dtype = "bf16") for as many steps as fit in
#        TW_JOB_SECONDS; `turnwise bench model` on CUDA bf16 against transformers, at the
#        bench's default sizes and at a larger batch.
#
# Environment: TW_BIN (default target/release/turnwise), TW_MODEL (the GGUF), TW_PYTHON
# (python3 with torch, transformers, gguf), OUT (output folder, default runs/gpu-check),
# TW_JOB_SECONDS (default 150), TW_BENCH_ROUNDS (default 5). Every step has a time limit
# and its own log; a failing step is reported and the next one still runs. Everything
# lands in OUT/gpu-check.log (the summary) and OUT/gpu-check.tar.gz (every log and metric).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${TW_BIN:-$root/target/release/turnwise}
model=${TW_MODEL:-$root/.models/SmolLM2-135M-Instruct.Q4_1.gguf}
py=${TW_PYTHON:-python3}
out=${OUT:-$root/runs/gpu-check}
job_s=${TW_JOB_SECONDS:-150}
rounds=${TW_BENCH_ROUNDS:-5}
phase=${1:-all}
work=$(mktemp -d)
logs=$work/logs
mkdir -p "$out" "$logs"
summary=$out/gpu-check.log

say() { echo "== $(date +%T) $*" | tee -a "$summary"; }

# step NAME SECONDS CMD...: runs CMD with a time limit, its output in logs/NAME.log; the
# summary gets the exit status, the wall time and the log's last lines.
step() {
  local name=$1 limit=$2
  shift 2
  say "$name: $*"
  local t0 rc
  t0=$(date +%s%N)
  timeout "$limit" "$@" >"$logs/$name.log" 2>&1
  rc=$?
  say "$name: exit $rc after $((($(date +%s%N) - t0) / 1000000)) ms"
  grep -v '^\s*$' "$logs/$name.log" | tail -n "${TAIL:-6}" | sed 's/^/   /' | tee -a "$summary"
  return $rc
}

smoke() {
  step gpu 30 bash -c "nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; $py -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))'"
  step tiny-init 60 "$bin" model init --preset tiny --vocab-size 512 --out "$work/tiny" --seed 1
  local ids
  ids=$(seq -s, 1 7 400)
  for d in "cpu f32" "cuda f32" "cuda bf16"; do
    set -- $d
    step "tiny-logprobs-$1-$2" 60 bash -c "'$bin' model logprobs --model '$work/tiny' --token-ids $ids --device $1 --dtype $2 > '$work/tiny-$1-$2.json'"
  done
  echo "$ids" >"$work/tiny-ids.txt"
  TAIL=3 step tiny-parity 60 "$py" "$root/scripts/gpu_parity.py" "$work/tiny" "$work/tiny-ids.txt" \
    "turnwise cpu f32=$work/tiny-cpu-f32.json" "turnwise cuda f32=$work/tiny-cuda-f32.json" \
    "turnwise cuda bf16=$work/tiny-cuda-bf16.json"
  TAIL=12 step default-job-cuda 240 "$bin" train --set 'run.device="cuda"' --set run.steps=6 \
    --out "$work/default-cuda"
  cp "$work/default-cuda/metrics.jsonl" "$logs/default-cuda-metrics.jsonl" 2>/dev/null
}

full() {
  [ -f "$model" ] || { say "no model at $model"; return 1; }
  step model-sha 30 sha256sum "$model"
  # A two-exchange chat (scripts/gpu_messages.json) rendered with the model's template.
  local ids=$work/ids.txt
  step chat-ids 60 bash -c "'$bin' tokenizer chat --model '$model' --messages '$root/scripts/gpu_messages.json' | '$py' -c \"import json,sys; print(','.join(map(str, json.load(sys.stdin)['ids'])))\" > '$ids'"
  for d in "cpu f32" "cuda f32" "cuda bf16"; do
    set -- $d
    step "logprobs-$1-$2" 120 bash -c "'$bin' model logprobs --model '$model' --token-ids \$(cat '$ids') --device $1 --dtype $2 --threads 8 > '$work/lp-$1-$2.json'"
  done
  TAIL=8 step parity 240 "$py" "$root/scripts/gpu_parity.py" "$model" "$ids" \
    "turnwise cpu f32=$work/lp-cpu-f32.json" "turnwise cuda f32=$work/lp-cuda-f32.json" \
    "turnwise cuda bf16=$work/lp-cuda-bf16.json" --transformers cpu:f32 cuda:f32 cuda:bf16
  TAIL=14 step smollm2-job-cuda $((job_s + 120)) "$bin" train --config "$root/configs/smollm2.toml" \
    --set 'run.device="cuda"' --set 'model.dtype="bf16"' --set "model.path=\"$model\"" \
    --set run.steps=200 --set "run.time_budget_s=$job_s" --out "$work/smollm2-cuda"
  cp "$work/smollm2-cuda/metrics.jsonl" "$logs/smollm2-cuda-metrics.jsonl" 2>/dev/null
  TAIL=5 step bench-model-cuda-bf16 240 "$bin" bench model --model "$model" --device cuda \
    --dtype bf16 --threads 8 --rounds "$rounds" --python "$py" \
    --script "$root/bench/transformers_worker.py"
  TAIL=5 step bench-model-cuda-bf16-large 240 "$bin" bench model --model "$model" --device cuda \
    --dtype bf16 --threads 8 --rounds "$rounds" --python "$py" --batch 16 --seq 512 \
    --prompts 64 --new-tokens 64 --script "$root/bench/transformers_worker.py"
}

say "gpu-check $phase: $bin, $model"
case $phase in
  smoke) smoke ;;
  full) full ;;
  all) smoke; full ;;
  *) echo "usage: $0 [smoke|full|all]" >&2; exit 2 ;;
esac
tar -czf "$out/gpu-check.tar.gz" -C "$work" logs
say "done; logs in $out/gpu-check.tar.gz"
