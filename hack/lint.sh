#!/usr/bin/env bash
# Formatting and static checks for Go and TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$bad" ]; then echo "not gofmt-formatted:"; echo "$bad"; exit 1; fi
go vet ./...
npx --no-install tsc --noEmit -p client/tsconfig.json
