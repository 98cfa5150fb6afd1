#!/usr/bin/env bash
# Watch benchmark: WATCH_BENCH_CLIENTS (default 1000) clients watch pods while they churn at
# WATCH_BENCH_RATE changes/s (default 50) for WATCH_BENCH_DURATION (default 30s), first through
# Yard's shared upstream (bin/yard), then each with its own apiserver watch, on one private local
# control plane. docs/benchmarks.md ("Watch") quotes this output.
set -euo pipefail
cd "$(dirname "$0")/.."
clients="${WATCH_BENCH_CLIENTS:-1000}"
want=$((clients * 3 + 512))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
  ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
go build -o bin/yard ./server/cmd/yard # always: a stale binary measures old code
mkdir -p "${HOME}/.cache/yard"
go build -o "${HOME}/.cache/yard/benchwatch" ./bench/watch
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sm), load $(cut -d' ' -f1-3 /proc/loadavg)"
"${HOME}/.cache/yard/benchwatch" -clients "$clients" -rate "${WATCH_BENCH_RATE:-50}" \
  -duration "${WATCH_BENCH_DURATION:-30s}" -yard bin/yard
