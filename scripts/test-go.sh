#!/usr/bin/env bash
# The Go side of Switchyard: builds the Go SDK, its example plugin and the plain go-plugin test
# plugins (tests/go-plugins/), runs `go vet` and `go test` in every Go module, and runs the
# conformance harness over the example plugin and the plain go-plugin plugins (zero failures
# required; recommendations are printed). Expects the Rust binaries in target/debug
# (`cargo build --workspace --bins`); needs Go (the module proxy for the first download).
#
# The e2e tests that host these plugins through `switchyard serve`
# (`cargo test -p switchyard-e2e --test it go_plugins`) build the Go binaries themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="$ROOT/target/debug/go-plugins"
HARNESS="$ROOT/target/debug/switchyard-conformance"
[ -x "$HARNESS" ] || { echo "missing $HARNESS: run cargo build --workspace --bins first" >&2; exit 1; }
mkdir -p "$OUT"

modules=(plugin-sdk/go/gen plugin-sdk/go tests/go-plugins/relay tests/go-plugins/plain-v18 tests/go-plugins/plain-v14)
for m in "${modules[@]}"; do
  echo "== go vet / go test: $m"
  (cd "$m" && go vet ./... && go test -count=1 ./...)
done

echo "== go build"
(cd plugin-sdk/go && go build -o "$OUT/switchyard-plugin-go-example" ./example)
(cd tests/go-plugins/plain-v18 && go build -o "$OUT/plain-v18" .)
(cd tests/go-plugins/plain-v14 && go build -o "$OUT/plain-v14" .)

for plugin in switchyard-plugin-go-example plain-v18 plain-v14; do
  echo "== conformance: $plugin"
  "$HARNESS" "$OUT/$plugin"
done
echo "Go: every module vetted and tested, every plugin conformant"
