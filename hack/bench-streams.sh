#!/usr/bin/env bash
# Logs and shells benchmarks (docs/benchmarks.md, "Logs and shells"): log lines/s through one
# channel to a fast client against the apiserver's own stream, server heap with a stalled log
# client, and keystroke echo round trips through Yard against client-go's executor (kubectl
# exec) to the same pod, idle and while a log channel floods on the same socket.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${STREAMS_BENCH_RUNS:-1}"
go test -run '^$' -bench 'BenchmarkLogThroughput|BenchmarkStalledClientMemory|BenchmarkKeystrokeEcho' \
  -benchtime 1x -count "$runs" -timeout 20m ./server/shell/integration/
# The server's own work per log line, without the apiserver and the socket.
go test -run '^$' -bench 'BenchmarkStreamLines' -benchtime 5x -count "$runs" ./server/logs/
