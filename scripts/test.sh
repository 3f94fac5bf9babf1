#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace (unit, integration and end-to-end tests
# against the real plugin binaries), the Python SDK's tests, the platform API from a Python
# (grpcio) client, the plugin conformance harness over every bundled plugin and the Python
# example plugin, then the TypeScript SDK and client (scripts/test-typescript.sh) and the Go SDK
# with the plain go-plugin test plugins (scripts/test-go.sh). Installs nothing system-wide.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo build --workspace --bins (end-to-end tests run the built plugin binaries)"
cargo build --workspace --bins
# Python plugin SDK: a project-local venv with pinned packages, stubs generated from proto/.
# Before the Rust tests: an end-to-end test runs the Python example plugin.
echo "== Python plugin SDK: setup"
plugin-sdk/python/scripts/setup.sh
echo "== cargo test (workspace; the PostgreSQL tests on a throwaway cluster)"
scripts/with-postgres.sh cargo test --workspace --all-targets

echo "== Python plugin SDK: ruff and mypy"
PY_EXTRA="../../tests/python-client ../../plugins/webhook/tests/verify_standard_webhooks.py"
(cd plugin-sdk/python && .venv-py/bin/ruff check . $PY_EXTRA \
  && .venv-py/bin/ruff format --check . $PY_EXTRA \
  && .venv-py/bin/mypy src tests examples $PY_EXTRA)
echo "== Python plugin SDK: pytest"
# Any non-zero status fails the run, including pytest's 5 ("no tests ran").
plugin-sdk/python/.venv-py/bin/python -m pytest -p no:cacheprovider -q plugin-sdk/python/tests
echo "== platform API from Python: grpcio on default options over the Unix socket"
plugin-sdk/python/.venv-py/bin/python -m pytest -p no:cacheprovider -q tests/python-client
echo "== conformance harness: Python example plugin"
cargo build -p switchyard-conformance
target/debug/switchyard-conformance plugin-sdk/python/switchyard-plugin-pyexample
echo "== conformance harness: bundled plugins"; for p in target/debug/switchyard-plugin-*; do [[ "$p" == *.d ]] || target/debug/switchyard-conformance "$p"; done
echo "== TypeScript plugin SDK and platform client"
scripts/test-typescript.sh
echo "== Go plugin SDK and plain go-plugin plugins"
scripts/test-go.sh
scripts/test-console.sh
