#!/usr/bin/env bash
# Fuzz the log and shell decoders (client parameters, control messages, container log lines)
# for FUZZTIME each.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-30s}"
for target in ./server/logs:FuzzSplitTimestamp ./server/logs:FuzzParseRequest \
  ./server/shell:FuzzParseControl ./server/shell:FuzzParseOpen; do
  pkg="${target%%:*}" name="${target##*:}"
  echo "== $name ($pkg, $FUZZTIME)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"
done
