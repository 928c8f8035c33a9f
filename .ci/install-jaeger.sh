#!/usr/bin/env bash
# Builds the Jaeger v2 all-in-one binary (the v1.x module tags carry it) into the Go bin dir, once.
# `go install ...@v1.76.0` refuses the module because its go.mod has replace directives, so the
# module source is fetched from the Go module proxy and built inside its own module.
set -euo pipefail
JAEGER_VERSION=v1.76.0
BIN="$(go env GOPATH)/bin/jaeger"
if [ -x "$BIN" ]; then echo "jaeger already built: $BIN"; exit 0; fi
mkdir -p "$(dirname "$BIN")"
SRC=$(cd /tmp && go mod download -json "github.com/jaegertracing/jaeger@${JAEGER_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
WORK=$(mktemp -d)
cp -r "$SRC/." "$WORK/"
chmod -R u+w "$WORK"
(cd "$WORK" && go build -o "$BIN" ./cmd/jaeger)
rm -rf "$WORK"
echo "built $BIN"
