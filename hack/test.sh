#!/usr/bin/env bash
# The whole test suite: Go (race detector on), then the Node tests (TypeScript client, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
timeout="${TEST_TIMEOUT:-40m}"

echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout "$timeout" ./...
echo "== node tests"
npm test
