#!/usr/bin/env bash
# Write-path benchmark: an apply of WRITE_BENCH_OBJECTS (default 100) ConfigMaps through Yard's
# POST /api/apply against client-go making the same server-side-apply calls directly, as the same
# impersonated user, WRITE_BENCH_RUNS (default 5) times each on one private local control plane;
# then the audit trail's cost per write. docs/benchmarks.md ("Writes") quotes this output.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p "${HOME}/.cache/yard"
go build -o "${HOME}/.cache/yard/benchwrite" ./bench/write
echo "machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sm), load $(cut -d' ' -f1-3 /proc/loadavg)"
"${HOME}/.cache/yard/benchwrite" -objects "${WRITE_BENCH_OBJECTS:-100}" -runs "${WRITE_BENCH_RUNS:-5}"
