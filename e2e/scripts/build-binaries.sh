#!/usr/bin/env bash
# Builds the local control plane's five binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) once into a cache outside the checkout, keyed by the pinned versions, so a
# fresh clone (CI) reuses them. Skips everything already present. Prints where they are.
#
#   YARD_CLUSTER_BIN   overrides the target directory (the Go harness reads the same variable)
#   FORCE=1            rebuilds even when the binaries exist
set -euo pipefail
cd "$(dirname "$0")/.."   # e2e/

# Keep these in step with e2e/cpbuild/go.mod and e2e/controlplane/binaries.go.
K8S_VERSION=v1.34.4
KWOK_VERSION=v0.7.0
bin="${YARD_CLUSTER_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/yard/k8s-${K8S_VERSION}/bin}"
all=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# KWOK carries a patch from this repository: rebuild it when the patch changes.
patch_sum="$(sha256sum cpbuild/kwokpatch/sandbox.go.in | cut -d' ' -f1)"
missing=()
for b in "${all[@]}"; do
  if [ "${FORCE:-0}" = 1 ] || [ ! -x "$bin/$b" ]; then
    missing+=("$b")
  elif [ "$b" = kwok ] && [ "$(cat "$bin/kwok.patch-sha256" 2>/dev/null)" != "$patch_sum" ]; then
    missing+=("$b")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "cluster-bins: up to date in $bin"
  exit 0
fi
echo "cluster-bins: building ${missing[*]} into $bin (a cold build takes several minutes)"
mkdir -p "$bin"
stage="$(mktemp -d "$bin/.build.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

major="${K8S_VERSION#v}"; major="${major%%.*}"
minor="${K8S_VERSION#v*.}"; minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$K8S_VERSION -X $vpkg.gitMajor=$major -X $vpkg.gitMinor=$minor"
ldflags+=" -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"

want() { local b; for b in "${missing[@]}"; do [ "$b" = "$1" ] && return 0; done; return 1; }
step() { # name, command...: runs it and prints how long it took
  local name="$1" start=$SECONDS; shift
  "$@"
  echo "cluster-bins: $name built in $((SECONDS - start))s"
}

total=$SECONDS
k8s=()
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  want "$b" && k8s+=("k8s.io/kubernetes/cmd/$b")
done
if [ ${#k8s[@]} -gt 0 ]; then
  step "${k8s[*]##*/}" bash -c 'cd cpbuild && go build -trimpath -ldflags "$1" -o "$2/" "${@:3}"' _ "$ldflags" "$stage" "${k8s[@]}"
fi
if want etcd; then
  step etcd bash -c 'cd cpbuild && go build -trimpath -ldflags "-s -w" -o "$1/etcd" ./etcd' _ "$stage"
fi
if want kwok; then
  # KWOK's own module (its dependency versions differ from Kubernetes'), copied out of the
  # module cache with cpbuild/kwokpatch/sandbox.go.in added to its server package and the two
  # upstream methods it replaces renamed: per-pod sandboxes and log files, exit codes, real TTY
  # sessions (see that file).
  kwokdir="$(cd / && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -f "$kwokdir/go.mod" ] || { echo "cluster-bins: kwok $KWOK_VERSION source not found" >&2; exit 1; }
  src="$stage/kwok-src"
  cp -r "$kwokdir" "$src" && chmod -R u+w "$src"
  srv="$src/pkg/kwok/server"
  sed -i 's/^func (s \*Server) ExecInContainer(/func (s *Server) execInContainerUpstream(/' "$srv/debugging_exec.go"
  sed -i 's/^func (s \*Server) GetContainerLogs(/func (s *Server) getContainerLogsUpstream(/' "$srv/debugging_logs.go"
  grep -q '^func (s \*Server) execInContainerUpstream(' "$srv/debugging_exec.go" &&
    grep -q '^func (s \*Server) getContainerLogsUpstream(' "$srv/debugging_logs.go" ||
    { echo "cluster-bins: kwok $KWOK_VERSION no longer matches cpbuild/kwokpatch" >&2; exit 1; }
  cp cpbuild/kwokpatch/sandbox.go.in "$srv/yard_sandbox.go"
  step kwok bash -c 'cd "$1" && GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$2" -o "$3/kwok" ./cmd/kwok' _ "$src" "${KWOK_VERSION#v}" "$stage"
fi
for b in "${missing[@]}"; do mv -f "$stage/$b" "$bin/$b"; done
if want kwok; then echo "$patch_sum" >"$bin/kwok.patch-sha256"; fi
echo "cluster-bins: done in $((SECONDS - total))s; binaries in $bin"
