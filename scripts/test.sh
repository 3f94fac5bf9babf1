#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace (unit, integration and end-to-end tests
# against the real plugin binaries), then the plugin conformance harness over every bundled
# plugin and the Python example plugin. Installs nothing system-wide.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (workspace)"
cargo test --workspace --all-targets
