#!/usr/bin/env bash
# Rooms benchmarks (docs/benchmarks.md, "Rooms"): Yard against the y-websocket 2.1.0 server with
# the same stock yjs clients; see run.mjs for what is measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x /usr/bin/redis-server ] || { echo "redis-server missing: sudo apt-get install -y redis-server" >&2; exit 1; }
bin="${HOME}/.cache/yard/bench/yard"
mkdir -p "$(dirname "$bin")"
go build -o "$bin" ./server/cmd/yard
node bench/rooms/run.mjs --yard "$bin" "$@"
