#!/usr/bin/env bash
# Local control plane figures for docs/benchmarks.md: warm start-to-ready time (binaries built;
# ready = node Ready, default ServiceAccount, every demo pod Running) and the resident memory of
# the whole control plane (etcd, apiserver, controller-manager, scheduler, KWOK and the
# supervisor with the log generator), sampled after it settles. RUNS (default 3) runs; medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${RUNS:-3}"
settle="${SETTLE:-20}"
e2e/scripts/build-binaries.sh >/dev/null
work="$(mktemp -d "${TMPDIR:-/tmp}/yard-bench-cp.XXXXXX")"
bin="$work/localcluster"
go build -o "$bin" ./e2e/cmd/localcluster
cleanup() { "$bin" down -dir "$work/state" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

rss_kb() { # sum of VmRSS over the supervisor and every recorded control-plane pid
  local total=0 pid f
  for f in "$work/state/localcluster.pid" "$work"/state/pids/*.pid; do
    pid="$(cut -d' ' -f1 "$f")"
    [ -r "/proc/$pid/status" ] || continue
    total=$((total + $(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")))
  done
  echo "$total"
}
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

starts=(); rsss=()
for i in $(seq "$runs"); do
  t0=$(date +%s.%N)
  "$bin" up -dir "$work/state" >/dev/null
  t1=$(date +%s.%N)
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}')
  sleep "$settle"
  r=$(rss_kb)
  printf 'run %d: start-to-ready %.1f s, RSS %d MiB\n' "$i" "$s" $((r / 1024))
  starts+=("$s"); rsss+=("$r")
  "$bin" down -dir "$work/state" >/dev/null
done
printf 'local control plane: start-to-ready median %.1f s (target <= 30 s), RSS median %d MiB over %d runs\n' \
  "$(printf '%s\n' "${starts[@]}" | median)" $(( $(printf '%s\n' "${rsss[@]}" | median | cut -d. -f1) / 1024 )) "$runs"
