#!/usr/bin/env bash
# Multiplexer benchmarks: throughput on one socket, ping round trips idle and under a flood on the
# same socket, and bin/yard's memory per idle connection at MUX_BENCH_CONNS (default 10000).
# Medians of MUX_BENCH_RUNS (default 3) runs; docs/benchmarks.md quotes this output.
set -euo pipefail
cd "$(dirname "$0")/.."
conns="${MUX_BENCH_CONNS:-10000}"
runs="${MUX_BENCH_RUNS:-3}"
# Server and client each hold one descriptor per connection.
want=$((conns + 512))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
  ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
  echo "bench-mux: need $want open files, the hard limit is $(ulimit -Hn); run: ulimit -Hn $want (as root) or MUX_BENCH_CONNS=<fewer>" >&2
  exit 1
fi
[ -x bin/yard ] || go build -o bin/yard ./server/cmd/yard
mkdir -p "${HOME}/.cache/yard"
go build -o "${HOME}/.cache/yard/muxbench" ./bench/mux
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sm), load $(cut -d' ' -f1-3 /proc/loadavg)"
"${HOME}/.cache/yard/muxbench" -mode all -runs "$runs" -conns "$conns" -yard bin/yard
