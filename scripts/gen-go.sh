#!/usr/bin/env bash
# Regenerates the Go stubs under plugin-sdk/go/gen/ from proto/ (see buf.gen.yaml), with
# pinned tools: buf from npm, protoc-gen-go and protoc-gen-go-grpc from the Go module proxy.
# The stubs are committed; run this after changing a .proto file.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${SWITCHYARD_TOOLS:-/tmp/switchyard-tools}"
mkdir -p "$TOOLS/bin"
[ -x "$TOOLS/node_modules/.bin/buf" ] || npm install --silent --prefix "$TOOLS" @bufbuild/buf@1
GOBIN="$TOOLS/bin" go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN="$TOOLS/bin" go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
rm -rf plugin-sdk/go/gen/switchyard   # the generated code only; gen/go.mod and doc.go stay
PATH="$TOOLS/bin:$PATH" "$TOOLS/node_modules/.bin/buf" generate
echo "stubs written to plugin-sdk/go/gen/"
