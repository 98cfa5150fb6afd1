#!/usr/bin/env bash
# Chaos scenarios (not part of make test): each package below kills, stops or cuts off a part of
# a running Yard (replicas, Redis, the apiserver) while clients work, and asserts a guarantee.
# Every scenario logs one RESULT line (outcome, guarantee, figures); they are gathered at the
# end. docs/reliability.md records a run. CHAOS_RUN narrows the scenarios (go test -run).
set -uo pipefail
cd "$(dirname "$0")/.."
packages=(
  ./server/chaos/replica
  ./server/chaos/redisfault
)
out="$(mktemp -t yard-chaos.XXXXXX)"
trap 'rm -f "$out"' EXIT
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
status=0
for pkg in "${packages[@]}"; do
  echo "== $pkg"
  go test -tags chaos -count=1 -v -timeout "${CHAOS_TIMEOUT:-45m}" -run "${CHAOS_RUN:-.}" "$pkg" 2>&1 | tee -a "$out" || status=1
done
echo
echo "== results"
grep -o 'RESULT .*' "$out" | sed 's/^RESULT //' || true
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
