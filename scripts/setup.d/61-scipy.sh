#!/usr/bin/env bash
# scipy in the project's Python venv: the reference for turnwise-report's statistics
# (scripts/test.d/61-report-stats.sh regenerates tests/fixtures/stats_scipy.json with it).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py="$root/.venv/bin/python"
if "$py" -c "import scipy" 2>/dev/null; then
  echo "setup: scipy present" >&2
  exit 0
fi
"$py" -m pip install -q "scipy>=1.11"
echo "setup: installed scipy $("$py" -c 'import scipy; print(scipy.__version__)')" >&2
