#!/usr/bin/env bash
# The soak (not part of make test): three replicas, SOAK_CLIENTS clients (default 500) for
# SOAK_DURATION (default 1h), as server/chaos/soak describes. The CSV files, the test's log and
# soak.png (heap, goroutines and delivery p99 over time) and each replica's heap profiles (after
# the warm-up and at the end, for go tool pprof -base) go to SOAK_OUT (default
# .yard/soak/<UTC time>); the summary ends with the run's RESULT line. docs/reliability.md
# records a run.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${SOAK_OUT:-.yard/soak/$(date -u +%Y%m%dT%H%MZ)}"
mkdir -p "$out"
SOAK_OUT="$(cd "$out" && pwd)"
export SOAK_OUT
# Every client is a socket in this process, and every replica holds one for each.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 8192 ]; then
  ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if ! command -v gnuplot >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null
  else
    echo "soak: gnuplot is missing; run: sudo apt-get install -y gnuplot-nox" >&2
    exit 1
  fi
fi
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "output: $SOAK_OUT"
go test -tags soak -count=1 -v -timeout "${SOAK_TIMEOUT:-100m}" -run '^TestSoak$' ./server/chaos/soak 2>&1 | tee "$SOAK_OUT/test.log"
status=${PIPESTATUS[0]}
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -s "$SOAK_OUT/metrics.csv" ] && [ -s "$SOAK_OUT/latency.csv" ]; then
  gnuplot -e "dir='$SOAK_OUT'" hack/soak.gnuplot && echo "graph: $SOAK_OUT/soak.png"
fi
echo
echo "== result"
grep -o 'RESULT .*' "$SOAK_OUT/test.log" | sed 's/^RESULT //' || true
exit "$status"
