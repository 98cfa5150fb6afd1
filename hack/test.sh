#!/usr/bin/env bash
# The whole test suite: Go (race detector on), then the Node tests (TypeScript client, UI logic),
# then the browser tests (real Chromium against a real yard, Redis and the local control plane).
set -euo pipefail
cd "$(dirname "$0")/.."
timeout="${TEST_TIMEOUT:-40m}"

echo "== lint (gofmt, go vet, golangci-lint, tsc, eslint)"
hack/lint.sh
echo "== go test -race"
go test -race -count=1 -timeout "$timeout" ./...
echo "== node tests"
npm test
echo "== browser tests"
npm run test:e2e
