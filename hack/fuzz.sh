#!/usr/bin/env bash
# Long fuzzing: every decoder's go test -fuzz target for FUZZTIME each, then the long interop run.
set -euo pipefail
cd "$(dirname "$0")/.."
export FUZZTIME="${FUZZTIME:-60s}"
for script in crdt/fuzz.sh crdt/interop/fuzz-long.sh hack/fuzz-mux.sh hack/fuzz-streams.sh server/room/fuzz.sh; do
  [ -x "$script" ] || { echo "fuzz: $script is missing" >&2; exit 1; }
  echo "== $script (FUZZTIME=$FUZZTIME)"
  "$script"
done
