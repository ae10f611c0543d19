#!/usr/bin/env bash
# Headless Chromium for the HTML report's browser test (scripts/test.d/60-report-browser.sh):
# Debian's `chromium` package. Idempotent: skips when a chromium binary is on PATH.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "setup: chromium present ($(chromium --version 2>/dev/null | head -1))" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "setup: installed $(chromium --version 2>/dev/null | head -1)" >&2
