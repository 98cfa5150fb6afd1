#!/usr/bin/env bash
# Prints the path of the pinned golangci-lint, building it once into ~/.cache/yard/tools (outside
# the checkout, so a fresh clone reuses it) from the Go module proxy.
set -euo pipefail
version=v2.15.0
dir="${XDG_CACHE_HOME:-$HOME/.cache}/yard/tools/golangci-lint-$version"
if [ ! -x "$dir/golangci-lint" ]; then
  echo "golangci-lint: building $version into $dir (once)" >&2
  mkdir -p "$dir"
  (cd "$(mktemp -d)" && GOBIN="$dir" GOFLAGS= go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version") >&2
fi
echo "$dir/golangci-lint"
