#!/usr/bin/env bash
# Runs every `go test -fuzz` target under crdt/ for FUZZTIME each (default 60s). New crashers land
# in the package's testdata/fuzz/<target>/ and fail the run; commit them with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-60s}"
failed=0
while IFS= read -r pkg; do
  dir="$(go list -f '{{.Dir}}' "$pkg")"
  targets="$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)"
  for target in $targets; do
    echo "== $pkg $target ($fuzztime)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
      echo "FAIL: $pkg $target" >&2
      failed=1
    fi
  done
done < <(go list ./crdt/...)
exit "$failed"
