#!/usr/bin/env bash
# Fuzz the multiplexer for FUZZTIME (default 60s) per target: the frame and control decoders, then
# a live server fed arbitrary frame sequences. New failing inputs land in
# server/mux/testdata/fuzz/, which is tracked and replayed by every go test.
set -euo pipefail
cd "$(dirname "$0")/.."
for target in FuzzDecodeFrame FuzzServerFrames; do
  echo "-- $target"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "${FUZZTIME:-60s}" ./server/mux
done
