#!/usr/bin/env bash
# Every benchmark, each measured against its peer in the same run. Results are printed; the
# figures quoted in docs/benchmarks.md come from these scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
for script in bench/crdt/run.sh hack/bench-mux.sh e2e/scripts/bench.sh bench/rooms/run.sh hack/bench-watch.sh hack/bench-write.sh hack/bench-streams.sh hack/bench-ui.sh hack/bench-rooms-cluster.sh; do
  [ -x "$script" ] || { echo "bench: $script is missing" >&2; exit 1; }
  echo "== $script"
  "$script"
done
