#!/usr/bin/env bash
# Sets up the Python SDK on a fresh clone: a project-local virtualenv (.venv-py), the pinned
# packages of requirements.txt, the SDK installed editable, and the gRPC stubs generated from
# the repository's proto/ into src/switchyard_plugin/_generated/ (never committed).
# Idempotent: a second run only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv-py
STAMP=$VENV/.requirements.sha256

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
want=$(sha256sum requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
  echo "$want" > "$STAMP"
fi
"$VENV/bin/python" -m switchyard_plugin gen --force
