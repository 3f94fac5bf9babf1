#!/usr/bin/env bash
# The TypeScript packages: the plugin SDK (plugin-sdk/typescript) and the platform API client
# (clients/typescript). For each: install the pinned dependencies (npm ci), generate the stubs
# from proto/ and compile once (npm run build), lint (tsc --noEmit), then run the conformance
# harness over the TypeScript example plugins and both packages' tests (Node's test runner,
# against real plugin processes, a real `switchyard serve`, local HTTP receivers and an
# OTLP/gRPC trace receiver).
# Expects the cargo binaries already built: target/debug/switchyard,
# target/debug/switchyard-plugin-webhook and target/debug/switchyard-conformance.
set -euo pipefail
cd "$(dirname "$0")/.."

for bin in switchyard switchyard-plugin-webhook switchyard-conformance; do
  if [ ! -x "target/debug/$bin" ]; then
    echo "target/debug/$bin is missing: build the workspace's binaries first (cargo build --workspace --bins)" >&2
    exit 1
  fi
done

packages=(plugin-sdk/typescript clients/typescript)
for pkg in "${packages[@]}"; do
  echo "== $pkg: npm ci, build, lint"
  (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build && npm run --silent lint)
done

echo "== conformance harness: TypeScript example plugins"
target/debug/switchyard-conformance plugin-sdk/typescript/switchyard-plugin-tsexample
target/debug/switchyard-conformance plugin-sdk/typescript/switchyard-plugin-seed

for pkg in "${packages[@]}"; do
  echo "== $pkg: tests"
  (cd "$pkg" && npm test)
done
