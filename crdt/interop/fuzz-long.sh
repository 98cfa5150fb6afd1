#!/usr/bin/env bash
# Long interop fuzzing against the real yjs: runs the JS -> Go, Go -> JS and mixed harnesses over
# fresh batches of seeds until FUZZTIME (default 60s; s/m/h suffixes) has passed. A failure prints
# the command that replays its batch.
set -euo pipefail
cd "$(dirname "$0")/../.."
fuzztime="${FUZZTIME:-60s}"
case "$fuzztime" in
  *h) secs=$(( ${fuzztime%h} * 3600 )) ;;
  *m) secs=$(( ${fuzztime%m} * 60 )) ;;
  *s) secs=${fuzztime%s} ;;
  *) secs=$fuzztime ;;
esac
batch="${INTEROP_SEEDS:-40}"
ops="${INTEROP_OPS:-400}"
# Start past the seeds `go test` uses, somewhere new each run unless INTEROP_FIRST_SEED is set.
first="${INTEROP_FIRST_SEED:-$(( 100000 + (RANDOM << 15 | RANDOM) ))}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go test -c -race -o "$tmp/interop.test" ./crdt/interop

end=$(( SECONDS + secs ))
seeds=0
while (( SECONDS < end )); do
  echo "seeds $first..$(( first + batch - 1 )) (ops $ops)"
  if ! INTEROP_FIRST_SEED=$first INTEROP_SEEDS=$batch INTEROP_OPS=$ops \
    "$tmp/interop.test" -test.run '^(TestJSToGo|TestGoToJS|TestMixedPeers)$' -test.count=1 -test.timeout=30m; then
    echo "interop fuzz failed; replay with:" >&2
    echo "  INTEROP_FIRST_SEED=$first INTEROP_SEEDS=$batch INTEROP_OPS=$ops go test -race -run '^(TestJSToGo|TestGoToJS|TestMixedPeers)\$' ./crdt/interop" >&2
    exit 1
  fi
  first=$(( first + batch ))
  seeds=$(( seeds + batch ))
done
echo "interop fuzz: $seeds seeds in each direction passed"
