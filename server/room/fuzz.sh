#!/usr/bin/env bash
# Fuzz what clients send into a room for FUZZTIME; new finds land in the Go fuzz cache, crashers
# in server/room/testdata/fuzz/ (tracked, replayed by every go test).
set -euo pipefail
cd "$(dirname "$0")/../.."
go test -run '^$' -fuzz '^FuzzClientMessage$' -fuzztime "${FUZZTIME:-60s}" ./server/room
