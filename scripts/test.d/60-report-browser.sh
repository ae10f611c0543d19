#!/usr/bin/env bash
# The HTML report in a real browser: a small compare (2 methods x 2 seeds, tiny model,
# periodic evaluation), its report and one run's report opened in headless Chromium via
# the DevTools protocol; fails on any console error, exception, failed load or network
# request. Screenshots: target/report-check/*.png (look at them).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build -q -p turnwise-cli
bin="$root/target/debug/turnwise"
out="$root/target/report-check"
rm -rf "$out"
mkdir -p "$out"
python3 scripts/report_browser_check.py --self-test
tiny=(--set sft.steps=20 --set sft.episodes=20 --set model.d_model=16 --set model.layers=1
      --set model.heads=2 --set model.d_ff=32 --set run.steps=6 --set env.group_size=4
      --set env.tasks_per_step=2 --set env.max_turns=8 --set eval.episodes=6
      --set eval.max_turns=12 --set eval.every=2 --set checkpoint.every=2)
"$bin" compare --methods grpo,trloo --seeds 2 "${tiny[@]}" --out "$out/cmp" --jobs 2
"$bin" report "$out/cmp" --out "$out/report.html" --summary "$out/summary.json"
python3 scripts/report_browser_check.py "$out/report.html" "$out/report.png"
run="$out/cmp/runs/lmrl-maze-fo/trloo/seed-1"
test -s "$run/report.html"
python3 scripts/report_browser_check.py "$run/report.html" "$out/run-report.png"
