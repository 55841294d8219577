#!/usr/bin/env bash
# Label Studio lives in its own virtual environment so that its pins never constrain
# the app's; the app talks to it only over HTTP with label-studio-sdk.
set -euo pipefail
VENV=${LS_VENV:-.ls-venv}
PY=${PYTHON:-python3}
if [ -x "$VENV/bin/label-studio" ] && [ -f "$VENV/.installed" ]; then
  echo "label studio env: present ($VENV)"
  exit 0
fi
echo "label studio env: installing into $VENV (a few minutes the first time)"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "label-studio>=1.20,<2"
touch "$VENV/.installed"
