#!/usr/bin/env bash
# Rooms on a Redis Cluster: ROOMS (default 10000) rooms spread over three Yard replicas on a
# six-node Redis Cluster (server/internal/redistest), each with one connected client and an
# acknowledged edit; prints Redis memory and CPU per room (created, idle over IDLE, per edit over
# EDIT_WINDOW), the replicas' Redis connections and RSS. docs/benchmarks.md ("Redis Cluster")
# quotes this output.
set -euo pipefail
cd "$(dirname "$0")/.."
rooms="${ROOMS:-10000}"
# The benchmark holds a socket per room, each replica its rooms' sockets and its log readers'
# Redis connections, and each redis-server (which inherits the limit) the replicas' connections.
want=$((rooms + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
  ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
go build -o bin/yard ./server/cmd/yard # always: a stale binary measures old code
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sm), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
ROOMS="$rooms" YARD_BIN="$PWD/bin/yard" go test -run '^$' -bench RoomsOnCluster -benchtime 1x \
  -timeout 30m -v ./server/room/integration
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
