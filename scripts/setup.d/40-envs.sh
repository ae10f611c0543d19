#!/usr/bin/env bash
# Environment servers (issue 12): openenv-core, textworld and scienceworld in their own
# venv (their pins - gradio, spacy, numpy 2 - stay apart from the torch venv), and a Java
# runtime for ScienceWorld when none is installed. Idempotent: a second run only checks.
set -euo pipefail
cache=${TURNWISE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/turnwise}
venv=$cache/venv-envs
py=$venv/bin/python
# websockets (BSD-3-Clause) is what python/servers speak HTTP and WebSocket with (openenv-core
# needs it too: its client); openenv-core is the protocol's reference and the tests' client.
OPENENV=0.3.0 TEXTWORLD=1.7.0 SCIENCEWORLD=1.2.3 PYTEST=8.4.2 WEBSOCKETS=17.4
want="openenv-core==$OPENENV textworld==$TEXTWORLD scienceworld==$SCIENCEWORLD pytest==$PYTEST websockets==$WEBSOCKETS"
if ! "$py" -c "
import importlib.metadata as m
assert m.version('openenv-core') == '$OPENENV'
assert m.version('textworld') == '$TEXTWORLD'
assert m.version('scienceworld') == '$SCIENCEWORLD'
assert m.version('websockets') == '$WEBSOCKETS'
import openenv.core, textworld, scienceworld, websockets, pytest" 2>/dev/null; then
  echo "setup-envs: installing $want into $venv (once)" >&2
  python3 -m venv "$venv"
  "$py" -m pip install -q --upgrade pip
  "$py" -m pip install -q $want
fi
if ! command -v java >/dev/null 2>&1; then
  echo "setup-envs: installing a Java runtime for ScienceWorld" >&2
  apt-get update -q && apt-get install -y -q default-jre-headless
fi
echo "setup-envs: $("$py" -c 'import sys; print(sys.executable)') with $want; $(java -version 2>&1 | head -1)" >&2
