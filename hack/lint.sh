#!/usr/bin/env bash
# Formatting and static checks for Go and TypeScript: gofmt, go vet, golangci-lint (.golangci.yml:
# the import rules of docs/architecture.md, unused code, error wrapping), the TypeScript type
# check and ESLint's React hooks rules. make lint runs it; make test runs it before the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$bad" ]; then echo "not gofmt-formatted:"; echo "$bad"; exit 1; fi
go vet ./...
golangci_lint="$(hack/golangci-lint.sh)"
"$golangci_lint" run ./...
npx --no-install tsc --noEmit -p client/tsconfig.json
npx --no-install eslint client/src
echo "lint: ok"
