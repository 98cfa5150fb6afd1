#!/usr/bin/env bash
# Fuzz the multiplexer's frame and control decoders for FUZZTIME (default 60s). New failing
# inputs land in server/mux/testdata/fuzz/, which is tracked and replayed by every go test.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -fuzz '^FuzzDecodeFrame$' -fuzztime "${FUZZTIME:-60s}" ./server/mux
